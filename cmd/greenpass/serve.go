package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/greenpass-dcc/greenpass/admission"
	"github.com/greenpass-dcc/greenpass/auth"
	"github.com/greenpass-dcc/greenpass/blobstore"
	"github.com/greenpass-dcc/greenpass/hcert"
	"github.com/greenpass-dcc/greenpass/issuer"
	"github.com/greenpass-dcc/greenpass/keys"
	"github.com/greenpass-dcc/greenpass/server"
	"github.com/greenpass-dcc/greenpass/store"
	"github.com/greenpass-dcc/greenpass/store/bolt"
	"github.com/greenpass-dcc/greenpass/store/mongo"
	"github.com/greenpass-dcc/greenpass/trustlist"
	trustlistsync "github.com/greenpass-dcc/greenpass/trustlist-sync"
	"github.com/greenpass-dcc/greenpass/valueset"
	"github.com/greenpass-dcc/greenpass/verifier"
	"github.com/greenpass-dcc/greenpass/wallet"
)

// serveConfig is everything `greenpass serve` is configured with.
type serveConfig struct {
	storageConfig
	addr            string
	shutdownTimeout time.Duration
	sweepInterval   time.Duration
	trustRefresh    time.Duration
	logFormat       string
	logLevel        string
	didHost         string
	// sync is the built-in trust-list sync; nil when --sync-source is unset.
	sync      *syncOptions
	syncFlags syncFlags

	issuerName  string
	validityV   time.Duration
	validityT   time.Duration
	validityR   time.Duration
	maxInFlight int
	maxQueue    int
	queueWait   time.Duration
	schedTarget time.Duration // 0: the issuance gate's limit stays put
	issuerRate  float64
	issuerBurst int
	jwksURL     string
	tokenMaxTTL time.Duration
	// suspensionRefresh is how soon another instance's suspension holds here.
	suspensionRefresh time.Duration
	jwksIssuer        string
	jwksAlgorithms    []string
	// jwksAlgorithmList is --jwks-algorithms as given, comma-separated.
	jwksAlgorithmList string

	transferTokenTTL  time.Duration
	transferRetention time.Duration
	transferGrace     time.Duration
	pickupRate        float64
	pickupBurst       int

	checkpointCountry     string
	checkpointRegion      string
	checkpointAuth        string
	checkpointKey         string
	checkpointInflight    int
	checkpointBudget      time.Duration
	checkpointFrameBudget time.Duration
	checkpointBodyTimeout time.Duration
	checkpointMemoryMB    int
}

// storageConfig is where an instance keeps its state; serve and sync
// share it.
type storageConfig struct {
	dataDir, mongoURI, mongoDB, blobURL, keysSecret string
}

func (c *storageConfig) bind(s *settings) {
	s.String(&c.dataDir, "data", "GREENPASS_DATA", "./data", "data directory: embedded store, default blob folder, keys")
	s.String(&c.mongoURI, "mongodb-uri", "MONGODB_URI", "", "MongoDB connection string; empty: the embedded store under --data")
	s.String(&c.mongoDB, "mongodb-db", "GREENPASS_MONGODB_DB", "greenpass", "MongoDB database name")
	s.String(&c.blobURL, "blob-url", "BLOB_URL", "", "trust-list bucket URL (s3://, gs://, azblob://, file://, mem://); empty: DATA/blobs")
	s.String(&c.keysSecret, "keys-secret", "GREENPASS_KEYS_SECRET", "", "secrets keeper URL the private keys in DATA/keys are encrypted with; empty: plain PEM")
}

func (c *storageConfig) validate(s *settings) {
	s.check(c.dataDir != "", "data", "must not be empty")
}

// open opens the store: MongoDB with a URI, else the embedded store, whose
// file one process at a time may hold.
func (c *storageConfig) open(ctx context.Context) (store.Engine, error) {
	if c.mongoURI != "" {
		return mongo.Open(ctx, c.mongoURI, c.mongoDB, nil)
	}
	e, err := bolt.Open(c.dataDir, nil)
	if err != nil && strings.Contains(err.Error(), "timeout") {
		return nil, fmt.Errorf("%w (another greenpass process — serve? — holds the embedded store under %s)", err, c.dataDir)
	}
	return e, err
}

