package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/greenpass-dcc/greenpass/admission"
	"github.com/greenpass-dcc/greenpass/auth"
	"github.com/greenpass-dcc/greenpass/blobstore"
	"github.com/greenpass-dcc/greenpass/hcert"
	"github.com/greenpass-dcc/greenpass/issuer"
	"github.com/greenpass-dcc/greenpass/keys"
	"github.com/greenpass-dcc/greenpass/server"
	"github.com/greenpass-dcc/greenpass/store"
	"github.com/greenpass-dcc/greenpass/valueset"
)

// serveConfig is everything `greenpass serve` is configured with.
type serveConfig struct {
	addr            string
	dataDir         string
	mongoURI        string
	mongoDB         string
	blobURL         string
	shutdownTimeout time.Duration
	sweepInterval   time.Duration
	logFormat       string
	logLevel        string
	keysSecret      string

	issuerName     string
	validityV      time.Duration
	validityT      time.Duration
	validityR      time.Duration
	maxInFlight    int
	maxQueue       int
	queueWait      time.Duration
	issuerRate     float64
	issuerBurst    int
	jwksURL        string
	jwksIssuer     string
	jwksAlgorithms []string
}

// setting is one configuration entry: flag name, environment variable,
// default, help.
type setting struct{ flag, env, def, help string }

// serveFlags declares the flags; each defaults to its environment variable,
// else to the built-in default, so flags win over environment over defaults.
func serveFlags(fs *flag.FlagSet, getenv func(string) string) map[string]*string {
	raw := map[string]*string{}
	for _, s := range serveSettings() {
		v := s.def
		if e := getenv(s.env); e != "" {
			v = e
		}
		raw[s.flag] = fs.String(s.flag, v, fmt.Sprintf("%s (env %s)", s.help, s.env))
	}
	return raw
}

func serveSettings() []setting {
	return []setting{
		{"addr", "GREENPASS_ADDR", ":8080", "listen address HOST:PORT"},
		{"data", "GREENPASS_DATA", "./data", "data directory: embedded store, default blob folder, development keys"},
		{"mongodb-uri", "MONGODB_URI", "", "MongoDB connection string; empty: the embedded store under --data"},
		{"mongodb-db", "GREENPASS_MONGODB_DB", "greenpass", "MongoDB database name"},
		{"blob-url", "BLOB_URL", "", "trust-list bucket URL (s3://, gs://, azblob://, file://, mem://); empty: DATA/blobs"},
		{"shutdown-timeout", "GREENPASS_SHUTDOWN_TIMEOUT", "30s", "how long in-flight requests may finish after SIGTERM"},
		{"sweep-interval", "GREENPASS_SWEEP_INTERVAL", "1m", "how often expired records are deleted"},
		{"log-format", "GREENPASS_LOG_FORMAT", "json", "log format: json or text"},
		{"log-level", "GREENPASS_LOG_LEVEL", "info", "log level: debug, info, warn, error"},
		{"keys-secret", "GREENPASS_KEYS_SECRET", "", "secrets keeper URL the private keys in DATA/keys are encrypted with; empty: plain PEM"},
		{"issuer-name", "GREENPASS_ISSUER_NAME", "greenpass", `certificate issuer ("is") for issuer tokens without a name`},
		{"validity-vaccination", "GREENPASS_VALIDITY_VACCINATION", "8760h", "validity of vaccination certificates (exp - iat)"},
		{"validity-test", "GREENPASS_VALIDITY_TEST", "72h", "validity of test certificates"},
		{"validity-recovery", "GREENPASS_VALIDITY_RECOVERY", "4320h", "validity of recovery certificates (never past du)"},
		{"max-inflight", "GREENPASS_MAX_INFLIGHT", "256", "issuance requests worked on at once"},
		{"max-queue", "GREENPASS_MAX_QUEUE", "256", "issuance requests that may wait for a slot; more get 503"},
		{"queue-wait", "GREENPASS_QUEUE_WAIT", "10ms", "longest wait for a slot before 503"},
		{"issuer-rate", "GREENPASS_ISSUER_RATE", "20", "issuance requests per second per issuer (0: unlimited); more get 429"},
		{"issuer-burst", "GREENPASS_ISSUER_BURST", "40", "burst allowed above --issuer-rate"},
		{"jwks-url", "GREENPASS_JWKS_URL", "", "identity provider's JWK Set URL; its tokens are accepted besides our own issuer tokens"},
		{"jwks-issuer", "GREENPASS_JWKS_ISSUER", "", "required iss of identity-provider tokens (empty: not checked)"},
		{"jwks-algorithms", "GREENPASS_JWKS_ALGORITHMS", "RS256,PS256,ES256", "signature algorithms accepted from the identity provider"},
	}
}

