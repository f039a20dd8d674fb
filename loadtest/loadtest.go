// Package loadtest is a load generator for the issuing API, for operators
// sizing a deployment and for our own benchmarks: a fixed number of
// clients send issuance requests as fast as they are answered (closed
// loop) or at a fixed total rate (open loop), and the report gives the
// request rate, latency quantiles per status, the status histogram and
// the errors. It can write the UVCI of every 201 to a file, to check
// later that each acknowledged certificate was kept.
package loadtest

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Config is one load test.
type Config struct {
	URL         string // base URL of the server, e.g. http://127.0.0.1:8080
	Token       string // issuer bearer token
	Concurrency int    // clients (connections)
	Duration    time.Duration
	// Warmup is a first stretch whose requests are sent but not counted
	// (connections being opened, caches filling).
	Warmup time.Duration
	// Rate is the total requests per second to offer (open loop); zero
	// sends as fast as the clients are answered.
	Rate float64
	// Types are the certificate types to mix ("v", "t", "r").
	Types []string
	// Idempotency sends a fresh Idempotency-Key with every request, as a
	// careful client does.
	Idempotency bool
	// HonorRetryAfter makes a client refused with 429 or 503 wait as long
	// as Retry-After says, as well-behaved clients do; without it, it
	// retries at once (the worst case for the server).
	HonorRetryAfter bool
	// RetryJitter adds a random wait of up to this much to Retry-After's
	// (whole seconds): clients refused in the same instant come back
	// spread out, as independent clients do, instead of in lockstep.
	RetryJitter time.Duration
	// UVCIs, when set, receives the UVCI of every 201, one per line.
	UVCIs io.Writer
	// Progress, when set, receives a line per ProgressEvery.
	Progress      io.Writer
	ProgressEvery time.Duration
	// Now is the clock for dates in the generated requests.
	Now func() time.Time

	// Verify, when set, sends these bodies (of ContentType) to
	// POST /api/v1/verify instead of issuance requests; the goodput counts
	// 200s. Token is then optional.
	Verify        [][]byte
	ContentType   string
	CheckpointKey string
	// VerifyQuery is the query string of the verify requests ("live=1"
	// for camera frames).
	VerifyQuery string
}

// Report is the outcome of a load test.
type Report struct {
	Duration  time.Duration     `json:"duration"`
	Requests  uint64            `json:"requests"`
	PerSecond float64           `json:"requestsPerSecond"`
	Created   uint64            `json:"created"`
	Goodput   float64           `json:"createdPerSecond"`
	Statuses  map[int]uint64    `json:"statuses"`
	Errors    map[string]uint64 `json:"errors"`
	Latency   Latency           `json:"latency"`
	ByStatus  map[int]Latency   `json:"latencyByStatus"`
	// Missed counts sends the open loop could not make because every
	// client was still waiting for an answer.
	Missed uint64 `json:"missed"`
}

// Latency summarises a latency distribution.
type Latency struct {
	Mean time.Duration `json:"mean"`
	P50  time.Duration `json:"p50"`
	P90  time.Duration `json:"p90"`
	P99  time.Duration `json:"p99"`
	Max  time.Duration `json:"max"`
}

func summarise(h *histogram) Latency {
	return Latency{Mean: h.mean(), P50: h.quantile(0.5), P90: h.quantile(0.9), P99: h.quantile(0.99), Max: h.max}
}

// stats is one client's tally; merged at the end, so the hot path takes
// no lock.
type stats struct {
	all      histogram
	byStatus map[int]*histogram
	errors   map[string]uint64
}

func newStats() *stats { return &stats{byStatus: map[int]*histogram{}, errors: map[string]uint64{}} }

func (s *stats) record(status int, d time.Duration) {
	s.all.add(d)
	h := s.byStatus[status]
	if h == nil {
		h = &histogram{}
		s.byStatus[status] = h
	}
	h.add(d)
}