// bind declares serve's settings on s, and the built-in sync's on sync
// (prefix "sync-").
func (c *serveConfig) bind(s, sync *settings) {
	c.storageConfig.bind(s)
	s.String(&c.addr, "addr", "GREENPASS_ADDR", ":8080", "listen address HOST:PORT")
	s.Duration(&c.shutdownTimeout, "shutdown-timeout", "GREENPASS_SHUTDOWN_TIMEOUT", 30*time.Second, "how long in-flight requests may finish after SIGTERM")
	s.Duration(&c.sweepInterval, "sweep-interval", "GREENPASS_SWEEP_INTERVAL", time.Minute, "how often expired records are deleted")
	s.Duration(&c.trustRefresh, "trust-refresh", "GREENPASS_TRUST_REFRESH", 30*time.Second, "how often the published trust list is checked for a new snapshot")
	s.String(&c.didHost, "did-host", "GREENPASS_DID_HOST", "", "host[:port] the DID trust lists (/v2/trustlist/…/did.json) are named under (did:web:HOST:v2:trustlist), as verifiers reach this service; empty: the request's Host")
	s.String(&c.logFormat, "log-format", "GREENPASS_LOG_FORMAT", "json", "log format: json or text")
	s.String(&c.logLevel, "log-level", "GREENPASS_LOG_LEVEL", "info", "log level: debug, info, warn, error")
	s.String(&c.issuerName, "issuer-name", "GREENPASS_ISSUER_NAME", "greenpass", `certificate issuer ("is") for issuer tokens without a name`)
	s.Duration(&c.validityV, "validity-vaccination", "GREENPASS_VALIDITY_VACCINATION", 8760*time.Hour, "validity of vaccination certificates (exp - iat)")
	s.Duration(&c.validityT, "validity-test", "GREENPASS_VALIDITY_TEST", 72*time.Hour, "validity of test certificates")
	s.Duration(&c.validityR, "validity-recovery", "GREENPASS_VALIDITY_RECOVERY", 4320*time.Hour, "validity of recovery certificates (never past du)")
	s.Int(&c.maxInFlight, "max-inflight", "GREENPASS_MAX_INFLIGHT", 256, "issuance requests worked on at once")
	s.Int(&c.maxQueue, "max-queue", "GREENPASS_MAX_QUEUE", 256, "issuance requests that may wait for a slot; more get 503")
	s.Duration(&c.queueWait, "queue-wait", "GREENPASS_QUEUE_WAIT", 3*time.Millisecond, "longest wait for a slot before 503")
	s.Duration(&c.schedTarget, "sched-target", "GREENPASS_SCHED_TARGET", 5*time.Millisecond, "CPU wait (Go scheduler latency, 90th percentile) above which fewer issuance requests are admitted at once, between 4 and --max-inflight (0: always --max-inflight)")
	s.Float(&c.issuerRate, "issuer-rate", "GREENPASS_ISSUER_RATE", 20, "issuance requests per second per issuer (0: unlimited); more get 429")
	s.Int(&c.issuerBurst, "issuer-burst", "GREENPASS_ISSUER_BURST", 40, "burst allowed above --issuer-rate")
	s.Duration(&c.tokenMaxTTL, "issuer-token-max-ttl", "GREENPASS_ISSUER_TOKEN_MAX_TTL", auth.DefaultMaxLifetime, "longest lifetime (exp - iat) of an issuer token, ours or the identity provider's; longer ones get 401")
	s.Duration(&c.suspensionRefresh, "suspension-refresh", "GREENPASS_SUSPENSION_REFRESH", time.Second, "how often suspended issuers are re-read from the store: a suspension made on another instance holds here within it")
	s.String(&c.jwksURL, "jwks-url", "GREENPASS_JWKS_URL", "", "identity provider's JWK Set URL; its tokens are accepted besides our own issuer tokens")
	s.String(&c.jwksIssuer, "jwks-issuer", "GREENPASS_JWKS_ISSUER", "", "required iss of identity-provider tokens (empty: not checked)")
	s.String(&c.jwksAlgorithmList, "jwks-algorithms", "GREENPASS_JWKS_ALGORITHMS", "RS256,PS256,ES256", "signature algorithms accepted from the identity provider")
	s.Duration(&c.transferTokenTTL, "transfer-token-ttl", "GREENPASS_TRANSFER_TOKEN_TTL", 504*time.Hour, "how long an app's registration (token, key) lives after its creation")
	s.Duration(&c.transferRetention, "transfer-retention", "GREENPASS_TRANSFER_RETENTION", 96*time.Hour, "longest time a certificate waits for its app after storage")
	s.Duration(&c.transferGrace, "transfer-grace", "GREENPASS_TRANSFER_GRACE", time.Hour, "how long a certificate stays after its first pickup (a lost answer can be fetched again)")
	s.Float(&c.pickupRate, "pickup-rate", "GREENPASS_PICKUP_RATE", 1, "pickups per second per registration token (0: unlimited); more get 429")
	s.Int(&c.pickupBurst, "pickup-burst", "GREENPASS_PICKUP_BURST", 5, "burst allowed above --pickup-rate")
	s.String(&c.checkpointCountry, "checkpoint-country", "GREENPASS_CHECKPOINT_COUNTRY", "", "country whose acceptance rules /api/v1/verify applies by default (?country= overrides); empty: no rules unless asked")
	s.String(&c.checkpointRegion, "checkpoint-region", "GREENPASS_CHECKPOINT_REGION", "", "region for regional rules")
	s.String(&c.checkpointAuth, "checkpoint-auth", "GREENPASS_CHECKPOINT_AUTH", "", "who may use /api/v1/verify, which answers names and dates of birth: open, key (X-Checkpoint-Key, or a verify token), token (an issuer token with the role verify); empty: open on a loopback address, else key (made once in DATA/keys/checkpoint.key), and a choice to make with MongoDB")
	s.String(&c.checkpointKey, "checkpoint-key", "GREENPASS_CHECKPOINT_KEY", "", "the shared key for --checkpoint-auth key")
	s.Int(&c.checkpointInflight, "checkpoint-inflight", "GREENPASS_CHECKPOINT_INFLIGHT", 8, "scans worked on at once; more wait briefly, then 503")
	s.Duration(&c.checkpointBudget, "checkpoint-scan-budget", "GREENPASS_CHECKPOINT_SCAN_BUDGET", time.Second, "longest search for a QR code in an uploaded photo")
	s.Duration(&c.checkpointBodyTimeout, "checkpoint-body-timeout", "GREENPASS_CHECKPOINT_BODY_TIMEOUT", 10*time.Second, "longest time an upload to /api/v1/verify may take to arrive (408 after it); it holds no scan slot meanwhile")
	s.Int(&c.checkpointMemoryMB, "checkpoint-memory", "GREENPASS_CHECKPOINT_MEMORY", 512, "MiB the scans at once may hold, each weighed from its image's header; more wait briefly, then 503")
	s.Duration(&c.checkpointFrameBudget, "checkpoint-frame-budget", "GREENPASS_CHECKPOINT_FRAME_BUDGET", 100*time.Millisecond, "longest search for a QR code in a live camera frame (?live=1)")
	c.syncFlags.bind(sync)
}

