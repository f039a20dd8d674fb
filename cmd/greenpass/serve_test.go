package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/greenpass-dcc/greenpass/internal/ferrettest"
	"github.com/greenpass-dcc/greenpass/keys"
	"github.com/greenpass-dcc/greenpass/store/bolt"
)

func TestServeConfigValidation(t *testing.T) {
	tests := []struct {
		args []string
		env  map[string]string
		want string // substring of the error; "" = valid
	}{
		{nil, nil, ""},
		{[]string{"--addr", "127.0.0.1:9090"}, nil, ""},
		{[]string{"--addr", "8080"}, nil, "--addr (GREENPASS_ADDR)"},
		{[]string{"--addr", ":99999"}, nil, "--addr (GREENPASS_ADDR): port"},
		{[]string{"--shutdown-timeout", "soon"}, nil, "--shutdown-timeout (GREENPASS_SHUTDOWN_TIMEOUT)"},
		{[]string{"--sweep-interval", "-1m"}, nil, "--sweep-interval (GREENPASS_SWEEP_INTERVAL): must be positive"},
		{[]string{"--log-format", "xml"}, nil, "--log-format (GREENPASS_LOG_FORMAT)"},
		{[]string{"--data", ""}, nil, "--data (GREENPASS_DATA)"},
		{[]string{"--max-inflight", "0"}, nil, "--max-inflight (GREENPASS_MAX_INFLIGHT)"},
		{[]string{"--max-queue", "many"}, nil, "--max-queue (GREENPASS_MAX_QUEUE)"},
		{[]string{"--queue-wait", "0"}, nil, "--queue-wait (GREENPASS_QUEUE_WAIT): must be positive"},
		{[]string{"--sched-target", "-1ms"}, nil, "--sched-target (GREENPASS_SCHED_TARGET)"},
		{[]string{"--sched-target", "fast"}, nil, "--sched-target (GREENPASS_SCHED_TARGET)"},
		{[]string{"--sched-target", "0"}, nil, ""},
		{[]string{"--issuer-rate", "-1"}, nil, "--issuer-rate (GREENPASS_ISSUER_RATE)"},
		{[]string{"--issuer-rate", "NaN"}, nil, "--issuer-rate (GREENPASS_ISSUER_RATE)"},
		{[]string{"--issuer-rate", "0"}, nil, ""},
		{[]string{"--validity-test", "2d"}, nil, "--validity-test (GREENPASS_VALIDITY_TEST)"},
		{nil, map[string]string{"GREENPASS_ADDR": "nonsense"}, "--addr (GREENPASS_ADDR)"},
		{[]string{"--addr", ":8081"}, map[string]string{"GREENPASS_ADDR": "nonsense"}, ""}, // flag wins
		{nil, map[string]string{"GREENPASS_QUEUE_WAIT": "soon"}, "--queue-wait (GREENPASS_QUEUE_WAIT)"},
		{[]string{"--queue-wait", "5ms"}, map[string]string{"GREENPASS_QUEUE_WAIT": "soon"}, ""}, // flag wins over a bad variable
		{[]string{"--issuer-rate", "Inf"}, nil, "--issuer-rate (GREENPASS_ISSUER_RATE)"},
		{[]string{"--sync-source", "gw.json"}, nil, "--sync-trust-anchor (GREENPASS_SYNC_TRUST_ANCHOR): required"},
		{[]string{"--sync-keep", "0", "--sync-source", "x"}, nil, "--sync-keep (GREENPASS_SYNC_KEEP)"},
		{nil, map[string]string{"GREENPASS_SYNC_MAX_LOSS": "lots"}, "--sync-max-loss (GREENPASS_SYNC_MAX_LOSS)"},
	}
	for _, tt := range tests {
		fs := flag.NewFlagSet("serve", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		_, validate := serveFlags(fs, func(k string) string { return tt.env[k] })
		err := fs.Parse(tt.args) // a value that does not parse fails here
		if err == nil {
			err = validate()
		}
		if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("args %v env %v: error %v, want %q", tt.args, tt.env, err, tt.want)
		}
	}
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	cfg, validate := serveFlags(fs, func(k string) string { return map[string]string{"GREENPASS_SWEEP_INTERVAL": "5m"}[k] })
	fs.Parse(nil)
	if err := validate(); err != nil || cfg.sweepInterval != 5*time.Minute || cfg.addr != ":8080" || cfg.dataDir != "./data" ||
		cfg.schedTarget != 5*time.Millisecond {
		t.Fatalf("env and defaults: %+v, %v", cfg, err)
	}
}

func TestServeHelpAndUsage(t *testing.T) {
	code, _, errText := runCLI(t, nil, "serve", "--help")
	if code != 0 || !strings.Contains(errText, "MONGODB_URI") || !strings.Contains(errText, "-addr string") || !strings.Contains(errText, "(default :8080)") ||
		!strings.Contains(errText, "-queue-wait duration") {
		t.Fatalf("serve --help: exit %d\n%s", code, errText)
	}
	if code, _, errText := runCLI(t, nil, "serve", "--addr", "x"); code != 2 || !strings.Contains(errText, "--addr (GREENPASS_ADDR)") {
		t.Fatalf("bad --addr: exit %d\n%s", code, errText)
	}
}

// A real run on loopback: answers, then drains and closes the store on
// cancellation (what SIGTERM does through main's signal context).
func TestServeRunsAndShutsDown(t *testing.T) {
	dir := t.TempDir()
	runServeUntilCancelled(t, "--data", dir)
	if !keys.Exists(filepath.Join(dir, "keys")) {
		t.Fatal("first start made no development keys")
	}
	// The store was closed: its file lock is free again.
	e, err := bolt.Open(dir, nil)
	if err != nil {
		t.Fatalf("store still locked after shutdown: %v", err)
	}
	e.Close()
}

