package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/greenpass-dcc/greenpass/hcert"
	"github.com/greenpass-dcc/greenpass/trustlist"
	"github.com/greenpass-dcc/greenpass/verifier"
)

// fileList is a repeatable flag.
type fileList []string

func (f *fileList) String() string     { return strings.Join(*f, ",") }
func (f *fileList) Set(v string) error { *f = append(*f, v); return nil }

func runVerify(ctx context.Context, args []string, std stdio) int {
	fs := flag.NewFlagSet("verify", flag.ContinueOnError)
	var (
		dscFiles    fileList
		trustFile   = fs.String("trust", "", "trusted DSC list `FILE`: CovPass format (signature line + JSON) or the JSON alone; the list's own signature is not checked yet")
		at          = fs.String("at", "", "validation clock as RFC 3339 `TIME` (default: now)")
		asJSON      = fs.Bool("json", false, "print one JSON object per input (JSON Lines)")
		showPerson  = fs.Bool("show-person", false, "print names and date of birth in the human output")
		kidFallback = fs.Bool("kid-fallback", false, "when no trusted DSC has the kid, try every trusted DSC (CovPass/CWA behaviour; off per the EU test vectors)")
	)
	fs.Var(&dscFiles, "dsc", "trusted DSC `FILE` (PEM, Base64 DER or DER); repeatable")
	if code, ok := parseFlags(fs, args, std.err, `Usage: greenpass verify [flags] INPUT...

Verifies each INPUT and prints VALID or INVALID with the reason. INPUT is an
image with the QR code (PNG, JPEG, GIF, WebP), a text file holding the HC1:
string, or - for standard input (image bytes or text, detected).

Exit status: 0 when every input is valid, 1 when any is invalid, 2 for usage
or I/O errors.

Flags:`); !ok {
		return code
	}
	if fs.NArg() == 0 {
		fmt.Fprintln(std.err, "greenpass verify: no INPUT given (a file, or - for standard input)")
		fs.Usage()
		return exitUsage
	}

	var opts []verifier.Option
	if *at != "" {
		clock, err := hcert.ParseDateTime(*at)
		if err != nil {
			fmt.Fprintf(std.err, "greenpass verify: --at %q: %v\n", *at, err)
			return exitUsage
		}
		opts = append(opts, verifier.WithClock(func() time.Time { return clock }))
	}
	if *kidFallback {
		opts = append(opts, verifier.WithKIDFallback())
	}
	trust, err := loadTrust(dscFiles, *trustFile, std.err)
	if err != nil {
		fmt.Fprintf(std.err, "greenpass verify: %v\n", err)
		return exitUsage
	}
	if trust.Len() == 0 {
		fmt.Fprintln(std.err, "greenpass verify: warning: no trusted DSCs (--dsc, --trust); every signature check will fail")
	}
	v := verifier.New(trust, opts...)

	code := exitOK
	stdinUsed := false
	enc := json.NewEncoder(std.out)
	enc.SetEscapeHTML(false)
	for _, in := range fs.Args() {
		if in == "-" {
			if stdinUsed {
				fmt.Fprintln(std.err, "greenpass verify: - given twice; standard input can be read once")
				code = exitUsage
				continue
			}
			stdinUsed = true
		}
		data, err := readInput(in, std.in)
		if err != nil {
			fmt.Fprintf(std.err, "greenpass verify: %v\n", err)
			code = exitUsage
			continue
		}
		var res *verifier.Result
		if text, ok := inputText(data); ok && !verifier.IsImage(data) {
			res = v.VerifyText(ctx, text)
		} else {
			// Images, and bytes that are neither image nor text: the
			// picture stage says what is wrong with them.
			res = v.VerifyImage(ctx, data)
		}
		if *asJSON {
			if err := enc.Encode(struct {
				Input string `json:"input"`
				*verifier.Result
			}{in, res}); err != nil {
				fmt.Fprintf(std.err, "greenpass verify: %v\n", err)
				return exitUsage
			}
		} else {
			fmt.Fprintln(std.out, humanLine(in, res, *showPerson))
		}
		if !res.Valid && code == exitOK {
			code = exitInvalid
		}
	}
	return code
}

// loadTrust builds the trust list from --dsc files and a --trust list.
func loadTrust(dscFiles []string, trustFile string, warn io.Writer) (*trustlist.List, error) {
	var dscs []*trustlist.DSC
	for _, f := range dscFiles {
		raw, err := readLimited(f, trustlist.MaxDocumentSize)
		if err != nil {
			return nil, err
		}
		der, err := trustlist.ParseCertificate(raw)
		if err != nil {
			return nil, fmt.Errorf("--dsc %s: %w", f, err)
		}
		dsc, err := trustlist.NewDSC(der, "")
		if err != nil {
			return nil, fmt.Errorf("--dsc %s: %w", f, err)
		}
		dscs = append(dscs, dsc)
	}
	if trustFile != "" {
		raw, err := readLimited(trustFile, trustlist.MaxDocumentSize)
		if err != nil {
			return nil, err
		}
		doc, err := trustlist.ParseDocument(raw)
		if err != nil {
			return nil, fmt.Errorf("--trust %s: %w", trustFile, err)
		}
		good, bad := doc.DSCs()
		for _, e := range bad {
			fmt.Fprintf(warn, "greenpass verify: --trust %s: skipped %v\n", trustFile, e)
		}
		dscs = append(dscs, good...)
	}
	return trustlist.NewList(dscs...), nil
}

// readInput reads a file, or standard input for "-", up to the image limit.
func readInput(name string, stdin io.Reader) ([]byte, error) {
	if name == "-" {
		data, err := io.ReadAll(io.LimitReader(stdin, verifier.MaxImageBytes+1))
		if err != nil {
			return nil, fmt.Errorf("standard input: %w", err)
		}
		if len(data) > verifier.MaxImageBytes {
			return nil, fmt.Errorf("standard input: more than %d bytes", verifier.MaxImageBytes)
		}
		return data, nil
	}
	return readLimited(name, verifier.MaxImageBytes)
}

func readLimited(name string, limit int64) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s: larger than %d bytes", name, limit)
	}
	return data, nil
}

// inputText turns a text input into the QR text: UTF-8, without a byte order
// mark and surrounding line breaks. Spaces are kept: space is a Base45
// character. ok is false for binary data.
func inputText(data []byte) (text string, ok bool) {
	if !utf8.Valid(data) || bytes.IndexByte(data, 0) >= 0 {
		return "", false
	}
	s := strings.TrimPrefix(string(data), "\uFEFF")
	return strings.Trim(s, "\r\n"), true
}

// humanLine is the one-line verdict. Personal data only when asked for.
func humanLine(input string, r *verifier.Result, showPerson bool) string {
	var b strings.Builder
	b.WriteString(input + ": ")
	if r.Valid {
		b.WriteString("VALID")
	} else {
		b.WriteString("INVALID")
	}
	if r.Type != hcert.TypeUnknown {
		b.WriteString(" " + r.Type.String())
	}
	if r.Issuer != "" {
		b.WriteString(" (" + r.Issuer + ")")
	}
	if reason := r.FirstReason(); reason != nil {
		fmt.Fprintf(&b, " — %s: %s: %s", reason.Stage, reason.Code, reason.Message)
	}
	if showPerson && r.Certificate != nil {
		n := r.Certificate.Name
		fmt.Fprintf(&b, " — %s, %s, born %s", n.Family, n.Given, r.Certificate.DateOfBirth)
	}
	return b.String()
}