// Run sends load until cfg.Duration has passed or ctx ends.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	bodies, endpoint, okStatus := cfg.Verify, strings.TrimSuffix(cfg.URL, "/")+"/api/v1/verify", http.StatusOK
	if cfg.VerifyQuery != "" {
		endpoint += "?" + cfg.VerifyQuery
	}
	if bodies == nil {
		var err error
		if bodies, err = makeBodies(cfg.Types, 512, cfg.Now()); err != nil {
			return nil, fmt.Errorf("--types: %w", err)
		}
		endpoint, okStatus = strings.TrimSuffix(cfg.URL, "/")+"/api/v1/certificates", http.StatusCreated
	}
	// The run ends at one instant, on the clock and for the context alike
	// (the earlier of its own end and the caller's deadline): requests cut
	// off by the context's deadline, whose timer may fire late on a busy
	// machine, are then seen as ended, not counted as errors.
	start := time.Now()
	measureFrom := start.Add(cfg.Warmup)
	end := measureFrom.Add(cfg.Duration)
	if d, ok := ctx.Deadline(); ok && d.Before(end) {
		end = d
	}
	ctx, cancel := context.WithDeadline(ctx, end)
	defer cancel()
	var uvciMu sync.Mutex
	var uvciOut *bufio.Writer
	if cfg.UVCIs != nil {
		uvciOut = bufio.NewWriter(cfg.UVCIs)
	}
	var counters liveCounters
	tickets := make(chan struct{}, cfg.Concurrency)
	var missed uint64
	var feeder sync.WaitGroup
	if cfg.Rate > 0 {
		feeder.Go(func() { missed = feed(ctx, cfg.Rate, tickets) })
	}

	all := make([]*stats, cfg.Concurrency)
	// The end is checked on the clock too: the context's timer may fire
	// late on a busy machine, and until it does every request would fail
	// at once against the connection deadline.
	over := func() bool { return ctx.Err() != nil || !time.Now().Before(end) }
	var wg sync.WaitGroup
	for i := range cfg.Concurrency {
		st := newStats()
		all[i] = st
		wg.Go(func() {
			c, _ := newConn(cfg.URL) // checked by cfg.check
			defer c.close()
			n := i
			for {
				if cfg.Rate > 0 {
					select {
					case <-ctx.Done():
						return
					case <-tickets:
					}
				}
				if over() {
					return
				}
				body := bodies[n%len(bodies)]
				n += cfg.Concurrency
				status, uvci, retry, d, err := send(ctx, c, endpoint, cfg, body)
				if err != nil {
					if over() {
						return // cut off by the end of the test: not counted
					}
					if cfg.Warmup == 0 || time.Now().After(measureFrom) {
						st.errors[errorKind(err)]++
					}
					counters.errors.Add(1)
					continue
				}
				if cfg.Warmup == 0 || time.Now().After(measureFrom) {
					st.record(status, d)
				}
				counters.count(status)
				if cfg.HonorRetryAfter && retry > 0 {
					select {
					case <-ctx.Done():
						return
					case <-time.After(retry + jitter(cfg.RetryJitter)):
					}
				}
				if status == http.StatusCreated && uvciOut != nil && uvci != "" {
					uvciMu.Lock()
					uvciOut.WriteString(uvci + "\n")
					uvciMu.Unlock()
				}
			}
		})
	}
	stopProgress := make(chan struct{})
	var progress sync.WaitGroup
	if cfg.Progress != nil {
		progress.Go(func() { counters.report(cfg.Progress, cfg.ProgressEvery, start, stopProgress) })
	}
	wg.Wait()
	elapsed := time.Since(measureFrom)
	cancel()
	feeder.Wait()
	close(stopProgress)
	progress.Wait()
	if uvciOut != nil {
		if err := uvciOut.Flush(); err != nil {
			return nil, fmt.Errorf("write UVCIs: %w", err)
		}
	}

	total := newStats()
	for _, st := range all {
		total.all.merge(&st.all)
		for code, h := range st.byStatus {
			if total.byStatus[code] == nil {
				total.byStatus[code] = &histogram{}
			}
			total.byStatus[code].merge(h)
		}
		for k, v := range st.errors {
			total.errors[k] += v
		}
	}
	r := &Report{Duration: elapsed, Requests: total.all.n, Statuses: map[int]uint64{}, Errors: total.errors,
		Latency: summarise(&total.all), ByStatus: map[int]Latency{}, Missed: missed}
	for code, h := range total.byStatus {
		r.Statuses[code] = h.n
		r.ByStatus[code] = summarise(h)
	}
	r.Created = r.Statuses[okStatus]
	r.PerSecond = float64(r.Requests) / elapsed.Seconds()
	r.Goodput = float64(r.Created) / elapsed.Seconds()
	return r, nil
}

