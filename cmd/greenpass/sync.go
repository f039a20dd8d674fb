package main

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/greenpass-dcc/greenpass/blobstore"
	"github.com/greenpass-dcc/greenpass/didtrust"
	"github.com/greenpass-dcc/greenpass/keys"
	"github.com/greenpass-dcc/greenpass/store"
	"github.com/greenpass-dcc/greenpass/trustlist"
	trustlistsync "github.com/greenpass-dcc/greenpass/trustlist-sync"
	"github.com/greenpass-dcc/greenpass/valueset"
)

// Exit codes of greenpass sync besides exitOK and exitUsage. In each
// failure case the last good trust list stays published.
const (
	exitSyncUpstream = 1 // upstream unreachable or invalid, or storage failed
	exitSyncLoss     = 3 // the new list loses too much of the last good one
	exitSyncBusy     = 4 // another sync holds the lease
)

// publishLease is the lease every trust-list publisher takes (the sync, and
// serve publishing its own DSCs), so one writes at a time.
const publishLease = "trustlist-publish"

// syncFlags are the settings of the sync job. serve takes them too, with
// "sync-" in front of the flag names, for its built-in schedule.
type syncFlags struct {
	source, trustAnchor, clientCert, clientKey, ca string
	rulesSource, rulesKey                          string
	maxLoss                                        float64
	keep                                           int
	every, timeout                                 time.Duration
}

func (f *syncFlags) bind(s *settings) {
	s.String(&f.source, "source", "GREENPASS_SYNC_SOURCE", "", "upstream: a gateway base URL (https://…, GET /trustList/{CSCA,UPLOAD,DSC}), a file in its GET /trustList format, or a WHO GDHCN DID trust list (did:web:tng-cdn.who.int:v2:trustlist, or its URL ending in /v2/trustlist)")
	s.String(&f.trustAnchor, "trust-anchor", "GREENPASS_SYNC_TRUST_ANCHOR", "", "the gateway's trust anchor certificate(s) (PEM); for a DID trust list the signing key: its DID document (WHO's signing/DID/did.json), a PEM public key or certificate; required")
	s.String(&f.clientCert, "client-cert", "GREENPASS_SYNC_CLIENT_CERT", "", "PEM client certificate for the gateway's mutual TLS")
	s.String(&f.clientKey, "client-key", "GREENPASS_SYNC_CLIENT_KEY", "", "PEM private key of --client-cert")
	s.String(&f.ca, "ca", "GREENPASS_SYNC_CA", "", "PEM CA certificates for the gateway's TLS (default: the system's)")
	s.String(&f.rulesSource, "rules-source", "GREENPASS_SYNC_RULES_SOURCE", "", "business rules: a DGCA business-rule service base URL (/rules, /valuesets, /countrylist), or a directory or file of rule JSON documents; empty: keep the last published")
	s.String(&f.rulesKey, "rules-key", "GREENPASS_SYNC_RULES_KEY", "", "PEM public key the business-rule service signs with (X-SIGNATURE); checked when set")
	s.Float(&f.maxLoss, "max-loss", "GREENPASS_SYNC_MAX_LOSS", 0.1, "largest share (0–1) of the last good list's DSCs a new list may lack before it is refused")
	s.Int(&f.keep, "keep", "GREENPASS_SYNC_KEEP", 7, "trust-list snapshots kept in the bucket")
	s.Duration(&f.every, "every", "GREENPASS_SYNC_EVERY", 0, "repeat at this interval (e.g. 24h); 0s: once")
	s.Duration(&f.timeout, "timeout", "GREENPASS_SYNC_TIMEOUT", 10*time.Minute, "longest time one sync may take")
}

// syncOptions is the validated sync configuration.
type syncOptions struct {
	source  trustlistsync.Source
	rules   trustlistsync.RulesSource
	anchors []*x509.Certificate
	maxLoss float64
	keep    int
	every   time.Duration
	timeout time.Duration
}

