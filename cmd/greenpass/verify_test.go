package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/greenpass-dcc/greenpass/hcert"
	"github.com/greenpass-dcc/greenpass/internal/testdata"
	"github.com/greenpass-dcc/greenpass/render"
	"github.com/greenpass-dcc/greenpass/verifier"
)

// cliFixture writes an EU vector's HC1 text and DSC into a temp dir.
type cliFixture struct {
	dir, text, dsc, png string
	clock               string
	hc1                 string
}

func newFixture(t *testing.T) cliFixture {
	t.Helper()
	root := testdata.Dir(t, "dgc")
	raw, err := os.ReadFile(filepath.Join(root, "AT/2DCode/raw/1.json"))
	if err != nil {
		t.Fatal(err)
	}
	var vec struct {
		Prefix  string `json:"PREFIX"`
		TestCtx struct {
			Certificate string `json:"CERTIFICATE"`
		} `json:"TESTCTX"`
	}
	if err := json.Unmarshal(raw, &vec); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	f := cliFixture{dir: dir, text: filepath.Join(dir, "cert.txt"), dsc: filepath.Join(dir, "dsc.pem"),
		png: filepath.Join(root, "AT/png/1.png"), clock: "2021-06-01T12:00:00Z", hc1: vec.Prefix}
	write(t, f.text, vec.Prefix+"\n")
	write(t, f.dsc, "-----BEGIN CERTIFICATE-----\n"+vec.TestCtx.Certificate+"\n-----END CERTIFICATE-----\n")
	return f
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func runCLI(t *testing.T, stdin []byte, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(context.Background(), args, stdio{bytes.NewReader(stdin), &out, &errb})
	return code, out.String(), errb.String()
}

func TestVerifyCommand(t *testing.T) {
	f := newFixture(t)
	tampered := filepath.Join(f.dir, "tampered.txt")
	write(t, tampered, strings.Replace(f.hc1, "NCF", "NCG", 1))
	binary := filepath.Join(f.dir, "binary.bin")
	write(t, binary, "\x00\x01\x02garbage")
	pngBytes, err := os.ReadFile(f.png)
	if err != nil {
		t.Fatal(err)
	}
	pdf, err := render.PDF(render.Document{HC1: f.hc1, Certificate: &hcert.Certificate{Version: "1.3.0"}})
	if err != nil {
		t.Fatal(err)
	}
	pdfFile := filepath.Join(f.dir, "certificate.pdf")
	write(t, pdfFile, string(pdf))
	tests := []struct {
		name    string
		args    []string
		stdin   []byte
		code    int
		out     []string // substrings of stdout
		notOut  []string
		errText string // substring of stderr
	}{
		{"valid text", []string{"verify", "--dsc", f.dsc, "--at", f.clock, f.text}, nil, 0, []string{"cert.txt: VALID vaccination (AT)"}, []string{"Gabriele"}, ""},
		{"valid image", []string{"verify", "--dsc", f.dsc, "--at", f.clock, f.png}, nil, 0, []string{"1.png: VALID vaccination (AT)"}, nil, ""},
		{"image on stdin", []string{"verify", "--dsc", f.dsc, "--at", f.clock, "-"}, pngBytes, 0, []string{"-: VALID"}, nil, ""},
		{"the certificate's PDF", []string{"verify", "--dsc", f.dsc, "--at", f.clock, pdfFile}, nil, 0, []string{"certificate.pdf: VALID vaccination (AT)"}, nil, ""},
		{"PDF on stdin", []string{"verify", "--dsc", f.dsc, "--at", f.clock, "-"}, pdf, 0, []string{"-: VALID"}, nil, ""},
		{"a PDF in plain ASCII is no text", []string{"verify", "--dsc", f.dsc, "-"}, []byte("%PDF-1.4\ntrailer\n"), 1, []string{"picture: IMAGE_UNREADABLE"}, nil, ""},
		{"text on stdin", []string{"verify", "--dsc", f.dsc, "--at", f.clock, "-"}, []byte(f.hc1 + "\r\n"), 0, []string{"-: VALID"}, nil, ""},
		{"show person", []string{"verify", "--dsc", f.dsc, "--at", f.clock, "--show-person", f.text}, nil, 0, []string{"Musterfrau-Gößinger, Gabriele, born 1998-02-26"}, nil, ""},
		{"no trust", []string{"verify", "--at", f.clock, f.text}, nil, 1, []string{"INVALID", "signature: DSC_UNKNOWN"}, nil, "no trusted DSCs"},
		{"clock without offset is UTC", []string{"verify", "--dsc", f.dsc, "--at", "2021-06-01T12:00:00.822623", f.text}, nil, 0, []string{"cert.txt: VALID"}, nil, ""},
		{"expired at a clock without offset", []string{"verify", "--dsc", f.dsc, "--at", "2026-11-23T00:00:00", f.text}, nil, 1, []string{"expiry: CERT_EXPIRED"}, nil, ""},
		{"expired at today's clock", []string{"verify", "--dsc", f.dsc, "--at", "2026-11-23T00:00:00Z", f.text}, nil, 1, []string{"INVALID", "expiry: CERT_EXPIRED"}, nil, ""},
		{"tampered", []string{"verify", "--dsc", f.dsc, "--at", f.clock, tampered}, nil, 1, []string{"tampered.txt: INVALID"}, nil, ""},
		{"one valid one invalid", []string{"verify", "--dsc", f.dsc, "--at", f.clock, f.text, tampered}, nil, 1, []string{"VALID vaccination", "INVALID"}, nil, ""},
		{"binary garbage", []string{"verify", "--dsc", f.dsc, binary}, nil, 1, []string{"picture: IMAGE_UNREADABLE"}, nil, ""},
		{"missing file", []string{"verify", "--dsc", f.dsc, filepath.Join(f.dir, "nope")}, nil, 2, nil, nil, "no such file"},
		{"bad clock", []string{"verify", "--at", "yesterday", f.text}, nil, 2, nil, nil, "--at"},
		{"bad DSC file", []string{"verify", "--dsc", f.text, f.text}, nil, 2, nil, nil, "--dsc"},
		{"no input", []string{"verify"}, nil, 2, nil, nil, "no INPUT"},
		{"unknown flag", []string{"verify", "--nope", f.text}, nil, 2, nil, nil, "flag provided but not defined"},
		{"help", []string{"verify", "--help"}, nil, 0, nil, nil, "Usage: greenpass verify"},
		{"top-level help", []string{"help"}, nil, 0, []string{"verify"}, nil, ""},
		{"unknown command", []string{"frobnicate"}, nil, 2, nil, nil, "unknown command"},
		{"no command", nil, nil, 2, nil, nil, "Usage"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errText := runCLI(t, tt.stdin, tt.args...)
			if code != tt.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tt.code, out, errText)
			}
			for _, s := range tt.out {
				if !strings.Contains(out, s) {
					t.Errorf("stdout lacks %q:\n%s", s, out)
				}
			}
			for _, s := range tt.notOut {
				if strings.Contains(out, s) {
					t.Errorf("stdout has %q (personal data without --show-person):\n%s", s, out)
				}
			}
			if !strings.Contains(errText, tt.errText) {
				t.Errorf("stderr lacks %q:\n%s", tt.errText, errText)
			}
		})
	}
}