// validate turns the raw settings into a config; each error names the
// setting (flag and environment variable).
func validate(raw map[string]*string) (*serveConfig, error) {
	name := map[string]string{}
	for _, s := range serveSettings() {
		name[s.flag] = fmt.Sprintf("--%s (%s)", s.flag, s.env)
	}
	c := &serveConfig{
		addr: *raw["addr"], dataDir: *raw["data"], mongoURI: *raw["mongodb-uri"], mongoDB: *raw["mongodb-db"],
		blobURL: *raw["blob-url"], logFormat: *raw["log-format"], logLevel: *raw["log-level"],
		keysSecret: *raw["keys-secret"], issuerName: *raw["issuer-name"],
		jwksURL: *raw["jwks-url"], jwksIssuer: *raw["jwks-issuer"],
	}
	var errs []error
	bad := func(flag, format string, a ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", name[flag], fmt.Sprintf(format, a...)))
	}
	if _, port, err := net.SplitHostPort(c.addr); err != nil {
		bad("addr", "%v (want HOST:PORT, e.g. :8080)", err)
	} else if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
		bad("addr", "port %q is not 0–65535", port)
	}
	if c.dataDir == "" {
		bad("data", "must not be empty")
	}
	for _, dur := range []struct {
		flag string
		dst  *time.Duration
	}{
		{"shutdown-timeout", &c.shutdownTimeout}, {"sweep-interval", &c.sweepInterval}, {"queue-wait", &c.queueWait},
		{"validity-vaccination", &c.validityV}, {"validity-test", &c.validityT}, {"validity-recovery", &c.validityR},
	} {
		flag, dst := dur.flag, dur.dst
		d, err := time.ParseDuration(*raw[flag])
		switch {
		case err != nil:
			bad(flag, "%q is not a duration like 30s or 5m", *raw[flag])
		case d <= 0:
			bad(flag, "must be positive")
		}
		*dst = d
	}
	for _, n := range []struct {
		flag string
		dst  *int
		min  int
	}{{"max-inflight", &c.maxInFlight, 1}, {"max-queue", &c.maxQueue, 0}, {"issuer-burst", &c.issuerBurst, 1}} {
		v, err := strconv.Atoi(*raw[n.flag])
		if err != nil || v < n.min {
			bad(n.flag, "%q is not a whole number ≥ %d", *raw[n.flag], n.min)
		}
		*n.dst = v
	}
	if r, err := strconv.ParseFloat(*raw["issuer-rate"], 64); err != nil || r < 0 || math.IsInf(r, 0) || math.IsNaN(r) {
		bad("issuer-rate", "%q is not a number ≥ 0", *raw["issuer-rate"])
	} else {
		c.issuerRate = r
	}
	for _, a := range strings.Split(*raw["jwks-algorithms"], ",") {
		if a = strings.TrimSpace(a); a != "" {
			c.jwksAlgorithms = append(c.jwksAlgorithms, a)
		}
	}
	if c.jwksURL != "" && !strings.HasPrefix(c.jwksURL, "https://") && !strings.HasPrefix(c.jwksURL, "http://") {
		bad("jwks-url", "%q is not an http(s) URL", c.jwksURL)
	}
	if c.logFormat != "json" && c.logFormat != "text" {
		bad("log-format", "%q is not json or text", c.logFormat)
	}
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(c.logLevel)); err != nil {
		bad("log-level", "%q is not debug, info, warn or error", c.logLevel)
	}
	return c, errors.Join(errs...)
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
	raw := serveFlags(fs, os.Getenv)
	if code, ok := parseFlags(fs, args, std.err, `Usage: greenpass serve [flags]

Runs the greenpass HTTP service until SIGINT or SIGTERM, then lets in-flight
requests finish and closes the store. With no configuration it runs on one
machine: the embedded store and the blob folder live under --data. Every flag
can also be set by the environment variable named with it; flags win.

Endpoints: /healthz, /readyz, /metrics, /openapi.yaml.

Flags:`); !ok {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(std.err, "greenpass serve: unexpected argument %q\n", fs.Arg(0))
		return exitUsage
	}
	cfg, err := validate(raw)
	if err != nil {
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
	var engine store.Engine
	var err error
	if cfg.mongoURI != "" {
		engine, err = store.OpenMongo(openCtx, cfg.mongoURI, cfg.mongoDB, nil)
		log.Info("store: MongoDB", "database", cfg.mongoDB)
	} else {
		engine, err = store.OpenEmbedded(cfg.dataDir, nil)
		log.Info("store: embedded", "dir", cfg.dataDir)
	}
	if err != nil {
		return err
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
	if err := mountIssuance(ctx, srv, cfg, keySet, engine, log); err != nil {
		return err
	}

	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.addr, err)
	}
	log.Info("listening", "addr", ln.Addr().String())

	sweepCtx, stopSweep := context.WithCancel(ctx)
	sweepDone := make(chan struct{})
	go func() {
		defer close(sweepDone)
		sweepLoop(sweepCtx, engine, cfg.sweepInterval, log)
	}()
	err = srv.Serve(ctx, ln)
	stopSweep()
	<-sweepDone
	return err
}