// serveFlags declares serve's settings on fs: its own and, prefixed with
// "sync-", the sync job's for the built-in schedule. validate checks them
// once fs is parsed.
func serveFlags(fs *flag.FlagSet, getenv func(string) string) (*serveConfig, func() error) {
	c := &serveConfig{}
	s, sync := newSettings(fs, getenv, ""), newSettings(fs, getenv, "sync-")
	c.bind(s, sync)
	return c, func() error { return c.validate(s, sync) }
}

// validate checks the parsed settings; each problem names the setting
// (flag and environment variable).
func (c *serveConfig) validate(s, sync *settings) error {
	c.storageConfig.validate(s)
	if _, port, err := net.SplitHostPort(c.addr); err != nil {
		s.bad("addr", "%v (want HOST:PORT, e.g. :8080)", err)
	} else if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
		s.bad("addr", "port %q is not 0–65535", port)
	}
	for flag, d := range map[string]time.Duration{
		"shutdown-timeout": c.shutdownTimeout, "sweep-interval": c.sweepInterval, "queue-wait": c.queueWait,
		"trust-refresh": c.trustRefresh, "transfer-token-ttl": c.transferTokenTTL,
		"transfer-retention": c.transferRetention, "transfer-grace": c.transferGrace,
		"checkpoint-scan-budget": c.checkpointBudget, "checkpoint-frame-budget": c.checkpointFrameBudget,
		"checkpoint-body-timeout": c.checkpointBodyTimeout,
		"issuer-token-max-ttl":    c.tokenMaxTTL, "suspension-refresh": c.suspensionRefresh, "validity-vaccination": c.validityV, "validity-test": c.validityT, "validity-recovery": c.validityR,
	} {
		s.check(d > 0, flag, "must be positive")
	}
	s.check(c.schedTarget >= 0, "sched-target", "%s is not a duration ≥ 0 like 5ms", c.schedTarget)
	for flag, n := range map[string]struct{ v, min int }{
		"max-inflight": {c.maxInFlight, 1}, "max-queue": {c.maxQueue, 0}, "issuer-burst": {c.issuerBurst, 1},
		"pickup-burst": {c.pickupBurst, 1}, "checkpoint-inflight": {c.checkpointInflight, 1}, "checkpoint-memory": {c.checkpointMemoryMB, 64},
	} {
		s.check(n.v >= n.min, flag, "%d is not a whole number ≥ %d", n.v, n.min)
	}
	s.check(c.issuerRate >= 0, "issuer-rate", "%g is not a number ≥ 0", c.issuerRate)
	s.check(c.pickupRate >= 0, "pickup-rate", "%g is not a number ≥ 0", c.pickupRate)
	c.jwksAlgorithms = nil
	for _, a := range strings.Split(c.jwksAlgorithmList, ",") {
		if a = strings.TrimSpace(a); a != "" {
			c.jwksAlgorithms = append(c.jwksAlgorithms, a)
		}
	}
	s.check(c.jwksURL == "" || strings.HasPrefix(c.jwksURL, "https://") || strings.HasPrefix(c.jwksURL, "http://"),
		"jwks-url", "%q is not an http(s) URL", c.jwksURL)
	s.check(c.logFormat == "json" || c.logFormat == "text", "log-format", "%q is not json or text", c.logFormat)
	var lvl slog.Level
	s.check(lvl.UnmarshalText([]byte(c.logLevel)) == nil, "log-level", "%q is not debug, info, warn or error", c.logLevel)
	switch c.checkpointAuth {
	case "", "open", "token":
	case "key":
		s.check(len(c.checkpointKey) >= 16, "checkpoint-key", "--checkpoint-auth key needs a key of at least 16 characters")
	default:
		s.bad("checkpoint-auth", "%q is not open, key or token", c.checkpointAuth)
	}
	c.checkpointCountry = strings.ToUpper(c.checkpointCountry)
	s.check(c.checkpointCountry == "" || len(c.checkpointCountry) == 2, "checkpoint-country", "%q is not a two-letter country code", c.checkpointCountry)
	// The built-in sync is configured by its source.
	c.sync = nil
	if c.syncFlags.source != "" {
		c.sync = c.syncFlags.options(sync)
		if c.sync.every == 0 {
			c.sync.every = 24 * time.Hour
		}
	}
	return errors.Join(s.err(), sync.err())
}