func TestVerifyJSONLines(t *testing.T) {
	f := newFixture(t)
	code, out, errText := runCLI(t, nil, "verify", "--json", "--dsc", f.dsc, "--at", f.clock, f.text, f.png)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errText)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 {
		t.Fatalf("want 2 JSON lines, got %d:\n%s", len(lines), out)
	}
	for i, line := range lines {
		var obj map[string]any
		if err := json.Unmarshal([]byte(line), &obj); err != nil {
			t.Fatalf("line %d: %v", i, err)
		}
		for _, key := range []string{"input", "hc1", "valid", "stages", "reasons", "payload", "kid", "alg", "iss", "iat", "exp"} {
			if _, ok := obj[key]; !ok {
				t.Errorf("line %d lacks %q", i, key)
			}
		}
		if obj["hc1"] != f.hc1 || obj["valid"] != true || obj["alg"] != "ES256" || obj["iss"] != "AT" || obj["exp"] != "2021-11-02T18:00:00Z" {
			t.Errorf("line %d: unexpected values %v", i, obj)
		}
		stages := obj["stages"].(map[string]any)
		for _, s := range verifier.Stages() {
			if _, ok := stages[string(s)]; !ok {
				t.Errorf("line %d: stage %s missing", i, s)
			}
		}
		wantPicture := map[int]string{0: "skipped", 1: "pass"}[i]
		if stages["picture"] != wantPicture {
			t.Errorf("line %d: picture = %v, want %s", i, stages["picture"], wantPicture)
		}
		kid, _ := base64.StdEncoding.DecodeString(obj["kid"].(string))
		if len(kid) != 8 {
			t.Errorf("line %d: kid %v is not 8 bytes of Base64", i, obj["kid"])
		}
		if nam := obj["payload"].(map[string]any)["nam"].(map[string]any); nam["fnt"] != "MUSTERFRAU<GOESSINGER" {
			t.Errorf("line %d: payload nam = %v", i, nam)
		}
	}
}