// options validates the settings into options; problems are recorded in s,
// each naming its setting.
func (f *syncFlags) options(s *settings) *syncOptions {
	o := &syncOptions{maxLoss: f.maxLoss, keep: f.keep, every: f.every, timeout: f.timeout}
	s.check(f.maxLoss >= 0 && f.maxLoss <= 1, "max-loss", "%g is not a share between 0 and 1", f.maxLoss)
	s.check(f.keep >= 1, "keep", "%d is not a whole number ≥ 1", f.keep)
	s.check(f.every >= 0, "every", "%s is not a duration like 24h (0s: once)", f.every)
	s.check(f.timeout > 0, "timeout", "%s is not a positive duration", f.timeout)
	isDID := strings.HasPrefix(f.source, "did:") || strings.HasSuffix(strings.TrimSuffix(strings.TrimSuffix(f.source, "/did.json"), "/"), "/v2/trustlist")
	switch src := f.source; {
	case src == "":
		s.bad("source", "required: a gateway URL, a trust-list file or a DID trust list")
	case isDID:
		client, err := gatewayClient("", "", f.ca)
		if err != nil {
			s.bad("ca", "%v", err)
		}
		if !strings.HasPrefix(src, "did:web:") && !strings.HasPrefix(src, "https://") && !strings.HasPrefix(src, "http://") {
			s.bad("source", "%q: a DID trust list is a did:web DID or an http(s) URL", src)
		}
		o.source = &trustlistsync.DID{Base: src, Client: client}
	case strings.HasPrefix(src, "https://") || strings.HasPrefix(src, "http://"):
		client, err := gatewayClient(f.clientCert, f.clientKey, f.ca)
		if err != nil {
			s.bad("client-cert", "%v", err)
		}
		o.source = &trustlistsync.Gateway{Base: src, Client: client}
	default:
		o.source = &trustlistsync.File{Path: src}
	}
	switch rs := f.rulesSource; {
	case rs == "":
	case strings.HasPrefix(rs, "https://") || strings.HasPrefix(rs, "http://"):
		svc := &trustlistsync.RuleService{Base: rs}
		if k := f.rulesKey; k != "" {
			if pem, err := os.ReadFile(k); err != nil {
				s.bad("rules-key", "%v", err)
			} else if svc.Key, err = trustlist.ParsePublicKey(pem); err != nil {
				s.bad("rules-key", "%v", err)
			}
		}
		o.rules = svc
	default:
		if _, err := os.Stat(rs); err != nil {
			s.bad("rules-source", "%v", err)
		}
		o.rules = &trustlistsync.RuleFiles{Path: rs}
	}
	if did, ok := o.source.(*trustlistsync.DID); ok && f.trustAnchor != "" {
		key, err := readDIDKey(f.trustAnchor)
		if err != nil {
			s.bad("trust-anchor", "%v", err)
		}
		did.Key = key
		return o
	}
	if f.trustAnchor == "" {
		s.bad("trust-anchor", "required: the gateway's trust anchor (PEM), or a DID trust list's signing key")
	} else {
		var err error
		if o.anchors, err = readCertificates(f.trustAnchor); err != nil {
			s.bad("trust-anchor", "%v", err)
		}
	}
	return o
}

// readDIDKey reads a DID trust list's signing key: a DID document with
// its JsonWebKey2020 (WHO's signing DID), or a PEM public key or
// certificate. It must be ECDSA P-256.
func readDIDKey(file string) (*ecdsa.PublicKey, error) {
	raw, err := readLimited(file, 1<<20)
	if err != nil {
		return nil, err
	}
	if t := bytes.TrimSpace(raw); len(t) > 0 && t[0] == '{' {
		return didtrust.PublicKeyOf(raw)
	}
	pub, err := trustlist.ParsePublicKey(raw)
	if err != nil {
		return nil, err
	}
	key, ok := pub.(*ecdsa.PublicKey)
	if !ok || key.Curve != elliptic.P256() {
		return nil, fmt.Errorf("%s: the signing key is not ECDSA P-256", file)
	}
	return key, nil
}