func (c *serveConfig) logger(w io.Writer) *slog.Logger {
	var lvl slog.Level
	lvl.UnmarshalText([]byte(c.logLevel))
	opts := &slog.HandlerOptions{Level: lvl}
	if c.logFormat == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

func runServe(ctx context.Context, args []string, std stdio) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	cfg, validate := serveFlags(fs, os.Getenv)
	if code, ok := parseFlags(fs, args, std.err, `Usage: greenpass serve [flags]

Runs the greenpass HTTP service until SIGINT or SIGTERM, then lets in-flight
requests finish and closes the store. With no configuration it runs on one
machine: the embedded store and the blob folder live under --data. Every flag
can also be set by the environment variable named with it; flags win.

Endpoints: the checkpoint page (/check) and API (/api/v1/verify), the
issuing API (/api/v1/certificates), the certificate transfer
to wallet apps (/version/v1/…, the Corona-Warn-App DCC-server contract), the
trust lists
(/trustList/DSC/, /trustList[/{type}[/{country}]], /signercertificateStatus,
/signercertificateUpdate, /trustList/signing-key), /healthz, /readyz,
/metrics, /openapi.yaml.

With --sync-source (and --sync-trust-anchor) serve runs the trust-list sync
itself, at start and every --sync-every (default 24h): the way to sync on one
machine with the embedded store.

Flags:`); !ok {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(std.err, "greenpass serve: unexpected argument %q\n", fs.Arg(0))
		return exitUsage
	}
	if err := validate(); err != nil {
		fmt.Fprintf(std.err, "greenpass serve: invalid configuration:\n%v\n", err)
		return exitUsage
	}
	log := cfg.logger(std.err)
	if err := serve(ctx, cfg, log); err != nil {
		log.Error("serve failed", "error", err)
		return exitInvalid
	}
	return exitOK
}

