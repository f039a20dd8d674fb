package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/greenpass-dcc/greenpass/hcert"
	"github.com/greenpass-dcc/greenpass/loadtest"
)

// issueFormats maps --format to the Accept header of the issuing API.
var issueFormats = map[string]string{"json": "application/json", "text": "text/plain", "png": "image/png", "pdf": "application/pdf"}

const issueUsage = `Usage: greenpass issue --token TOKEN [--request FILE] [--format json|text|png|pdf] [--out FILE] [flags]
       greenpass issue --example v|t|r

Sends one issuance request to a running greenpass (POST /api/v1/certificates)
and writes the certificate: the JSON answer {uvci, hc1, kid, issuedAt,
expiresAt}, the HC1: text, the QR code (PNG) or the printable PDF. The
request body is the API's JSON (name, date of birth and one v, t or r entry;
--example prints one). The request carries an Idempotency-Key, so a busy
server (429/503, as long as Retry-After says), a server error or a lost
connection is retried until --timeout and gives the same certificate. Exit
status: 0 issued, 1 refused by the server (the reasons are printed), 2 bad
flags, unreadable input or no answer in time.

Flags:`

func runIssue(ctx context.Context, args []string, std stdio) int {
	fs := flag.NewFlagSet("issue", flag.ContinueOnError)
	url := fs.String("url", envOr("GREENPASS_URL", "http://127.0.0.1:8080"), "base URL of the server (env GREENPASS_URL)")
	token := fs.String("token", os.Getenv("GREENPASS_TOKEN"), "issuer bearer token (env GREENPASS_TOKEN; greenpass keys issuer-token prints one)")
	request := fs.String("request", "-", "the request body `FILE` (JSON); - reads standard input")
	format := fs.String("format", "json", "what to write: json, text (the HC1: string), png (the QR code) or pdf (the printable certificate)")
	out := fs.String("out", "", "write the certificate to `FILE` (created with mode 0600) instead of standard output")
	key := fs.String("idempotency-key", "", "the request's Idempotency-Key (a fresh one when empty): the same key and body give the same certificate")
	timeout := fs.Duration("timeout", time.Minute, "give up after this long")
	example := fs.String("example", "", "print an example request body of type v, t or r and exit")
	if code, ok := parseFlags(fs, args, std.err, issueUsage); !ok {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(std.err, "greenpass issue: unexpected argument %q (the body comes from --request)\n", fs.Arg(0))
		return exitUsage
	}
	if *example != "" {
		body, err := loadtest.ExampleBody(*example, time.Now())
		if err != nil {
			fmt.Fprintf(std.err, "greenpass issue: --example: %v\n", err)
			return exitUsage
		}
		std.out.Write(append(body, '\n'))
		return exitOK
	}
	accept, ok := issueFormats[*format]
	var problems []string
	if !ok {
		problems = append(problems, fmt.Sprintf("--format %q must be json, text, png or pdf", *format))
	}
	if *token == "" {
		problems = append(problems, "--token is required (greenpass keys issuer-token prints one)")
	}
	if !strings.HasPrefix(*url, "http://") && !strings.HasPrefix(*url, "https://") {
		problems = append(problems, fmt.Sprintf("--url %q must start with http:// or https://", *url))
	}
	if *timeout <= 0 {
		problems = append(problems, "--timeout must be positive")
	}
	if *key == "" {
		var b [16]byte
		rand.Read(b[:])
		*key = hex.EncodeToString(b[:])
	}
	if len(problems) > 0 {
		for _, p := range problems {
			fmt.Fprintln(std.err, "greenpass issue:", p)
		}
		return exitUsage
	}
	body, err := readRequest(*request, std.in)
	if err != nil {
		fmt.Fprintf(std.err, "greenpass issue: %v\n", err)
		return exitUsage
	}

	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	c := issueClient{url: strings.TrimSuffix(*url, "/") + "/api/v1/certificates", token: *token, key: *key, accept: accept,
		http: &http.Client{Timeout: 30 * time.Second}, log: std.err}
	res, err := c.issue(ctx, body)
	var refused *refusal
	switch {
	case errors.As(err, &refused):
		fmt.Fprintf(std.err, "greenpass issue: refused (%d): %s\n", refused.status, refused.message)
		for _, f := range refused.fields {
			fmt.Fprintf(std.err, "  %s: %s\n", f.Field, f.Problem)
		}
		return exitInvalid
	case err != nil:
		fmt.Fprintf(std.err, "greenpass issue: %v; the same request with --idempotency-key %s gives the same certificate if one was made\n", err, *key)
		return exitUsage
	}
	if *out != "" {
		err = os.WriteFile(*out, res.body, 0o600)
	} else {
		data := res.body
		if (*format == "json" || *format == "text") && !bytes.HasSuffix(data, []byte("\n")) {
			data = append(data, '\n') // a terminal's prompt after it, not on its line
		}
		_, err = std.out.Write(data)
	}
	if err != nil {
		fmt.Fprintf(std.err, "greenpass issue: write the certificate: %v\n", err)
		return exitUsage
	}
	note := ""
	if res.replayed {
		note = " (made before, for the same key)"
	}
	fmt.Fprintf(std.err, "greenpass issue: issued %s%s\n", res.uvci, note)
	return exitOK
}

