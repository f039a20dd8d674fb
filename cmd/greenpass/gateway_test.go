package main

import (
	"bufio"
	"context"
	"io"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// A newcomer watches a sync end to end: the demo gateway prints the sync
// command, and that command publishes every DSC it serves.
func TestGatewayDemo(t *testing.T) {
	dir := t.TempDir()
	anchor := filepath.Join(dir, "anchor.pem")
	pr, pw := io.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"gateway", "demo", "--addr", "127.0.0.1:0", "--anchor", anchor, "--countries", "de,at", "--dscs", "2"},
			stdio{strings.NewReader(""), pw, io.Discard})
		pw.Close()
	}()
	defer func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("gateway demo: exit %d", code)
		}
	}()
	lines := bufio.NewScanner(pr)
	var command string
	for lines.Scan() {
		if strings.HasPrefix(strings.TrimSpace(lines.Text()), "greenpass sync") {
			command = strings.TrimSpace(lines.Text())
			break
		}
	}
	go io.Copy(io.Discard, pr)
	m := regexp.MustCompile(`--source (\S+) --trust-anchor (\S+)`).FindStringSubmatch(command)
	if m == nil || m[2] != anchor {
		t.Fatalf("printed command %q", command)
	}
	code, out, errText := runCLI(t, nil, "sync", "--data", filepath.Join(dir, "data"), "--source", m[1], "--trust-anchor", m[2], "--dry-run")
	if code != 0 || !strings.Contains(out, "4 DSC") {
		t.Fatalf("sync against the demo: exit %d\n%s%s", code, out, errText)
	}
	if code, _, _ := runCLI(t, nil, "gateway", "demo", "--countries", "Germany"); code != exitUsage {
		t.Fatalf("bad --countries: exit %d", code)
	}
}