// gatewayClient is the HTTP client for the gateway: mutual TLS with the
// client certificate when given, the CA file when given.
func gatewayClient(certFile, keyFile, caFile string) (*http.Client, error) {
	tlsCfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if certFile != "" || keyFile != "" {
		if certFile == "" || keyFile == "" {
			return nil, errors.New("mutual TLS needs both the client certificate and its key")
		}
		pair, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, fmt.Errorf("client certificate: %w", err)
		}
		tlsCfg.Certificates = []tls.Certificate{pair}
	}
	if caFile != "" {
		certs, err := readCertificates(caFile)
		if err != nil {
			return nil, fmt.Errorf("CA file: %w", err)
		}
		tlsCfg.RootCAs = x509.NewCertPool()
		for _, c := range certs {
			tlsCfg.RootCAs.AddCert(c)
		}
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = tlsCfg
	return &http.Client{Transport: tr, Timeout: 5 * time.Minute}, nil
}

// readCertificates reads every CERTIFICATE block of a PEM file.
func readCertificates(path string) ([]*x509.Certificate, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var certs []*x509.Certificate
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, fmt.Errorf("%s holds no PEM certificate", path)
	}
	return certs, nil
}

// storeLock is the publish lease in the store, shared by every instance.
type storeLock struct {
	engine store.Engine
	ttl    time.Duration
}

func (l storeLock) Lock(ctx context.Context) (func(context.Context) error, func(), error) {
	host, _ := os.Hostname()
	lease, err := store.AcquireLease(ctx, l.engine, publishLease, fmt.Sprintf("%s pid %d", host, os.Getpid()), l.ttl, nil)
	if errors.Is(err, store.ErrLeaseHeld) {
		return nil, nil, fmt.Errorf("%w: %w", trustlistsync.ErrBusy, err)
	}
	if err != nil {
		return nil, nil, err
	}
	release := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		lease.Release(ctx)
	}
	return lease.Renew, release, nil
}

// localEntries are this instance's own trust-list entries: its DSCs, CSCA
// and upload certificate, signed as a country's are at the gateway.
func localEntries(set *keys.Set) ([]trustlist.Entry, error) {
	k := trustlistsync.OwnKeys{CSCA: set.CSCA}
	if c := set.CSCA.Subject.Country; len(c) > 0 {
		k.Country = c[0]
	}
	for _, t := range keys.Types {
		k.DSCs = append(k.DSCs, set.DSCs[t].Certificate)
	}
	if set.Upload != nil && set.Anchor != nil {
		k.Upload = &trustlistsync.Signer{Cert: set.Upload.Certificate, Key: set.Upload.Signer}
		k.Anchor = &trustlistsync.Signer{Cert: set.Anchor.Certificate, Key: set.Anchor.Signer}
	}
	return trustlistsync.OwnEntries(k)
}