// serve opens the store and the bucket, answers HTTP until ctx ends, then
// drains requests, stops the sweeper and closes the store.
func serve(ctx context.Context, cfg *serveConfig, log *slog.Logger) error {
	openCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	engine, err := cfg.open(openCtx)
	if err != nil {
		return err
	}
	if cfg.mongoURI != "" {
		log.Info("store: MongoDB", "database", cfg.mongoDB)
	} else {
		log.Info("store: embedded", "dir", cfg.dataDir)
	}
	defer func() {
		if err := engine.Close(); err != nil {
			log.Error("closing the store", "error", err)
		}
		log.Info("store closed")
	}()
	keySet, err := loadOrInitKeys(openCtx, cfg, log)
	if err != nil {
		return err
	}
	bucket, err := blobstore.Open(openCtx, cfg.blobURL, cfg.dataDir)
	if err != nil {
		return err
	}
	defer bucket.Close()

	srv := server.New(server.Config{ShutdownTimeout: cfg.shutdownTimeout}, log,
		server.Check{Name: "store", Ping: engine.Ping},
		server.Check{Name: "blob", Ping: func(ctx context.Context) error { return blobstore.Ping(ctx, bucket) }},
	)
	engine = server.MeterStore(engine, srv.Registry())
	var revocations *trustlist.RevocationWatcher
	issuerSvc, issuerTokens, err := mountIssuance(ctx, srv, cfg, keySet, engine, log, func() { revocations.Poke() })
	if err != nil {
		return err
	}
	// This instance's DSCs go into every list it publishes.
	local, err := localEntries(keySet)
	if err != nil {
		return err
	}
	watcher, err := startTrustLists(openCtx, cfg, keySet, engine, bucket, local, log)
	if err != nil {
		return err
	}
	// Suspended issuers are refused from the first request on.
	if err := issuerSvc.RefreshSuspensions(openCtx); err != nil {
		return err
	}
	revocations = trustlist.NewRevocationWatcher(watcher, issuerSvc.Revocations, keySet.TrustList, log)
	if err := revocations.Refresh(openCtx); err != nil {
		log.Warn("revocation list not rendered; retrying every refresh", "error", err)
	}
	published := trustLists{watcher, revocations}
	srv.MountTrustLists(published)
	srv.MountDIDTrustLists(server.DIDTrustLists{Lists: published, Signer: keySet.TrustList, Host: cfg.didHost})
	checkGate, err := admission.NewGate(cfg.checkpointInflight, 64, 2*time.Second)
	if err != nil {
		return err
	}
	cp := server.Checkpoint{Verifier: &verifier.Live{Source: verifier.Watched{Lists: watcher, Revoked: revocations}, Country: cfg.checkpointCountry,
		Region: cfg.checkpointRegion, ScanBudget: cfg.checkpointBudget, FrameBudget: cfg.checkpointFrameBudget}, Gate: checkGate,
		BodyTimeout: cfg.checkpointBodyTimeout, Memory: int64(cfg.checkpointMemoryMB) << 20}
	access, key, err := checkpointAccess(cfg, log)
	if err != nil {
		return err
	}
	switch access {
	case "key":
		cp.Key, cp.Tokens = key, issuerTokens
	case "token":
		cp.Tokens = issuerTokens
	}
	cp.Suspensions = issuerSvc
	srv.MountCheckpoint(cp)

	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.addr, err)
	}
	log.Info("listening", "addr", ln.Addr().String())

	bg := newBackground(ctx)
	expiring := append(append([]string{store.Leases}, issuer.Expiring()...), wallet.Expiring()...)
	bg.Go(func(ctx context.Context) { store.SweepEvery(ctx, engine, cfg.sweepInterval, log, expiring...) })
	pending := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "greenpass_transfer_records_pending",
		Help: "Transfer records held, counted every --sweep-interval: certificates encrypted for their app (until picked up, and a short grace after), tests whose lab has not delivered yet."},
		[]string{"kind"})
	srv.Registry().MustRegister(pending)
	countPending := func(ctx context.Context) {
		certs, tests, err := wallet.Pending(ctx, engine)
		if err != nil {
			log.Warn("transfer records not counted", "error", err)
			return
		}
		pending.WithLabelValues("certificates").Set(float64(certs))
		pending.WithLabelValues("tests").Set(float64(tests))
	}
	countPending(ctx)
	bg.Go(func(ctx context.Context) {
		t := time.NewTicker(cfg.sweepInterval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				countPending(ctx)
			}
		}
	})
	bg.Go(func(ctx context.Context) { watcher.Run(ctx, cfg.trustRefresh) })
	bg.Go(func(ctx context.Context) {
		issuerSvc.WatchSuspensions(ctx, cfg.suspensionRefresh, func(err error) { log.Warn("suspensions not refreshed", "error", err) })
	})
	bg.Go(func(ctx context.Context) { revocations.Run(ctx, cfg.trustRefresh) })
	if cfg.sync != nil {
		job := &syncJob{opts: cfg.sync, engine: engine, bucket: bucket.Objects(), signer: keySet.TrustList, local: local, log: log}
		metrics := srv.NewSyncMetrics()
		bg.Go(func(ctx context.Context) { syncLoop(ctx, job, watcher, log, metrics) })
	}
	err = srv.Serve(ctx, ln)
	bg.Stop()
	return err
}