func (cfg *Config) check() error {
	var errs []error
	if !strings.HasPrefix(cfg.URL, "http://") && !strings.HasPrefix(cfg.URL, "https://") {
		errs = append(errs, fmt.Errorf("--url %q must start with http:// or https://", cfg.URL))
	} else if _, err := newConn(cfg.URL); err != nil {
		errs = append(errs, fmt.Errorf("--url %q: %w", cfg.URL, err))
	}
	if cfg.Token == "" && cfg.Verify == nil {
		errs = append(errs, errors.New("--token is required (greenpass keys issuer-token makes one)"))
	}
	if cfg.Concurrency < 1 || cfg.Concurrency > 100000 {
		errs = append(errs, fmt.Errorf("--concurrency %d must be 1 to 100000", cfg.Concurrency))
	}
	if cfg.Duration <= 0 {
		errs = append(errs, errors.New("--duration must be positive"))
	}
	if cfg.RetryJitter < 0 {
		errs = append(errs, errors.New("--retry-jitter must not be negative"))
	}
	if cfg.Warmup < 0 {
		errs = append(errs, errors.New("--warmup must not be negative"))
	}
	if cfg.Rate < 0 || math.IsNaN(cfg.Rate) || math.IsInf(cfg.Rate, 0) {
		errs = append(errs, errors.New("--rate must be a number ≥ 0"))
	}
	if cfg.ProgressEvery <= 0 {
		cfg.ProgressEvery = time.Second
	}
	return errors.Join(errs...)
}

// feed hands out tickets at rate per second until ctx ends; a ticket no
// client is free to take is missed. It returns how many were.
func feed(ctx context.Context, rate float64, tickets chan<- struct{}) uint64 {
	interval := time.Duration(float64(time.Second) / rate)
	// Tick at least every millisecond and hand out what is due, so high
	// rates do not depend on timer resolution.
	tick := max(interval, time.Millisecond)
	start := time.Now()
	t := time.NewTicker(tick)
	defer t.Stop()
	var sent, missed uint64
	for {
		select {
		case <-ctx.Done():
			return missed
		case <-t.C:
			for due := ticketsDue(time.Since(start), rate); sent < due; sent++ {
				select {
				case tickets <- struct{}{}:
				default:
					missed++
				}
			}
		}
	}
}

// ticketsDue is how many tickets rate per second makes in elapsed, none
// before the start. (A tick's own time may be earlier than the start
// taken after the ticker was made; as an unsigned count that negative
// would be all but endless.)
func ticketsDue(elapsed time.Duration, rate float64) uint64 {
	return uint64(max(elapsed.Seconds(), 0) * rate)
}

// send makes one request and returns its status, the UVCI of a 201, the
// Retry-After of a refusal and the latency.
func send(ctx context.Context, c *conn, endpoint string, cfg Config, body []byte) (int, string, time.Duration, time.Duration, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(body))
	if err != nil {
		return 0, "", 0, 0, err
	}
	if cfg.Token != "" {
		req.Header.Set("Authorization", "Bearer "+cfg.Token)
	}
	req.Header.Set("Accept", "application/json")
	if cfg.Verify != nil {
		req.Header.Set("Content-Type", cfg.ContentType)
		if cfg.CheckpointKey != "" {
			req.Header.Set("X-Checkpoint-Key", cfg.CheckpointKey)
		}
	} else {
		req.Header.Set("Content-Type", "application/json")
	}
	if cfg.Idempotency && cfg.Verify == nil {
		var k [16]byte
		rand.Read(k[:])
		req.Header.Set("Idempotency-Key", hex.EncodeToString(k[:]))
	}
	resp, d, err := c.do(ctx, req)
	if err != nil {
		return 0, "", 0, 0, err
	}
	var retry time.Duration
	if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s > 0 {
		retry = time.Duration(min(s, 300)) * time.Second
	}
	return resp.StatusCode, resp.Header.Get("X-UVCI"), retry, d, nil
}

// errorKind groups transport errors without addresses or ports, named
// by the step that failed where it is known ("dial: timeout", "read:
// timeout"): a crowd's connections refused at the start and a server too
// slow to answer are different findings.
func errorKind(err error) string {
	kind := "other: " + err.Error()
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		kind = "timeout"
	case strings.Contains(err.Error(), "connection refused"):
		kind = "connection refused"
	case strings.Contains(err.Error(), "connection reset"):
		kind = "connection reset"
	case errors.Is(err, io.EOF), strings.Contains(err.Error(), "EOF"):
		kind = "connection closed"
	}
	if oe := (*net.OpError)(nil); errors.As(err, &oe) && oe.Op != "" && !strings.HasPrefix(kind, "other") {
		kind = oe.Op + ": " + kind
	}
	return kind
}