func runSync(ctx context.Context, args []string, std stdio) int {
	fs := flag.NewFlagSet("sync", flag.ContinueOnError)
	conf := newSettings(fs, os.Getenv, "")
	var storage storageConfig
	storage.bind(conf)
	var flags syncFlags
	flags.bind(conf)
	force := fs.Bool("force", false, "publish even when the new list loses more than --max-loss of the last good one")
	dryRun := fs.Bool("dry-run", false, "fetch and verify, report, publish nothing")
	asJSON := fs.Bool("json", false, "print each report as JSON on stdout")
	if code, ok := parseFlags(fs, args, std.err, `Usage: greenpass sync [flags]

Pulls the upstream gateway's trust list (or a file of the same format),
verifies every entry — the CMS signature by the trust anchor (CSCA, upload
certificates) or by the country's upload certificate (DSCs), each DSC's
chain to a CSCA of its country, validity dates — drops bad entries with the
reason, and publishes the rest with this instance's own DSCs as a new
trust-list snapshot in the bucket, plus plain mirror files (dsc/<kid
hex>.der, trustlist.json, trustlist.json.sig). A list that loses more than
--max-loss of the last good one is not published without --force. When
anything fails, the last good snapshot stays published.

Exit status: 0 published (or dry run), 1 upstream unreachable or invalid
(or storage failed), 2 usage, 3 refused (--max-loss), 4 another sync holds
the lease. With --every it runs until SIGINT/SIGTERM and exits 0.

On one machine with the embedded store, run the sync inside serve
(--sync-every) while serve runs: the store file is serve's.

Flags:`); !ok {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(std.err, "greenpass sync: unexpected argument %q\n", fs.Arg(0))
		return exitUsage
	}
	storage.validate(conf)
	opts := flags.options(conf)
	if err := conf.err(); err != nil {
		fmt.Fprintf(std.err, "greenpass sync: invalid configuration:\n%v\n", err)
		return exitUsage
	}
	log := slog.New(slog.NewTextHandler(std.err, &slog.HandlerOptions{Level: slog.LevelWarn}))

	openCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	job, closeAll, err := openSyncJob(openCtx, storage, opts, *dryRun)
	if err != nil {
		fmt.Fprintf(std.err, "greenpass sync: %v\n", err)
		return exitUsage
	}
	defer closeAll()
	job.log, job.force, job.progress = log, *force, newProgress(std.err)
	report := func(rep *trustlistsync.Report, err error) int {
		if *asJSON {
			enc := json.NewEncoder(std.out)
			enc.Encode(rep)
		} else {
			printSyncReport(std.out, rep)
		}
		code := syncExitCode(err)
		if err != nil {
			fmt.Fprintf(std.err, "greenpass sync: %v\n", err)
		}
		return code
	}
	if opts.every == 0 {
		return report(job.run(ctx))
	}
	for {
		report(job.run(ctx))
		select {
		case <-ctx.Done():
			return exitOK
		case <-time.After(opts.every):
		}
	}
}

// openSyncJob opens what a sync needs. A dry run only reads: no store (so
// no wait for the lock serve holds, no lease), and no file is made — a
// data directory without published lists reads as an empty bucket, one
// without keys as no local DSCs.
func openSyncJob(ctx context.Context, storage storageConfig, opts *syncOptions, dryRun bool) (*syncJob, func(), error) {
	job := &syncJob{opts: opts, dryRun: dryRun}
	var closers []func() error
	closeAll := func() {
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i]()
		}
	}
	fail := func(err error) (*syncJob, func(), error) {
		closeAll()
		return nil, nil, err
	}
	if !dryRun {
		engine, err := storage.open(ctx)
		if err != nil {
			return fail(err)
		}
		closers = append(closers, engine.Close)
		job.engine = engine
	}
	if _, err := os.Stat(filepath.Join(storage.dataDir, "blobs")); dryRun && storage.blobURL == "" && err != nil {
		job.bucket = trustlist.NewMemBucket()
	} else {
		bucket, err := blobstore.Open(ctx, storage.blobURL, storage.dataDir)
		if err != nil {
			return fail(err)
		}
		closers = append(closers, bucket.Close)
		job.bucket = bucket.Objects()
	}
	keyDir := filepath.Join(storage.dataDir, "keys")
	switch set, err := keys.Load(ctx, keyDir, storage.keysSecret); {
	case dryRun && errors.Is(err, keys.ErrNoKeys):
	case err != nil:
		return fail(fmt.Errorf("%w (greenpass keys init makes a key set)", err))
	default:
		job.signer = set.TrustList
		if job.local, err = localEntries(set); err != nil {
			return fail(err)
		}
	}
	return job, closeAll, nil
}

