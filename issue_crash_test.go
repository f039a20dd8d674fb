package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/greenpass-dcc/greenpass/auth"
	"github.com/greenpass-dcc/greenpass/keys"
	"github.com/greenpass-dcc/greenpass/loadtest"
	"github.com/greenpass-dcc/greenpass/store"
)

// TestIssueCrashChild is the server of TestIssuedSurvivesSIGKILL: run as
// a child process, it serves until it is killed.
func TestIssueCrashChild(t *testing.T) {
	dir := os.Getenv("GREENPASS_ISSUE_CRASH_DIR")
	if dir == "" {
		t.Skip("only as the child of TestIssuedSurvivesSIGKILL")
	}
	os.Exit(run(context.Background(), []string{"serve", "--addr", "127.0.0.1:0", "--data", dir, "--issuer-rate", "0"},
		stdio{strings.NewReader(""), os.Stdout, os.Stderr}))
}

// Issuing under load, the server is killed with SIGKILL; every UVCI that
// got a 201 must be in the store afterwards.
func TestIssuedSurvivesSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test: skipped with -short")
	}
	dir := t.TempDir()
	ctx := context.Background()
	set, err := keys.Init(ctx, filepath.Join(dir, "keys"), keys.InitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	token, err := auth.Sign(set.IssuerToken, auth.Identity{Subject: "apotheke-1", Country: "DE",
		Roles: []auth.Role{auth.RoleIssueVaccination, auth.RoleIssueTest, auth.RoleIssueRecovery}}, time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}

	cmd := exec.Command(os.Args[0], "-test.run=^TestIssueCrashChild$", "-test.v=false")
	cmd.Env = append(os.Environ(), "GREENPASS_ISSUE_CRASH_DIR="+dir)
	logs, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	killed := false
	defer func() {
		if !killed {
			cmd.Process.Kill()
			cmd.Wait()
		}
	}()
	addr := ""
	lines := bufio.NewScanner(logs)
	for addr == "" && lines.Scan() {
		var entry map[string]any
		if json.Unmarshal(lines.Bytes(), &entry) == nil && entry["msg"] == "listening" {
			addr, _ = entry["addr"].(string)
		}
	}
	if addr == "" {
		t.Fatal("the server never said where it listens")
	}
	go func() { // keep the pipe drained
		for lines.Scan() {
		}
	}()

	var uvcis lockedBuffer
	var report *loadtest.Report
	var loadErr error
	var wg sync.WaitGroup
	wg.Go(func() {
		report, loadErr = loadtest.Run(ctx, loadtest.Config{URL: "http://" + addr, Token: token, Concurrency: 32,
			Duration: 2 * time.Second, Types: []string{"v", "t", "r"}, Idempotency: true, UVCIs: &uvcis})
	})
	time.Sleep(time.Second)
	if err := cmd.Process.Kill(); err != nil { // SIGKILL
		t.Fatal(err)
	}
	cmd.Wait()
	killed = true
	wg.Wait()
	if loadErr != nil {
		t.Fatal(loadErr)
	}
	acked := strings.Fields(uvcis.String())
	if len(acked) < 100 {
		t.Fatalf("only %d certificates issued before the kill: %+v", len(acked), report)
	}
	died := 0
	for kind, n := range report.Errors {
		for _, s := range []string{"connection refused", "connection reset", "connection closed"} {
			if strings.HasSuffix(kind, s) {
				died += int(n)
			}
		}
	}
	if died == 0 {
		t.Errorf("the load never saw the server die: %+v", report.Errors)
	}

	// Restart the store on the same files: every acknowledged UVCI is there.
	e, err := store.OpenEmbedded(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	missing := 0
	for _, u := range acked {
		if _, err := e.Get(ctx, store.Certificates, u); err != nil {
			missing++
			if missing <= 3 {
				t.Errorf("acknowledged %s: %v", u, err)
			}
		}
	}
	if missing > 0 {
		t.Fatalf("%d of %d acknowledged certificates lost", missing, len(acked))
	}
	t.Logf("%d certificates acknowledged before SIGKILL, all in the store after restart", len(acked))
}

type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