func readRequest(name string, stdin io.Reader) ([]byte, error) {
	var r io.Reader = stdin
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return nil, fmt.Errorf("--request: %w", err)
		}
		defer f.Close()
		r = f
	}
	body, err := io.ReadAll(io.LimitReader(r, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("read the request: %w", err)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, errors.New("the request body is empty (--request FILE, or JSON on standard input; --example v prints one)")
	}
	return body, nil
}

// issueClient posts one issuance request until it gets an answer that is
// not "later".
type issueClient struct {
	url, token, key, accept string
	http                    *http.Client
	log                     io.Writer
}

type issued struct {
	body     []byte
	uvci     string
	replayed bool
}

// refusal is a 4xx answer: the request itself is wrong.
type refusal struct {
	status  int
	message string
	fields  []hcert.FieldError
}

func (r *refusal) Error() string { return fmt.Sprintf("refused (%d): %s", r.status, r.message) }

// maxRefusedAtStart is how many refused connections, before the server
// ever answered, end the attempts: nothing listens at the URL, which is a
// mistake in the configuration, not a busy server.
const maxRefusedAtStart = 3

func (c *issueClient) issue(ctx context.Context, body []byte) (*issued, error) {
	backoff := time.Second
	var last string
	refused, answered := 0, false
	for {
		wait, res, err := c.try(ctx, body)
		if res != nil || err != nil {
			return res, err
		}
		answered = answered || !wait.refused
		if wait.refused && !answered {
			if refused++; refused >= maxRefusedAtStart {
				return nil, fmt.Errorf("nothing answers at %s (connection refused, %d tries): is the server running, is --url right? "+
					"Nothing was issued", c.url, refused)
			}
		}
		// Busy, a server error or no answer: the key makes a retry safe.
		last = wait.why
		d := wait.after
		if d <= 0 {
			d, backoff = backoff, min(2*backoff, 10*time.Second)
		}
		fmt.Fprintf(c.log, "greenpass issue: %s; retrying in %v\n", last, d)
		select {
		case <-ctx.Done():
			return nil, gaveUp(ctx, "last: "+last)
		case <-time.After(d):
		}
	}
}

// gaveUp says why the attempts ended: --timeout, or an interrupt.
func gaveUp(ctx context.Context, detail string) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("no certificate in time (%s)", detail)
	}
	return fmt.Errorf("interrupted before a certificate came (%s)", detail)
}

type retry struct {
	why     string
	after   time.Duration // Retry-After; 0: back off
	refused bool          // the connection was refused: nothing listens there
}

func (c *issueClient) try(ctx context.Context, body []byte) (retry, *issued, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(body))
	if err != nil {
		return retry{}, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", c.accept)
	req.Header.Set("Idempotency-Key", c.key)
	resp, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return retry{}, nil, gaveUp(ctx, err.Error())
		}
		return retry{why: "no answer (" + err.Error() + ")", refused: errors.Is(err, syscall.ECONNREFUSED)}, nil, nil
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return retry{why: "answer cut off (" + err.Error() + ")"}, nil, nil
	}
	switch {
	case resp.StatusCode == http.StatusCreated:
		return retry{}, &issued{body: data, uvci: resp.Header.Get("X-UVCI"), replayed: resp.Header.Get("Idempotent-Replayed") == "true"}, nil
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable:
		s, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
		return retry{why: fmt.Sprintf("server busy (%d)", resp.StatusCode), after: time.Duration(min(max(s, 1), 300)) * time.Second}, nil, nil
	case resp.StatusCode >= 500:
		return retry{why: fmt.Sprintf("server error (%d)", resp.StatusCode)}, nil, nil
	}
	r := &refusal{status: resp.StatusCode}
	var e struct {
		Error  string             `json:"error"`
		Fields []hcert.FieldError `json:"fields"`
	}
	if json.Unmarshal(data, &e) == nil && e.Error != "" {
		r.message, r.fields = e.Error, e.Fields
	} else {
		r.message = strings.TrimSpace(string(data[:min(len(data), 200)]))
	}
	return retry{}, nil, r
}