// Results written to a pipe or file are buffered, but keep their order
// with the errors written between them (both streams into one writer
// here), and a failed write is an I/O error (exit 2).
func TestVerifyOutputOrderAndWriteErrors(t *testing.T) {
	f := newFixture(t)
	missing := filepath.Join(f.dir, "missing.png")
	var both bytes.Buffer
	code := run(context.Background(), []string{"verify", "--dsc", f.dsc, "--at", f.clock, f.text, missing, f.text},
		stdio{strings.NewReader(""), &both, &both})
	if code != exitUsage {
		t.Fatalf("exit %d, want %d (an unreadable input)", code, exitUsage)
	}
	lines := strings.Split(strings.TrimSpace(both.String()), "\n")
	if len(lines) != 3 || !strings.Contains(lines[0], "VALID") || !strings.Contains(lines[1], "missing.png") || !strings.Contains(lines[2], "VALID") {
		t.Fatalf("want a result, the error, a result, in that order:\n%s", both.String())
	}

	var errb bytes.Buffer
	code = run(context.Background(), []string{"verify", "--dsc", f.dsc, "--at", f.clock, f.text},
		stdio{strings.NewReader(""), failingWriter{}, &errb})
	if code != exitUsage || !strings.Contains(errb.String(), "disk full") {
		t.Fatalf("exit %d, stderr %q; want %d and the write's error", code, errb.String(), exitUsage)
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestVerifyTrustListFile(t *testing.T) {
	f := newFixture(t)
	pem, _ := os.ReadFile(f.dsc)
	b64 := strings.Join(strings.Split(strings.TrimSpace(string(pem)), "\n")[1:2], "")
	der, _ := base64.StdEncoding.DecodeString(b64)
	goodEntry := map[string]string{"certificateType": "DSC", "country": "AT", "rawData": b64}
	badEntry := map[string]string{"certificateType": "DSC", "country": "XX", "rawData": b64, "kid": "AAAAAAAAAAA="}
	body, _ := json.Marshal(map[string]any{"certificates": []any{badEntry, goodEntry}})
	list := filepath.Join(f.dir, "dsc-list.txt")
	write(t, list, base64.StdEncoding.EncodeToString(make([]byte, 64))+"\n"+string(body))
	if len(der) == 0 {
		t.Fatal("fixture DSC not Base64")
	}
	code, out, errText := runCLI(t, nil, "verify", "--trust", list, "--at", f.clock, f.text)
	if code != 0 || !strings.Contains(out, "VALID") {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, out, errText)
	}
	if !strings.Contains(errText, "kid does not match rawData") {
		t.Errorf("the entry with a wrong kid was not reported: %s", errText)
	}
}

// TestReadLimited: a file of up to the limit is read whole, one byte more is
// refused; a regular file and a pipe (read without knowing its size) alike.
func TestReadLimited(t *testing.T) {
	const limit = 1000
	dir := t.TempDir()
	for _, size := range []int{0, 1, 999, limit, limit + 1, 5000} {
		want := bytes.Repeat([]byte{'x'}, size)
		for _, kind := range []string{"file", "pipe"} {
			name := filepath.Join(dir, kind)
			os.Remove(name)
			if kind == "file" {
				if err := os.WriteFile(name, want, 0o600); err != nil {
					t.Fatal(err)
				}
			} else {
				if err := syscall.Mkfifo(name, 0o600); err != nil {
					t.Fatal(err)
				}
				go func() {
					f, err := os.OpenFile(name, os.O_WRONLY, 0)
					if err != nil {
						return
					}
					defer f.Close()
					f.Write(want) // a reader that stops early leaves it blocked until Close
				}()
			}
			got, err := readLimited(name, limit)
			switch {
			case size > limit && err == nil:
				t.Errorf("%s of %d bytes: read %d, want an error", kind, size, len(got))
			case size <= limit && err != nil:
				t.Errorf("%s of %d bytes: %v", kind, size, err)
			case size <= limit && !bytes.Equal(got, want):
				t.Errorf("%s of %d bytes: read %d", kind, size, len(got))
			}
		}
	}
}