// trustLists is what the trust-list endpoints serve from: the current
// snapshot's view and the revocation view.
type trustLists struct {
	*trustlist.Watcher
	rev *trustlist.RevocationWatcher
}

func (t trustLists) Revocations() *trustlist.RevocationView { return t.rev.View() }

// checkpointAccess decides who may use the checkpoint API, which answers
// names and dates of birth: as configured, or, when not chosen, open on a
// loopback address only; beyond it a key kept in DATA/keys/checkpoint.key
// (its path is logged, never the key); with MongoDB the operator must
// choose, since every instance needs the same key.
func checkpointAccess(cfg *serveConfig, log *slog.Logger) (access, key string, err error) {
	loopback := server.IsLoopback(cfg.addr)
	switch access = cfg.checkpointAuth; {
	case access == "key":
		return access, cfg.checkpointKey, nil
	case access == "open" && !loopback:
		log.Warn("the checkpoint API is open to every caller on the network: it answers names and dates of birth", "addr", cfg.addr)
		return access, "", nil
	case access != "":
		return access, "", nil
	case loopback:
		return "open", "", nil
	case cfg.mongoURI != "":
		return "", "", fmt.Errorf("--checkpoint-auth (GREENPASS_CHECKPOINT_AUTH): %s listens beyond loopback and the API answers personal data: "+
			"choose key (with one --checkpoint-key for every instance), token or, deliberately, open", cfg.addr)
	}
	dir := filepath.Join(cfg.dataDir, "keys")
	key, created, err := keys.CheckpointKey(dir)
	if err != nil {
		return "", "", err
	}
	log.Info("the checkpoint API needs its key (X-Checkpoint-Key; the /check page asks for it once)",
		"key_file", filepath.Join(dir, "checkpoint.key"), "created", created)
	return "key", key, nil
}

