package main

import (
	"context"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/greenpass-dcc/greenpass/hcert"
	"github.com/greenpass-dcc/greenpass/render"
	"github.com/greenpass-dcc/greenpass/trustlist"
	"github.com/greenpass-dcc/greenpass/valueset"
	"github.com/greenpass-dcc/greenpass/verifier"
	"github.com/greenpass-dcc/greenpass/wallet"
)

func runWallet(ctx context.Context, args []string, std stdio) int {
	usage := func(w io.Writer) {
		fmt.Fprintln(w, `Usage: greenpass wallet register|fetch|list|show [flags]

Acts as a wallet app (the Corona-Warn-App's certificate transfer):
  register  register this wallet's device key for a test at a server
  fetch     pick up the certificates of registered tests (polls until there),
            decrypt them, verify them against the server's signed trust list
  list      list the certificates in the wallet
  show N    show certificate N (names, birth date, details; --qr writes the QR)

The wallet lives in --dir (env GREENPASS_WALLET_DIR; default: the user's
config directory/greenpass-wallet): the RSA-3072 device key and wallet.json,
both readable by the owner only. Run "greenpass wallet COMMAND --help".`)
	}
	if len(args) == 0 {
		usage(std.err)
		return exitUsage
	}
	switch args[0] {
	case "register":
		return walletRegister(ctx, args[1:], std)
	case "fetch":
		return walletFetch(ctx, args[1:], std)
	case "list":
		return walletList(args[1:], std)
	case "show":
		return walletShow(args[1:], std)
	case "help", "-h", "--help":
		usage(std.out)
		return exitOK
	}
	fmt.Fprintf(std.err, "greenpass wallet: unknown command %q\n", args[0])
	usage(std.err)
	return exitUsage
}

func defaultWalletDir() string {
	if d := os.Getenv("GREENPASS_WALLET_DIR"); d != "" {
		return d
	}
	if d, err := os.UserConfigDir(); err == nil {
		return filepath.Join(d, "greenpass-wallet")
	}
	return ".greenpass-wallet"
}

// openWallet opens the wallet directory and loads its state, and with
// withKey its device key (made on first use); on failure it prints why
// and ok is false.
func openWallet(dir string, withKey bool, stderr io.Writer) (d *wallet.Dir, st *wallet.State, key *rsa.PrivateKey, ok bool) {
	d, err := wallet.OpenDir(dir)
	if err == nil && withKey {
		key, err = d.DeviceKey()
	}
	if err == nil {
		st, err = d.Load()
	}
	if err != nil {
		fmt.Fprintf(stderr, "greenpass wallet: %v\n", err)
		return nil, nil, nil, false
	}
	return d, st, key, true
}

// guidPattern is a GUID as a receipt's QR code carries it.
var guidPattern = regexp.MustCompile(`^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$`)

// testIDFrom accepts the test id (64 hex) or the GUID of the receipt,
// which it hashes as the app does; anything else is a typo, refused
// rather than hashed into a test no lab will ever announce.
func testIDFrom(s string) (string, error) {
	if id, err := wallet.TestID(s); err == nil {
		return id, nil
	}
	if !guidPattern.MatchString(s) {
		return "", errors.New("--test-id: neither a GUID (8-4-4-4-12 hexadecimal digits) nor a test id (64 hexadecimal digits)")
	}
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:]), nil
}

