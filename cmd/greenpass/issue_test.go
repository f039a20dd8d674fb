package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// greenpass issue against a running server: an example body issues as
// HC1 text; a key given twice gives the same certificate; PNG and PDF go
// to files; a refused body prints the server's field errors.
func TestIssueCommand(t *testing.T) {
	dir := t.TempDir()
	addr, _ := startServe(t, "--data", dir)
	url := "http://" + addr
	token := issuerToken(t, dir, "--roles", "issue:v,issue:t,issue:r")

	for _, typ := range []string{"v", "t", "r"} {
		code, example, errText := runCLI(t, nil, "issue", "--example", typ)
		if code != 0 {
			t.Fatalf("--example %s: exit %d: %s", typ, code, errText)
		}
		code, out, errText := runCLI(t, []byte(example), "issue", "--url", url, "--token", token, "--format", "text")
		if code != 0 || !strings.HasPrefix(out, "HC1:") || !strings.Contains(errText, "issued URN:UVCI:01:DE:") {
			t.Fatalf("issue %s from standard input: exit %d, %q, %s", typ, code, out, errText)
		}
	}

	_, example, _ := runCLI(t, nil, "issue", "--example", "v")
	request := filepath.Join(dir, "request.json")
	write(t, request, example)
	var hc1s []string
	for i := range 2 {
		code, out, errText := runCLI(t, nil, "issue", "--url", url, "--token", token, "--request", request,
			"--idempotency-key", "order-17", "--format", "text")
		if code != 0 {
			t.Fatalf("keyed issue %d: exit %d: %s", i, code, errText)
		}
		if replayed := strings.Contains(errText, "made before"); replayed != (i == 1) {
			t.Errorf("keyed issue %d: %s", i, errText)
		}
		hc1s = append(hc1s, out)
	}
	if hc1s[0] != hc1s[1] {
		t.Error("the same key gave two certificates")
	}
	for format, magic := range map[string]string{"png": "\x89PNG", "pdf": "%PDF-"} {
		file := filepath.Join(dir, "cert."+format)
		code, out, errText := runCLI(t, nil, "issue", "--url", url, "--token", token, "--request", request, "--format", format, "--out", file)
		data, _ := os.ReadFile(file)
		if code != 0 || out != "" || !bytes.HasPrefix(data, []byte(magic)) {
			t.Fatalf("--format %s --out: exit %d, stdout %q, file %q…: %s", format, code, out, data[:min(len(data), 8)], errText)
		}
		if fi, _ := os.Stat(file); fi.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v", file, fi.Mode().Perm())
		}
	}

	bad := strings.Replace(example, "EU/1/20/1528", "Snake-Oil", 1)
	code, out, errText := runCLI(t, []byte(bad), "issue", "--url", url, "--token", token)
	if code != 1 || out != "" || !strings.Contains(errText, "refused (422)") || !strings.Contains(errText, "v[0].mp:") {
		t.Errorf("refused body: exit %d, %q, %s", code, out, errText)
	}
	if strings.Contains(errText, "Müller") || strings.Contains(errText, "1940-01-01") {
		t.Errorf("the refusal repeats personal data: %s", errText)
	}
}

// A busy server is waited for as Retry-After says, with the same key; one
// that stays busy is given up on with the key to retry with.
func TestIssueCommandRetries(t *testing.T) {
	var mu sync.Mutex
	var keys []string
	busyFor := 1
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		keys = append(keys, r.Header.Get("Idempotency-Key"))
		busy := len(keys) <= busyFor
		mu.Unlock()
		if busy {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("X-UVCI", "URN:UVCI:01:DE:X/1#A")
		w.WriteHeader(http.StatusCreated)
		w.Write([]byte(`{"uvci":"URN:UVCI:01:DE:X/1#A"}`))
	}))
	defer srv.Close()
	code, out, errText := runCLI(t, []byte(`{}`), "issue", "--url", srv.URL, "--token", "t")
	if code != 0 || !strings.Contains(out, "URN:UVCI:01:DE:X/1#A") || !strings.Contains(errText, "server busy (503); retrying in 1s") {
		t.Fatalf("after one 503: exit %d, %q, %s", code, out, errText)
	}
	if len(keys) != 2 || keys[0] == "" || keys[0] != keys[1] {
		t.Errorf("Idempotency-Keys sent: %q", keys)
	}

	mu.Lock()
	keys, busyFor = nil, 1000
	mu.Unlock()
	code, _, errText = runCLI(t, []byte(`{}`), "issue", "--url", srv.URL, "--token", "t", "--timeout", "1500ms", "--idempotency-key", "k-9")
	if code != 2 || !strings.Contains(errText, "no certificate in time") || !strings.Contains(errText, "--idempotency-key k-9") {
		t.Errorf("always busy: exit %d, %s", code, errText)
	}

	// Nothing listens at the URL: a mistake, said after a few tries, not
	// after --timeout.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	nowhere := "http://" + ln.Addr().String()
	ln.Close()
	code, _, errText = runCLI(t, []byte(`{}`), "issue", "--url", nowhere, "--token", "t", "--timeout", "10m")
	if code != 2 || !strings.Contains(errText, "nothing answers at") || !strings.Contains(errText, "is the server running") {
		t.Errorf("nothing listening: exit %d, %s", code, errText)
	}

	// Ctrl-C while waiting says so, with the key.
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	time.AfterFunc(300*time.Millisecond, stop)
	var stderr bytes.Buffer
	code = run(ctx, []string{"issue", "--url", srv.URL, "--token", "t", "--idempotency-key", "k-10"},
		stdio{strings.NewReader(`{}`), io.Discard, &stderr})
	if code != 2 || !strings.Contains(stderr.String(), "interrupted before a certificate came") || !strings.Contains(stderr.String(), "k-10") {
		t.Errorf("interrupted: exit %d, %s", code, stderr.String())
	}
}

func TestIssueCommandUsage(t *testing.T) {
	for _, tc := range []struct {
		name  string
		stdin string
		args  []string
		want  string
	}{
		{"no token", `{}`, []string{"--token", ""}, "--token is required"},
		{"bad format", `{}`, []string{"--token", "t", "--format", "gif"}, `--format "gif"`},
		{"bad url", `{}`, []string{"--token", "t", "--url", "localhost:8080"}, "--url"},
		{"empty body", " \n", []string{"--token", "t"}, "the request body is empty"},
		{"missing file", "", []string{"--token", "t", "--request", "/nonexistent/r.json"}, "--request"},
		{"argument", `{}`, []string{"--token", "t", "body.json"}, "unexpected argument"},
		{"unknown example", "", []string{"--example", "x"}, `unknown certificate type "x"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errText := runCLI(t, []byte(tc.stdin), append([]string{"issue"}, tc.args...)...)
			if code != 2 || !strings.Contains(errText, tc.want) {
				t.Errorf("exit %d, %s; want 2 and %q", code, errText, tc.want)
			}
		})
	}
	if code, _, errText := runCLI(t, nil, "issue", "--help"); code != 0 || !strings.Contains(errText, "Idempotency-Key") {
		t.Errorf("--help: exit %d, %s", code, errText)
	}
}
