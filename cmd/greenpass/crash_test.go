package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/greenpass-dcc/greenpass/auth"
	"github.com/greenpass-dcc/greenpass/issuer"
	"github.com/greenpass-dcc/greenpass/keys"
	"github.com/greenpass-dcc/greenpass/loadtest"
	"github.com/greenpass-dcc/greenpass/store/bolt"
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

	// The kill comes after killAfter acknowledged certificates, however
	// long the machine takes to issue them; the run's own duration is only
	// a backstop.
	const killAfter = 150
	uvcis := &countingBuffer{at: killAfter, reached: make(chan struct{})}
	loadCtx, stopLoad := context.WithCancel(ctx)
	defer stopLoad()
	var loadErr error
	var wg sync.WaitGroup
	wg.Go(func() {
		_, loadErr = loadtest.Run(loadCtx, loadtest.Config{URL: "http://" + addr, Token: token, Concurrency: 32,
			Duration: 10 * time.Minute, Types: []string{"v", "t", "r"}, Idempotency: true, UVCIs: uvcis})
	})
	select {
	case <-uvcis.reached:
	case <-time.After(9 * time.Minute):
		t.Fatalf("only %d certificates acknowledged in 9 minutes", uvcis.lines())
	}
	if err := cmd.Process.Kill(); err != nil { // SIGKILL
		t.Fatal(err)
	}
	cmd.Wait()
	killed = true
	// The server is gone: its port refuses connections.
	if c, err := net.Dial("tcp", addr); err == nil {
		c.Close()
		t.Fatal("the server still accepts connections after SIGKILL")
	}
	stopLoad()
	wg.Wait()
	if loadErr != nil {
		t.Fatal(loadErr)
	}
	acked := strings.Fields(uvcis.String())
	if len(acked) < killAfter {
		t.Fatalf("only %d certificates acknowledged before the kill", len(acked))
	}

	// Restart the store on the same files: every acknowledged UVCI is there.
	e, err := bolt.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	missing := 0
	for _, u := range acked {
		if _, err := e.Get(ctx, issuer.CollCertificates, u); err != nil {
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

// countingBuffer collects lines and closes reached once it holds at lines.
type countingBuffer struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	n, at   int
	reached chan struct{}
}

func (b *countingBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	before := b.n
	b.n += bytes.Count(p, []byte("\n"))
	if before < b.at && b.n >= b.at {
		close(b.reached)
	}
	return b.buf.Write(p)
}

func (b *countingBuffer) lines() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.n
}

func (b *countingBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