func walletRegister(ctx context.Context, args []string, std stdio) int {
	fs := flag.NewFlagSet("wallet register", flag.ContinueOnError)
	dir := fs.String("dir", defaultWalletDir(), "wallet `directory`")
	server := fs.String("server", "", "the server's base `URL` (required)")
	testID := fs.String("test-id", "", "the test's GUID from the receipt, or its SHA-256 hex (required)")
	trustKey := fs.String("trust-key", "", "the server's trust-list key to pin (`FILE`, PEM); default: fetched from the server now and pinned (trust on first use)")
	if code, ok := parseFlags(fs, args, std.err, "Usage: greenpass wallet register --server URL --test-id ID [flags]\n\nRegisters this wallet's device key for a test.\n\nFlags:"); !ok {
		return code
	}
	if *server == "" || *testID == "" {
		fmt.Fprintln(std.err, "greenpass wallet register: --server and --test-id are required")
		return exitUsage
	}
	id, err := testIDFrom(*testID)
	if err != nil {
		fmt.Fprintf(std.err, "greenpass wallet register: %v\n", err)
		return exitUsage
	}
	d, st, key, ok := openWallet(*dir, true, std.err)
	if !ok {
		return exitUsage
	}
	c := &wallet.Client{Base: *server}
	var pinned []byte
	if *trustKey != "" {
		if pinned, err = os.ReadFile(*trustKey); err == nil {
			_, err = trustlist.ParsePublicKey(pinned)
		}
	} else {
		_, pinned, err = (&trustlist.Client{Base: *server}).SigningKey(ctx)
	}
	if err != nil {
		fmt.Fprintf(std.err, "greenpass wallet register: trust-list key: %v\n", err)
		return exitUsage
	}
	// The server gives a test's token once: a wallet that registered
	// before uses the token it holds (registering its key again is a
	// no-op on the server).
	token, found := "", false
	for _, r := range st.Registrations {
		if r.TestID == id && r.Server == strings.TrimRight(*server, "/") {
			token, found = r.Token, true
		}
	}
	if !found {
		token, err = c.RegistrationToken(ctx, id)
	}
	if err == nil {
		err = c.RegisterKey(ctx, token, &key.PublicKey)
	}
	if err != nil {
		fmt.Fprintf(std.err, "greenpass wallet register: %v\n", err)
		return exitInvalid
	}
	if !found {
		st.Registrations = append(st.Registrations, wallet.Registration{Server: strings.TrimRight(*server, "/"), TestID: id,
			Token: token, TrustKey: string(pinned), RegisteredAt: time.Now().UTC()})
	}
	if err := d.Save(st); err != nil {
		fmt.Fprintf(std.err, "greenpass wallet: %v\n", err)
		return exitUsage
	}
	fmt.Fprintf(std.out, "registered for test %s… at %s; run \"greenpass wallet fetch\" when the result is in\n", id[:12], *server)
	return exitOK
}