// background runs the service's loops and stops them together.
type background struct {
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func newBackground(ctx context.Context) *background {
	ctx, cancel := context.WithCancel(ctx)
	return &background{ctx: ctx, cancel: cancel}
}

func (b *background) Go(f func(ctx context.Context)) {
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		f(b.ctx)
	}()
}

// Stop cancels every loop and waits for them to return.
func (b *background) Stop() {
	b.cancel()
	b.wg.Wait()
}

// startTrustLists makes sure this instance's own DSCs are in the published
// trust list and loads it.
func startTrustLists(ctx context.Context, cfg *serveConfig, set *keys.Set, engine store.Engine, bucket *blobstore.Bucket,
	local []trustlist.Entry, log *slog.Logger) (*trustlist.Watcher, error) {
	keep := trustlist.DefaultKeep
	if cfg.sync != nil {
		keep = cfg.sync.keep
	}
	snaps := trustlist.NewSnapshots(bucket.Objects(), keep)
	if _, err := trustlistsync.PublishOwn(ctx, trustlistsync.Own{Snapshots: snaps, Lock: storeLock{engine: engine, ttl: time.Minute},
		Local: local, DefaultValueSets: trustlist.ValueSetEntries(valueset.BuiltinDocuments()), Log: log}); err != nil {
		return nil, err
	}
	w := trustlist.NewWatcher(snaps, set.TrustList, log)
	if err := w.Refresh(ctx); err != nil && !errors.Is(err, trustlist.ErrNoSnapshot) {
		log.Warn("trust list not loaded; retrying every refresh", "error", err)
	}
	return w, nil
}