// syncJob is one configured sync, run once or on a schedule (also by serve).
type syncJob struct {
	opts          *syncOptions
	engine        store.Engine // nil for a dry run
	bucket        trustlist.Bucket
	signer        crypto.Signer // the trust-list key; nil for a dry run without keys
	local         []trustlist.Entry
	log           *slog.Logger
	force, dryRun bool
	progress      trustlistsync.Progress
}

func (j *syncJob) run(ctx context.Context) (*trustlistsync.Report, error) {
	ctx, cancel := context.WithTimeout(ctx, j.opts.timeout)
	defer cancel()
	var lock trustlistsync.Lock
	if j.engine != nil {
		lock = storeLock{engine: j.engine, ttl: j.opts.timeout + time.Minute}
	}
	return trustlistsync.Run(ctx, trustlistsync.Config{
		Source: j.opts.source, Anchors: j.opts.anchors,
		Snapshots: trustlist.NewSnapshots(j.bucket, j.opts.keep), Bucket: j.bucket, Signer: j.signer,
		Local: j.local, Lock: lock,
		Rules: j.opts.rules, DefaultValueSets: trustlist.ValueSetEntries(valueset.BuiltinDocuments()),
		MaxLoss: j.opts.maxLoss, Force: j.force, DryRun: j.dryRun, Log: j.log, Progress: j.progress,
	})
}

func syncExitCode(err error) int {
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, trustlistsync.ErrTooMuchLoss):
		return exitSyncLoss
	case errors.Is(err, trustlistsync.ErrBusy):
		return exitSyncBusy
	}
	return exitSyncUpstream
}

func printSyncReport(w io.Writer, r *trustlistsync.Report) {
	state := "not published"
	switch {
	case r.DryRun:
		state = "dry run, nothing published"
	case r.Published:
		state = "published snapshot " + r.Snapshot[:12]
	}
	fmt.Fprintf(w, "%s: %d entries fetched; %d DSCs, %d CSCAs, %d upload certificates accepted, %d own DSCs; %d rules, %d value sets, %d revocations; %d dropped; %s (%s)\n",
		r.Source, r.Fetched, r.Accepted, r.CSCAs, r.Uploads, r.Local, r.Rules, r.ValueSets, r.Revocations, len(r.Dropped), state, r.Duration.Round(time.Millisecond))
	if r.Previous > 0 {
		fmt.Fprintf(w, "  against the last good list: %d of %d DSCs gone (%.1f %%)\n", r.Lost, r.Previous, 100*r.LostShare)
	}
	for code, n := range r.DroppedBy() {
		fmt.Fprintf(w, "  dropped %-14s %d\n", code, n)
	}
	if r.Published {
		fmt.Fprintf(w, "  mirror: %d written, %d unchanged, %d deleted\n", r.Mirror.Written, r.Mirror.Kept, r.Mirror.Deleted)
	}
}

// progress draws a one-line bar on a terminal; elsewhere it is silent (the
// report and the logs say what happened).
type progress struct {
	w    io.Writer
	last string
}

func newProgress(w io.Writer) trustlistsync.Progress {
	if !isTerminal(w) {
		return nil
	}
	return &progress{w: w}
}

// isTerminal reports whether w is a terminal (a character device).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	info, err := f.Stat()
	return err == nil && info.Mode()&os.ModeCharDevice != 0
}

func (p *progress) Step(name string, done, total int64) {
	var line string
	switch {
	case total > 0:
		const width = 30
		n := int(width * done / total)
		line = fmt.Sprintf("%-8s [%s%s] %d/%d", name, strings.Repeat("#", n), strings.Repeat(" ", width-n), done, total)
	case done > 0:
		line = fmt.Sprintf("%-8s %.1f MB", name, float64(done)/1e6)
	default:
		line = name + " …"
	}
	if line == p.last {
		return
	}
	p.last = line
	fmt.Fprintf(p.w, "\r\033[K%s", line)
	if name == "mirror" || total > 0 && done == total {
		fmt.Fprintln(p.w)
	}
}