func walletFetch(ctx context.Context, args []string, std stdio) int {
	fs := flag.NewFlagSet("wallet fetch", flag.ContinueOnError)
	dir := fs.String("dir", defaultWalletDir(), "wallet `directory`")
	timeout := fs.Duration("timeout", 2*time.Minute, "how long to wait for pending certificates")
	if code, ok := parseFlags(fs, args, std.err, "Usage: greenpass wallet fetch [flags]\n\nPicks up the certificates of all registered tests.\n\nExit status: 0 all fetched, 1 some still pending or refused, 2 usage.\n\nFlags:"); !ok {
		return code
	}
	d, st, key, ok := openWallet(*dir, true, std.err)
	if !ok {
		return exitUsage
	}
	if len(st.Registrations) == 0 {
		fmt.Fprintln(std.out, "no registered tests (greenpass wallet register)")
		return exitOK
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	code := exitOK
	var keep []wallet.Registration
	for _, reg := range st.Registrations {
		label := "test " + reg.TestID[:12] + "…"
		c := &wallet.Client{Base: reg.Server}
		hc1, err := c.Fetch(ctx, reg.Token, key, time.Second, func(d time.Duration) {
			fmt.Fprintf(std.err, "%s: not there yet, asking again in %s\n", label, d)
		})
		if errors.Is(err, wallet.ErrPending) {
			fmt.Fprintf(std.out, "%s: still pending\n", label)
			keep, code = append(keep, reg), exitInvalid
			continue
		}
		if errors.Is(err, wallet.ErrGone) || errors.Is(err, wallet.ErrUnknownToken) {
			fmt.Fprintf(std.out, "%s: %v; registration dropped\n", label, err)
			code = exitInvalid
			continue
		}
		if err != nil {
			fmt.Fprintf(std.out, "%s: %v\n", label, err)
			keep, code = append(keep, reg), exitInvalid
			continue
		}
		res, err := verifyWithServer(ctx, reg, hc1)
		if err != nil {
			fmt.Fprintf(std.out, "%s: cannot check the certificate: %v\n", label, err)
			keep, code = append(keep, reg), exitInvalid
			continue
		}
		if !res.Valid {
			r := res.FirstReason()
			fmt.Fprintf(std.out, "%s: certificate refused, %s: %s\n", label, r.Code, r.Message)
			keep, code = append(keep, reg), exitInvalid
			continue
		}
		st.Certificates = append(st.Certificates, wallet.Stored{HC1: hc1, Server: reg.Server, AddedAt: time.Now().UTC()})
		fmt.Fprintf(std.out, "%s: %s certificate added as #%d\n", label, res.Type, len(st.Certificates))
	}
	st.Registrations = keep
	if err := d.Save(st); err != nil {
		fmt.Fprintf(std.err, "greenpass wallet: %v\n", err)
		return exitUsage
	}
	return code
}

// verifyWithServer checks a picked-up certificate against the server's
// trust list, signed with the key pinned at registration.
func verifyWithServer(ctx context.Context, reg wallet.Registration, hc1 string) (*verifier.Result, error) {
	pinned, err := trustlist.ParsePublicKey([]byte(reg.TrustKey))
	if err != nil {
		return nil, fmt.Errorf("pinned trust-list key: %w", err)
	}
	doc, err := (&trustlist.Client{Base: reg.Server, Pinned: pinned}).DSCList(ctx, "/trustList/DSC/")
	if err != nil {
		return nil, err
	}
	dscs, _ := doc.DSCs()
	return verifier.New(trustlist.NewList(dscs...)).VerifyText(ctx, hc1), nil
}

// storedCert is a stored certificate as the wallet shows it.
type storedCert struct {
	Type                hcert.Type
	Certificate         *hcert.Certificate // nil when it does not decode
	IssuedAt, ExpiresAt *time.Time
}

// decoded reads a stored certificate without checking its signature: it
// was checked against the server's trust list when it was fetched.
func decoded(s wallet.Stored) *storedCert {
	out := &storedCert{}
	u, err := hcert.Decode(s.HC1)
	if err != nil {
		return out
	}
	claims, cert, err := u.Unchecked()
	if claims != nil {
		out.IssuedAt, out.ExpiresAt = &claims.IssuedAt, &claims.ExpiresAt
	}
	if err == nil {
		out.Certificate, out.Type = cert, cert.Type()
	}
	return out
}

func walletList(args []string, std stdio) int {
	fs := flag.NewFlagSet("wallet list", flag.ContinueOnError)
	dir := fs.String("dir", defaultWalletDir(), "wallet `directory`")
	if code, ok := parseFlags(fs, args, std.err, "Usage: greenpass wallet list [flags]\n\nFlags:"); !ok {
		return code
	}
	_, st, _, ok := openWallet(*dir, false, std.err)
	if !ok {
		return exitUsage
	}
	for _, r := range st.Registrations {
		fmt.Fprintf(std.out, "-   pending      test %s… at %s\n", r.TestID[:12], r.Server)
	}
	for i, s := range st.Certificates {
		r := decoded(s)
		exp := "?"
		if r.ExpiresAt != nil {
			exp = r.ExpiresAt.UTC().Format(time.DateOnly)
		}
		fmt.Fprintf(std.out, "%-3d %-12s %s, %s, valid until %s, %s\n", i+1, r.Type, countryOf(r), eventDate(r), exp, uvciOf(r))
	}
	if len(st.Certificates)+len(st.Registrations) == 0 {
		fmt.Fprintln(std.out, "the wallet is empty")
	}
	return exitOK
}

func walletShow(args []string, std stdio) int {
	fs := flag.NewFlagSet("wallet show", flag.ContinueOnError)
	dir := fs.String("dir", defaultWalletDir(), "wallet `directory`")
	qr := fs.String("qr", "", "write the QR code as PNG to `FILE`")
	if code, ok := parseFlags(fs, args, std.err, "Usage: greenpass wallet show N [flags]\n\nFlags:"); !ok {
		return code
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(std.err, "greenpass wallet show: give the certificate's number (greenpass wallet list)")
		return exitUsage
	}
	n, err := strconv.Atoi(fs.Arg(0))
	_, st, _, ok := openWallet(*dir, false, std.err)
	if !ok {
		return exitUsage
	}
	if err != nil || n < 1 || n > len(st.Certificates) {
		fmt.Fprintf(std.err, "greenpass wallet show: no certificate #%s (the wallet holds %d)\n", fs.Arg(0), len(st.Certificates))
		return exitUsage
	}
	s := st.Certificates[n-1]
	r := decoded(s)
	c := r.Certificate
	if c == nil {
		fmt.Fprintln(std.err, "greenpass wallet show: the stored certificate does not decode")
		return exitInvalid
	}
	vs := valueset.Builtin() // names for the codes, as on the printout
	fmt.Fprintf(std.out, "#%d %s certificate\n", n, r.Type)
	fmt.Fprintf(std.out, "  name           %s, %s (%s<<%s)\n", c.Name.Family, c.Name.Given, c.Name.FamilyStandard, c.Name.GivenStandard)
	fmt.Fprintf(std.out, "  date of birth  %s\n", c.DateOfBirth)
	for _, v := range c.Vaccinations {
		fmt.Fprintf(std.out, "  vaccination    dose %d of %d on %s, %s\n", v.DoseNumber, v.TotalDoses, v.Date, vs.Display(valueset.Product, v.Product))
	}
	for _, t := range c.Tests {
		fmt.Fprintf(std.out, "  test           %s, sampled %s, %s, centre %s\n", vs.Display(valueset.TestType, t.TestType), t.SampledAt,
			vs.Display(valueset.TestResult, t.Result), t.Centre)
	}
	for _, rc := range c.Recoveries {
		fmt.Fprintf(std.out, "  recovery       first positive %s, valid %s to %s\n", rc.FirstPositive, rc.ValidFrom, rc.ValidUntil)
	}
	fmt.Fprintf(std.out, "  issued by      %s (%s)\n  UVCI           %s\n", issuerOf(r), countryOf(r), uvciOf(r))
	if r.IssuedAt != nil && r.ExpiresAt != nil {
		fmt.Fprintf(std.out, "  signed         %s, valid until %s (UTC)\n", r.IssuedAt.UTC().Format(time.DateTime), r.ExpiresAt.UTC().Format(time.DateTime))
	}
	if *qr != "" {
		png, err := render.PNG(s.HC1, 6)
		if err == nil {
			err = os.WriteFile(*qr, png, 0o600)
		}
		if err != nil {
			fmt.Fprintf(std.err, "greenpass wallet show: %v\n", err)
			return exitUsage
		}
		fmt.Fprintf(std.out, "  QR code        %s\n", *qr)
	}
	return exitOK
}

// entry fields of a decoded certificate, whatever its type.
func entryField(r *storedCert, f func(co, is, ci, date string) string) string {
	c := r.Certificate
	switch {
	case c == nil:
		return "?"
	case len(c.Vaccinations) > 0:
		v := c.Vaccinations[0]
		return f(v.Country, v.Issuer, v.ID, v.Date)
	case len(c.Tests) > 0:
		t := c.Tests[0]
		return f(t.Country, t.Issuer, t.ID, t.SampledAt)
	case len(c.Recoveries) > 0:
		rc := c.Recoveries[0]
		return f(rc.Country, rc.Issuer, rc.ID, rc.FirstPositive)
	}
	return "?"
}

func countryOf(r *storedCert) string {
	return entryField(r, func(co, _, _, _ string) string { return co })
}
func issuerOf(r *storedCert) string {
	return entryField(r, func(_, is, _, _ string) string { return is })
}
func uvciOf(r *storedCert) string {
	return entryField(r, func(_, _, ci, _ string) string { return ci })
}
func eventDate(r *storedCert) string {
	return entryField(r, func(_, _, _, d string) string { return d })
}