// mountIssuance wires the issuing API: the document signers, the
// issuer-token verifier (cached), admission control.
func mountIssuance(ctx context.Context, srv *server.Server, cfg *serveConfig, set *keys.Set, engine store.Engine, log *slog.Logger) error {
	signers := map[hcert.Type]issuer.DocumentSigner{}
	for t, d := range set.DSCs {
		signers[t] = issuer.DocumentSigner{Signer: d.Signer, Certificate: d.Certificate, KID: d.KID}
	}
	vs := valueset.Builtin()
	svc := issuer.New(issuer.Config{
		Signers: signers,
		Validity: map[hcert.Type]time.Duration{
			hcert.TypeVaccination: cfg.validityV, hcert.TypeTest: cfg.validityT, hcert.TypeRecovery: cfg.validityR,
		},
		DefaultIssuerName: cfg.issuerName,
		ValueSets:         vs,
	}, engine)
	own, err := auth.NewVerifier(set.IssuerToken.Public(), nil)
	if err != nil {
		return err
	}
	tokens := auth.Chain{own}
	if cfg.jwksURL != "" {
		idp, err := auth.NewJWKSVerifier(ctx, cfg.jwksURL, auth.JWKSOptions{
			Algorithms: cfg.jwksAlgorithms, Issuer: cfg.jwksIssuer, Log: log})
		if err != nil {
			return err
		}
		tokens = append(tokens, idp)
		log.Info("issuer tokens: own key and identity provider", "jwks_issuer", cfg.jwksIssuer)
	}
	gate, err := admission.NewGate(cfg.maxInFlight, cfg.maxQueue, cfg.queueWait)
	if err != nil {
		return err
	}
	srv.MountIssuance(server.Issuance{
		Service:   svc,
		Tokens:    auth.NewCache(tokens, 0, nil),
		Gate:      gate,
		Rates:     admission.NewRates(cfg.issuerRate, cfg.issuerBurst, 0, nil),
		ValueSets: vs,
	})
	return nil
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
	return keys.Load(ctx, dir, cfg.keysSecret)
}

// sweepLoop deletes expired records of the collections that expire
// (transfers, idempotency keys) every interval until ctx ends.
func sweepLoop(ctx context.Context, e store.Engine, interval time.Duration, log *slog.Logger) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		for _, coll := range []string{store.Transfers, store.Idempotency} {
			n, err := e.Sweep(ctx, coll)
			switch {
			case err != nil && ctx.Err() == nil:
				log.Warn("sweep failed", "collection", coll, "error", err)
			case n > 0:
				log.Info("swept expired records", "collection", coll, "count", n)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