// ExampleBody is a valid issuance request body of type v, t or r at now,
// indented, for people to start from.
func ExampleBody(typ string, now time.Time) ([]byte, error) {
	bodies, err := makeBodies([]string{typ}, 1, now)
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	if err := json.Indent(&out, bodies[0], "", "  "); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// makeBodies prepares n request bodies of the given types with varied
// names, all valid at now.
func makeBodies(types []string, n int, now time.Time) ([][]byte, error) {
	if len(types) == 0 {
		types = []string{"v"}
	}
	families := []string{"Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Schulz", "Hoffmann", "Иванова", "Nowak"}
	givens := []string{"Anna", "Jonas", "Lea", "Lukas", "Mia", "Finn", "Emma", "Paul", "Zoë", "Jürgen", "Ольга", "Piotr"}
	day := func(d int) string { return now.AddDate(0, 0, d).UTC().Format(time.DateOnly) }
	out := make([][]byte, 0, n)
	for i := range n {
		body := map[string]any{
			"nam": map[string]string{"fn": families[i%len(families)], "gn": givens[(i/len(families))%len(givens)]},
			"dob": fmt.Sprintf("%d-%02d-%02d", 1940+i%60, 1+i%12, 1+i%28),
		}
		switch t := types[i%len(types)]; t {
		case "v":
			body["v"] = []map[string]any{{"tg": "840539006", "vp": "1119349007", "mp": "EU/1/20/1528",
				"ma": "ORG-100030215", "dn": 1 + i%3, "sd": 3, "dt": day(-1 - i%200)}}
		case "t":
			body["t"] = []map[string]any{{"tg": "840539006", "tt": "LP217198-3", "ma": "1232",
				"sc": now.Add(-time.Hour).Format(time.RFC3339), "tr": "260415000", "tc": "Testzentrum"}}
		case "r":
			body["r"] = []map[string]any{{"tg": "840539006", "fr": day(-30), "df": day(-19), "du": day(150)}}
		default:
			return nil, fmt.Errorf("unknown certificate type %q (v, t or r)", t)
		}
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, nil
}

// WriteText prints the report for people.
func (r *Report) WriteText(w io.Writer) {
	fmt.Fprintf(w, "duration     %v\n", r.Duration.Round(time.Millisecond))
	fmt.Fprintf(w, "requests     %d (%.0f/s)\n", r.Requests, r.PerSecond)
	fmt.Fprintf(w, "succeeded    %d (%.0f/s)\n", r.Created, r.Goodput)
	if r.Missed > 0 {
		fmt.Fprintf(w, "missed       %d sends (every client busy; raise --concurrency)\n", r.Missed)
	}
	fmt.Fprintf(w, "latency      %s\n", r.Latency)
	codes := make([]int, 0, len(r.Statuses))
	for c := range r.Statuses {
		codes = append(codes, c)
	}
	sort.Ints(codes)
	for _, c := range codes {
		fmt.Fprintf(w, "  %d        %8d  %s\n", c, r.Statuses[c], r.ByStatus[c])
	}
	kinds := make([]string, 0, len(r.Errors))
	for k := range r.Errors {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	for _, k := range kinds {
		fmt.Fprintf(w, "  error      %8d  %s\n", r.Errors[k], k)
	}
}

func (l Latency) String() string {
	r := func(d time.Duration) time.Duration { return d.Round(10 * time.Microsecond) }
	return fmt.Sprintf("mean %v  p50 %v  p90 %v  p99 %v  max %v", r(l.Mean), r(l.P50), r(l.P90), r(l.P99), r(l.Max))
}

// WriteUVCIFile is a helper for the command: it opens path for the UVCIs.
func WriteUVCIFile(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("--uvcis: %w", err)
	}
	return f, nil
}

// jitter is a random duration in [0, upTo).
func jitter(upTo time.Duration) time.Duration {
	if upTo <= 0 {
		return 0
	}
	return time.Duration(mrand.Int64N(int64(upTo)))
}

// Advice says what to change when most answers were refusals the client
// can fix (429, 401, 403), "" otherwise: a load test that measured only
// refusals should say so, not print their latency as a result.
func (r *Report) Advice() string {
	if r.Requests == 0 {
		return ""
	}
	most := func(status int) bool { return r.Statuses[status]*2 > r.Requests }
	switch {
	case most(429):
		return "most answers were 429: the server limits each issuer to --issuer-rate requests a second (20 by default); " +
			"for a load test start it with --issuer-rate 0 (GREENPASS_ISSUER_RATE=0), or spread the load over several issuers' tokens"
	case most(401):
		return "most answers were 401: the server refused the token; mint one with greenpass keys issuer-token --data <the server's data directory> " +
			"(tokens expire, and live at most --issuer-token-max-ttl)"
	case most(403):
		return "most answers were 403: the token lacks the role for these certificate types (issue:v, issue:t, issue:r; see --types), " +
			"or its issuer is suspended"
	}
	return ""
}