// syncLoop runs the built-in trust-list sync at once and then every
// interval, and loads what it published.
func syncLoop(ctx context.Context, job *syncJob, w *trustlist.Watcher, log *slog.Logger, metrics *server.SyncMetrics) {
	source := job.opts.source.String()
	for {
		rep, err := job.run(ctx)
		if ctx.Err() == nil {
			metrics.Report(source, time.Now(), err)
		}
		switch {
		case err != nil && ctx.Err() == nil:
			log.Error("trust-list sync failed; the last good list stays", "error", err, "dropped", len(rep.Dropped))
		case err == nil:
			log.Info("trust-list sync", "snapshot", rep.Snapshot, "dscs", rep.Accepted, "dropped", len(rep.Dropped), "lost", rep.Lost,
				"duration_ms", rep.Duration.Milliseconds())
			if err := w.Refresh(ctx); err != nil {
				log.Warn("trust list reload failed", "error", err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(job.opts.every):
		}
	}
}

// hashSigner adapts a function to wallet.HashSigner.
type hashSigner func(ctx context.Context, partnerID, country, dcci string, digest []byte) ([]byte, error)

func (f hashSigner) SignTestHash(ctx context.Context, partnerID, country, dcci string, digest []byte) ([]byte, error) {
	return f(ctx, partnerID, country, dcci, digest)
}

// mountIssuance wires the issuing API and the certificate transfer: the
// document signers, the issuer-token verifier (cached), admission control,
// the wallet service (which has lab hashes signed by the issuer, while the
// issuer delivers to it).
func mountIssuance(ctx context.Context, srv *server.Server, cfg *serveConfig, set *keys.Set, engine store.Engine, log *slog.Logger,
	onRevoke func()) (*issuer.Service, server.TokenVerifier, error) {
	signers := map[hcert.Type]issuer.DocumentSigner{}
	for t, d := range set.DSCs {
		signers[t] = issuer.DocumentSigner{Signer: d.Signer, Certificate: d.Certificate, KID: d.KID}
	}
	vs := valueset.Builtin()
	var svc *issuer.Service
	transfers := wallet.NewService(wallet.Config{
		TokenTTL: cfg.transferTokenTTL, DataTTL: cfg.transferRetention, PickupGrace: cfg.transferGrace,
		Signer: hashSigner(func(ctx context.Context, partnerID, country, dcci string, digest []byte) ([]byte, error) {
			return svc.SignTestHash(ctx, partnerID, country, dcci, digest)
		}),
		NewDCCI: func(p wallet.Partner, now time.Time) (string, error) { return issuer.NewUVCI(p.Country, p.ID, now) },
	}, engine)
	svc = issuer.New(issuer.Config{
		Signers: signers,
		Validity: map[hcert.Type]time.Duration{
			hcert.TypeVaccination: cfg.validityV, hcert.TypeTest: cfg.validityT, hcert.TypeRecovery: cfg.validityR,
		},
		DefaultIssuerName: cfg.issuerName,
		ValueSets:         vs,
		Transfers:         transfers,
		OnRevoke:          onRevoke,
	}, engine)
	own, err := auth.NewVerifier(set.IssuerToken.Public(), nil)
	if err != nil {
		return nil, nil, err
	}
	own.MaxLifetime = cfg.tokenMaxTTL
	tokens := auth.Chain{own}
	if cfg.jwksURL != "" {
		idp, err := auth.NewJWKSVerifier(ctx, cfg.jwksURL, auth.JWKSOptions{
			Algorithms: cfg.jwksAlgorithms, Issuer: cfg.jwksIssuer, Log: log, MaxLifetime: cfg.tokenMaxTTL})
		if err != nil {
			return nil, nil, err
		}
		tokens = append(tokens, idp)
		log.Info("issuer tokens: own key and identity provider", "jwks_issuer", cfg.jwksIssuer)
	}
	gate, err := admission.NewGate(cfg.maxInFlight, cfg.maxQueue, cfg.queueWait)
	if err != nil {
		return nil, nil, err
	}
	if cfg.schedTarget > 0 {
		gov := &admission.Governor{Gates: []*admission.Gate{gate}, Delay: &admission.SchedDelay{}, Target: cfg.schedTarget}
		go gov.Run(ctx)
	}
	cached := auth.NewCache(tokens, 0, nil)
	srv.MountIssuance(server.Issuance{
		Service:     svc,
		Tokens:      cached,
		Suspensions: svc,
		Gate:        gate,
		Rates:       admission.NewRates(cfg.issuerRate, cfg.issuerBurst, 0, nil),
		ValueSets:   vs,
	})
	srv.MountTransfer(server.Transfer{
		Service:     transfers,
		Tokens:      cached,
		Suspensions: svc,
		Polls:       admission.NewRates(cfg.pickupRate, cfg.pickupBurst, 100_000, nil),
	})
	srv.MountAdmin(server.Admin{Service: svc, Tokens: cached})
	srv.MountCounter(server.Counter{Tokens: cached, Suspensions: svc, ValueSets: vs, DefaultIssuerName: cfg.issuerName})
	return svc, cached, nil
}

// loadOrInitKeys loads DATA/keys. On a single machine (embedded store) a
// first start creates development keys; with MongoDB several instances must
// share one key set, so it has to be provided.
func loadOrInitKeys(ctx context.Context, cfg *serveConfig, log *slog.Logger) (*keys.Set, error) {
	dir := filepath.Join(cfg.dataDir, "keys")
	if !keys.Exists(dir) {
		if cfg.mongoURI != "" {
			return nil, fmt.Errorf("no keys in %s: with MONGODB_URI every instance needs the same key set (greenpass keys init, then deploy %s)", dir, dir)
		}
		set, err := keys.Init(ctx, dir, keys.InitOptions{KeeperURL: cfg.keysSecret})
		if err != nil {
			return nil, err
		}
		log.Warn("created development keys: not for production", "dir", dir)
		return set, nil
	}
	set, err := keys.Load(ctx, dir, cfg.keysSecret)
	if err != nil || set.Upload != nil && set.Anchor != nil {
		return set, err
	}
	// A key set from before the upload certificate and the trust anchor.
	// Instances sharing a store share one key set: they are not made here.
	if cfg.mongoURI != "" {
		log.Warn("the key set has no upload certificate and trust anchor: this instance's trust-list entries go out unsigned, "+
			"and gateway clients (another greenpass syncing from this one) drop them; greenpass keys complete adds them", "dir", dir)
		return set, nil
	}
	log.Info("adding an upload certificate and a trust anchor to the development keys", "dir", dir)
	return set, set.Complete(ctx, dir, cfg.keysSecret)
}
