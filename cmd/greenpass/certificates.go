package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"
	"time"
)

const certificatesUsage = `Usage: greenpass certificates list [--from T] [--to T] [flags]
       greenpass certificates show UVCI [flags]
       greenpass certificates revoke UVCI [flags]

The issuer's own certificates on a running greenpass, with its token:
  list    those issued from --from to --to (RFC 3339 or YYYY-MM-DD; default
          today, local time), oldest first: UVCI, type, time, revoked
  show    one audit record (JSON)
  revoke  revoke one; the revocation list is republished at once

The UVCI is given as printed (URN:UVCI:01:DE:…#C); the command encodes it for
the URL. Names are never shown: the server keeps none. Exit status: 0 done,
1 refused by the server (not found, not yours), 2 bad flags or no answer.

Flags:`

func runCertificates(ctx context.Context, args []string, std stdio) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprintln(std.err, strings.TrimSuffix(certificatesUsage, "\n\nFlags:"))
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	sub := args[0]
	if sub != "list" && sub != "show" && sub != "revoke" {
		fmt.Fprintf(std.err, "greenpass certificates: unknown subcommand %q (list, show, revoke)\n", sub)
		return exitUsage
	}
	fs := flag.NewFlagSet("certificates "+sub, flag.ContinueOnError)
	base := fs.String("url", envOr("GREENPASS_URL", "http://127.0.0.1:8080"), "base URL of the server (env GREENPASS_URL)")
	token := fs.String("token", os.Getenv("GREENPASS_TOKEN"), "issuer bearer token (env GREENPASS_TOKEN)")
	timeout := fs.Duration("timeout", 30*time.Second, "give up after this long")
	var from, to *string
	var asJSON *bool
	if sub == "list" {
		from = fs.String("from", "", "first issuing time: RFC 3339 or a date YYYY-MM-DD (default: today 00:00 local time)")
		to = fs.String("to", "", "last issuing time: RFC 3339 or a date (default: now)")
		asJSON = fs.Bool("json", false, "print the records as JSON Lines")
	}
	if code, ok := parseFlags(fs, args[1:], std.err, certificatesUsage); !ok {
		return code
	}
	fail := func(format string, a ...any) int {
		fmt.Fprintf(std.err, "greenpass certificates %s: %s\n", sub, fmt.Sprintf(format, a...))
		return exitUsage
	}
	if *token == "" {
		return fail("--token is required (greenpass keys issuer-token prints one)")
	}
	u, err := url.Parse(strings.TrimRight(*base, "/"))
	if err != nil || u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return fail("--url %q is not an http(s) URL", *base)
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	c := &certsClient{base: u.String(), token: *token}

	if sub == "list" {
		if fs.NArg() > 0 {
			return fail("unexpected argument %q", fs.Arg(0))
		}
		return c.list(ctx, *from, *to, *asJSON, std)
	}
	if fs.NArg() != 1 {
		return fail("give one UVCI")
	}
	uvci := strings.TrimSpace(fs.Arg(0))
	path := "/api/v1/certificates/" + url.PathEscape(uvci)
	method := http.MethodGet
	if sub == "revoke" {
		path, method = path+"/revoke", http.MethodPost
	}
	status, body, err := c.do(ctx, method, path)
	if err != nil {
		return fail("%v", err)
	}
	if status >= 300 {
		fmt.Fprintf(std.err, "greenpass certificates %s: %s\n", sub, refusalText(status, body))
		return exitInvalid
	}
	if sub == "revoke" {
		state := "revoked"
		if status == http.StatusOK {
			state = "was already revoked"
		}
		fmt.Fprintf(std.out, "%s %s\n", uvci, state)
		return exitOK
	}
	std.out.Write(append(indentJSON(body), '\n'))
	return exitOK
}

type certsClient struct {
	base, token string
}

func (c *certsClient) do(ctx context.Context, method, path string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, nil)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Accept", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return 0, nil, fmt.Errorf("no answer from %s in time", c.base)
		}
		return 0, nil, fmt.Errorf("no answer from %s: %v", c.base, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	return resp.StatusCode, body, err
}

// list pages through the window and prints a table (or JSON Lines).
func (c *certsClient) list(ctx context.Context, from, to string, asJSON bool, std stdio) int {
	now := time.Now()
	if from == "" {
		from = now.Format(time.DateOnly)
	}
	if to == "" {
		to = now.Format(time.RFC3339Nano)
	}
	// A date is a local day here (the server reads a bare date as UTC).
	from, to = localDay(from, false), localDay(to, true)
	tw := tabwriter.NewWriter(std.out, 0, 4, 2, ' ', 0)
	if !asJSON {
		fmt.Fprintln(tw, "UVCI\tTYPE\tISSUED\tREVOKED")
	}
	n, cursor := 0, ""
	for {
		q := url.Values{"from": {from}, "to": {to}, "limit": {"500"}}
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		status, body, err := c.do(ctx, http.MethodGet, "/api/v1/certificates?"+q.Encode())
		if err != nil {
			fmt.Fprintf(std.err, "greenpass certificates list: %v\n", err)
			return exitUsage
		}
		if status != http.StatusOK {
			fmt.Fprintf(std.err, "greenpass certificates list: %s\n", refusalText(status, body))
			if status == http.StatusBadRequest {
				return exitUsage
			}
			return exitInvalid
		}
		var page struct {
			Certificates []json.RawMessage `json:"certificates"`
			Next         string            `json:"next"`
		}
		if err := json.Unmarshal(body, &page); err != nil {
			fmt.Fprintf(std.err, "greenpass certificates list: the answer is not a listing: %v\n", err)
			return exitUsage
		}
		for _, raw := range page.Certificates {
			n++
			if asJSON {
				std.out.Write(append(raw, '\n'))
				continue
			}
			var a struct {
				UVCI      string     `json:"uvci"`
				Type      string     `json:"type"`
				IssuedAt  time.Time  `json:"issuedAt"`
				RevokedAt *time.Time `json:"revokedAt"`
			}
			json.Unmarshal(raw, &a)
			revoked := "-"
			if a.RevokedAt != nil {
				revoked = a.RevokedAt.Local().Format("2006-01-02 15:04:05")
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", a.UVCI, a.Type, a.IssuedAt.Local().Format("2006-01-02 15:04:05"), revoked)
		}
		if cursor = page.Next; cursor == "" {
			break
		}
	}
	tw.Flush()
	if !asJSON {
		fmt.Fprintf(std.err, "%d certificates\n", n)
	}
	return exitOK
}

// localDay turns a date into its first (or, with end, last) instant in
// local time, as RFC 3339; anything else is passed on as given.
func localDay(s string, end bool) string {
	d, err := time.ParseInLocation(time.DateOnly, s, time.Local)
	if err != nil {
		return s
	}
	if end {
		d = d.AddDate(0, 0, 1).Add(-time.Millisecond)
	}
	return d.Format(time.RFC3339Nano)
}

// refusalText is the server's error message with its status.
func refusalText(status int, body []byte) string {
	var e struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(body, &e) == nil && e.Error != "" {
		return fmt.Sprintf("%s (%d)", e.Error, status)
	}
	return fmt.Sprintf("the server answered %d", status)
}

func indentJSON(b []byte) []byte {
	var v any
	if json.Unmarshal(b, &v) != nil {
		return b
	}
	out, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return b
	}
	return out
}