// The same with MONGODB_URI: the Mongo engine against in-process FerretDB,
// blobs in memory.
func TestServeWithMongoDB(t *testing.T) {
	if testing.Short() {
		t.Skip("FerretDB: skipped with -short")
	}
	t.Setenv("MONGODB_URI", ferrettest.Start(t))
	t.Setenv("BLOB_URL", "mem://")
	dir := t.TempDir()
	// Scaled out, keys are provided, never made per instance.
	if code, _, errText := runCLI(t, nil, "serve", "--data", dir, "--addr", "127.0.0.1:0"); code == 0 || !strings.Contains(errText, "same key set") {
		t.Fatalf("serve with MongoDB and no keys: exit %d\n%s", code, errText)
	}
	if code, _, errText := runCLI(t, nil, "keys", "init", "--data", dir); code != 0 {
		t.Fatalf("keys init: %s", errText)
	}
	runServeUntilCancelled(t, "--data", dir)
}

// runServeUntilCancelled starts serve on a loopback port, checks /healthz
// and /readyz, cancels it and waits for a clean exit.
func runServeUntilCancelled(t *testing.T, args ...string) {
	t.Helper()
	addr, stop := startServe(t, args...)
	for _, path := range []string{"/healthz", "/readyz"} {
		if status, _ := httpGet(t, "http://"+addr+path); status != 200 {
			t.Fatalf("%s = %d", path, status)
		}
	}
	stop()
}

// startServe runs serve on a loopback port in this process and returns
// its address and a stop function that cancels it (what SIGTERM does
// through main's signal context) and fails the test unless it exits 0.
// The test's cleanup stops it if the test did not.
func startServe(t *testing.T, args ...string) (addr string, stop func()) {
	t.Helper()
	pr, pw := io.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, append([]string{"serve", "--addr", "127.0.0.1:0", "--sweep-interval", "50ms"}, args...),
			stdio{strings.NewReader(""), io.Discard, pw})
		pw.Close()
	}()
	lines := bufio.NewScanner(pr)
	var logs []string
	for addr == "" && lines.Scan() {
		logs = append(logs, lines.Text())
		var entry map[string]any
		if json.Unmarshal(lines.Bytes(), &entry) == nil && entry["msg"] == "listening" {
			addr = entry["addr"].(string)
		}
	}
	if addr == "" {
		cancel()
		t.Fatalf("no listening line in %v", logs)
	}
	go func() { // keep reading so the server never blocks on its log
		for lines.Scan() {
		}
	}()
	stopped := false
	stop = func() {
		t.Helper()
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case code := <-done:
			if code != 0 {
				t.Errorf("serve exited %d", code)
			}
		case <-time.After(10 * time.Second):
			t.Error("serve did not stop")
		}
	}
	t.Cleanup(stop)
	return addr, stop
}

func TestLoadtestUsage(t *testing.T) {
	if code, _, errText := runCLI(t, nil, "loadtest"); code != 2 || !strings.Contains(errText, "loadtest issue") {
		t.Errorf("loadtest: exit %d\n%s", code, errText)
	}
	if code, _, errText := runCLI(t, nil, "loadtest", "issue", "--help"); code != 0 || !strings.Contains(errText, "honor-retry-after") {
		t.Errorf("loadtest issue --help: exit %d\n%s", code, errText)
	}
	if code, _, errText := runCLI(t, nil, "loadtest", "issue", "--url", "x", "--token", ""); code != 2 || !strings.Contains(errText, "--token is required") {
		t.Errorf("loadtest without token: exit %d\n%s", code, errText)
	}
}

// Personal data goes to anonymous callers only by choice: an unchosen
// checkpoint access is open on loopback, a kept key beyond it, and must be
// chosen with MongoDB.
func TestCheckpointAccess(t *testing.T) {
	dir := t.TempDir()
	var logs strings.Builder
	log := slog.New(slog.NewTextHandler(&logs, nil))
	cases := []struct {
		name, addr, auth, mongo string
		want                    string // access; "" = refused
	}{
		{"loopback, not chosen", "127.0.0.1:8080", "", "", "open"},
		{"localhost, not chosen", "localhost:8080", "", "", "open"},
		{"every interface, not chosen", ":8080", "", "", "key"},
		{"every interface, not chosen, again", "0.0.0.0:8080", "", "", "key"},
		{"every interface with MongoDB, not chosen", ":8080", "", "mongodb://x", ""},
		{"every interface, open by choice", ":8080", "open", "", "open"},
		{"token", ":8080", "token", "mongodb://x", "token"},
	}
	var keys []string
	for _, tc := range cases {
		cfg := &serveConfig{addr: tc.addr, checkpointAuth: tc.auth}
		cfg.dataDir, cfg.mongoURI = dir, tc.mongo
		access, key, err := checkpointAccess(cfg, log)
		if tc.want == "" && err == nil || tc.want != "" && (err != nil || access != tc.want) {
			t.Errorf("%s: %q, %v; want %q", tc.name, access, err, tc.want)
		}
		if access == "key" {
			keys = append(keys, key)
		}
	}
	info, err := os.Stat(filepath.Join(dir, "keys", "checkpoint.key"))
	if len(keys) != 2 || keys[0] != keys[1] || len(keys[0]) < 16 || err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("kept key: %q, %v", keys, err)
	}
	if strings.Contains(logs.String(), keys[0]) || !strings.Contains(logs.String(), "open to every caller") {
		t.Fatalf("logs: %s", logs.String())
	}
}
