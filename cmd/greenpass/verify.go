package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/greenpass-dcc/greenpass/hcert"
	"github.com/greenpass-dcc/greenpass/qrscan"
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
		trustFile   = fs.String("trust", "", "trusted DSC list: a `FILE` or an http(s) URL (a greenpass server's base URL, or the list's URL) in the CovPass format (signature line + JSON); a URL needs --trust-key")
		trustKey    = fs.String("trust-key", "", "the trust-list signing key to pin (`FILE`: PEM public key or certificate, e.g. DATA/keys/trustlist.pub.pem or GET /trustList/signing-key); the list's signature must verify under it")
		maxAge      = fs.Duration("trust-max-age", 48*time.Hour, "warn when the trust list is older than this (it is still used)")
		country     = fs.String("country", "", "the checkpoint's country `CC`: check its acceptance rules and the issuing country's invalidation rules (rules from --rules or the --trust server)")
		region      = fs.String("region", "", "the checkpoint's region, for regional rules")
		rulesFile   = fs.String("rules", "", "business rules `FILE` (one rule or a JSON array, the gateway's format) for --country")
		at          = fs.String("at", "", "validation clock as an RFC 3339 `TIME`; without an offset it is UTC (default: now)")
		asJSON      = fs.Bool("json", false, "print one JSON object per input (JSON Lines)")
		showPerson  = fs.Bool("show-person", false, "print names and date of birth in the human output")
		kidFallback = fs.Bool("kid-fallback", false, "when no trusted DSC has the kid, try every trusted DSC (CovPass/CWA behaviour; off per the EU test vectors)")
	)
	fs.Var(&dscFiles, "dsc", "trusted DSC `FILE` (PEM, Base64 DER or DER); repeatable")
	if code, ok := parseFlags(fs, args, std.err, `Usage: greenpass verify [flags] INPUT...

Verifies each INPUT and prints VALID or INVALID with the reason. INPUT is an
image with the QR code (PNG, JPEG, GIF, WebP), a PDF holding it as an image
(the certificate's printable PDF), a text file holding the HC1: string, or -
for standard input (image, PDF or text, detected).

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
	src := trustSource{*trustFile, *trustKey, *maxAge}
	trust, pinned, err := loadTrust(ctx, dscFiles, src, std.err)
	if err != nil {
		fmt.Fprintf(std.err, "greenpass verify: %v\n", err)
		return exitUsage
	}
	extra, err := policyOptions(ctx, src, pinned, *country, *region, *rulesFile, std.err)
	if err != nil {
		fmt.Fprintf(std.err, "greenpass verify: %v\n", err)
		return exitUsage
	}
	opts = append(opts, extra...)
	if trust.Len() == 0 {
		fmt.Fprintln(std.err, "greenpass verify: warning: no trusted DSCs (--dsc, --trust); every signature check will fail")
	}
	v := verifier.New(trust, opts...)

	// Results go out a line at a time to a terminal, and in blocks to a
	// pipe or a file, as the standard tools write: a write per result to
	// a pipe (and the reader's wake-up) was about 2 % of the CPU of
	// verifying the photo corpus on the 2-core VM. Standard output is flushed
	// before anything goes to standard error and before standard input is
	// read, so that the two streams keep their order.
	out := bufio.NewWriter(std.out)
	defer out.Flush() // on the early returns; the last one checks it
	lineByLine := isTerminal(std.out)
	warn := func(format string, args ...any) {
		out.Flush()
		fmt.Fprintf(std.err, "greenpass verify: "+format+"\n", args...)
	}
	code := exitOK
	stdinUsed := false
	enc := json.NewEncoder(out)
	enc.SetEscapeHTML(false)
	for _, in := range fs.Args() {
		if in == "-" {
			if stdinUsed {
				warn("- given twice; standard input can be read once")
				code = exitUsage
				continue
			}
			stdinUsed = true
			out.Flush()
		}
		data, err := readInput(in, std.in)
		if err != nil {
			warn("%v", err)
			code = exitUsage
			continue
		}
		var res *verifier.Result
		if text, ok := inputText(data); ok && !verifier.IsPicture(data) {
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
				warn("%v", err)
				return exitUsage
			}
		} else {
			fmt.Fprintln(out, humanLine(in, res, *showPerson))
		}
		if lineByLine {
			out.Flush()
		}
		if !res.Valid && code == exitOK {
			code = exitInvalid
		}
	}
	if err := out.Flush(); err != nil {
		fmt.Fprintf(std.err, "greenpass verify: %v\n", err)
		return exitUsage
	}
	return code
}

// trustSource is where --trust comes from and how it is checked.
type trustSource struct {
	location string // file or URL
	keyFile  string // pinned trust-list key
	maxAge   time.Duration
}

func (t trustSource) isURL() bool {
	return strings.HasPrefix(t.location, "https://") || strings.HasPrefix(t.location, "http://")
}

// policyOptions adds the revocation list (from a --trust server) and the
// business rules (--rules, else the --trust server) for --country.
func policyOptions(ctx context.Context, src trustSource, pinned crypto.PublicKey, country, region, rulesFile string, warn io.Writer) ([]verifier.Option, error) {
	var opts []verifier.Option
	base := ""
	if src.isURL() {
		base = serverBase(src.location)
		revs, err := (&trustlist.Client{Base: base, Pinned: pinned}).Revocations(ctx)
		switch {
		case errors.Is(err, trustlist.ErrNotServed):
			fmt.Fprintf(warn, "greenpass verify: warning: %s publishes no revocation list; revocation is not checked\n", base)
		case err != nil:
			return nil, fmt.Errorf("revocation list: %w", err)
		default:
			opts = append(opts, verifier.WithRevocation(revs))
		}
	}
	if country == "" {
		if rulesFile != "" {
			return nil, errors.New("--rules without --country: whose acceptance rules?")
		}
		return opts, nil
	}
	if len(country) != 2 || strings.ToUpper(country) != country {
		return nil, fmt.Errorf("--country %q is not two upper-case letters", country)
	}
	var bundle *ruleBundle
	switch {
	case rulesFile != "":
		rules, err := readRules(rulesFile)
		if err != nil {
			return nil, err
		}
		bundle = &ruleBundle{rules: rules, valueSets: builtinValueSets()}
	case base != "":
		rules, valueSets, err := (&trustlist.Client{Base: base, Pinned: pinned}).Rules(ctx)
		if err != nil {
			return nil, fmt.Errorf("business rules: %w", err)
		}
		bundle = &ruleBundle{rules: rules, valueSets: valueSets}
	default:
		return nil, errors.New("--country needs business rules: --rules FILE, or --trust URL of a server that publishes them")
	}
	return append(opts, verifier.WithRules(bundle, country, region)), nil
}

// loadTrust builds the trust list from --dsc files and a --trust list,
// and returns the pinned key it was checked with (nil without one).
func loadTrust(ctx context.Context, dscFiles []string, src trustSource, warn io.Writer) (*trustlist.List, crypto.PublicKey, error) {
	var dscs []*trustlist.DSC
	for _, f := range dscFiles {
		raw, err := readLimited(f, trustlist.MaxDocumentSize)
		if err != nil {
			return nil, nil, err
		}
		der, err := trustlist.ParseCertificate(raw)
		if err != nil {
			return nil, nil, fmt.Errorf("--dsc %s: %w", f, err)
		}
		dsc, err := trustlist.NewDSC(der, "")
		if err != nil {
			return nil, nil, fmt.Errorf("--dsc %s: %w", f, err)
		}
		dscs = append(dscs, dsc)
	}
	if src.location == "" {
		if src.keyFile != "" {
			return nil, nil, errors.New("--trust-key without --trust")
		}
		return trustlist.NewList(dscs...), nil, nil
	}
	var raw []byte
	var err error
	if src.isURL() {
		if src.keyFile == "" {
			return nil, nil, fmt.Errorf("--trust %s: a downloaded list needs --trust-key, the key it must be signed with", src.location)
		}
		raw, _, err = (&trustlist.Client{Base: trustListURL(src.location)}).Get(ctx, "", trustlist.MaxDocumentSize, nil)
	} else {
		raw, err = readLimited(src.location, trustlist.MaxDocumentSize)
	}
	if err != nil {
		return nil, nil, err
	}
	doc, err := trustlist.ParseDocument(raw)
	if err != nil {
		return nil, nil, fmt.Errorf("--trust %s: %w", src.location, err)
	}
	var pinned crypto.PublicKey
	if src.keyFile == "" {
		fmt.Fprintf(warn, "greenpass verify: warning: the signature of %s is not checked (no --trust-key)\n", src.location)
	} else {
		keyPEM, err := readLimited(src.keyFile, 1<<20)
		if err != nil {
			return nil, nil, err
		}
		pub, err := trustlist.ParsePublicKey(keyPEM)
		pinned = pub
		if err != nil {
			return nil, nil, fmt.Errorf("--trust-key %s: %w", src.keyFile, err)
		}
		if err := doc.Verify(pub); err != nil {
			return nil, nil, fmt.Errorf("--trust %s: %w under --trust-key %s; not used", src.location, err, src.keyFile)
		}
	}
	if !doc.IssuedAt.IsZero() {
		if age := time.Since(doc.IssuedAt); age > src.maxAge {
			fmt.Fprintf(warn, "greenpass verify: warning: the trust list was issued %s, %s ago (more than --trust-max-age %s); revoked or new keys may be missing\n",
				doc.IssuedAt.UTC().Format(time.RFC3339), age.Round(time.Second), src.maxAge)
		}
	}
	good, bad := doc.DSCs()
	for _, e := range bad {
		fmt.Fprintf(warn, "greenpass verify: --trust %s: skipped %v\n", src.location, e)
	}
	return trustlist.NewList(append(dscs, good...)...), pinned, nil
}

// trustListURL is the CovPass list's URL: a server's base URL gets
// /trustList/DSC/ appended, any other URL is taken as it is.
func trustListURL(location string) string {
	u, err := url.Parse(location)
	if err != nil || (u.Path != "" && u.Path != "/") {
		return location
	}
	u.Path = "/trustList/DSC/"
	return u.String()
}

// readInput reads a file, or standard input for "-", up to the image limit.
func readInput(name string, stdin io.Reader) ([]byte, error) {
	if name == "-" {
		data, err := io.ReadAll(io.LimitReader(stdin, qrscan.MaxImageBytes+1))
		if err != nil {
			return nil, fmt.Errorf("standard input: %w", err)
		}
		if len(data) > qrscan.MaxImageBytes {
			return nil, fmt.Errorf("standard input: more than %d bytes", qrscan.MaxImageBytes)
		}
		return data, nil
	}
	return readLimited(name, qrscan.MaxImageBytes)
}

// readLimited reads a file of at most limit bytes. A regular file is read
// into a buffer of its size (one byte more shows one that grew), not one
// grown while reading: for a 240 KB image half the time and memory.
func readLimited(name string, limit int64) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var data []byte
	if st, serr := f.Stat(); serr == nil && st.Mode().IsRegular() && st.Size() <= limit {
		data = make([]byte, st.Size()+1)
		var n int
		n, err = io.ReadFull(f, data)
		switch {
		case err == io.EOF || err == io.ErrUnexpectedEOF:
			err = nil
		case err == nil: // it grew since: read on, as far as the limit
			var rest []byte
			rest, err = io.ReadAll(io.LimitReader(f, limit+1-int64(n)))
			data = append(data, rest...)
			n = len(data)
		}
		data = data[:n]
	} else {
		data, err = io.ReadAll(io.LimitReader(f, limit+1))
	}
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
