package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/greenpass-dcc/greenpass/loadtest"
	"github.com/greenpass-dcc/greenpass/qrscan"
	"github.com/greenpass-dcc/greenpass/render"
)

func runLoadtest(ctx context.Context, args []string, std stdio) int {
	if len(args) > 0 && args[0] == "verify" {
		return loadtestVerify(ctx, args[1:], std)
	}
	if len(args) == 0 || args[0] != "issue" {
		fmt.Fprintln(std.err, `Usage: greenpass loadtest issue --url URL --token TOKEN [flags]
       greenpass loadtest verify --url URL (--image FILE | --hc1 FILE) [flags]

issue   sends issuance requests to a running greenpass
verify  sends checkpoint scans (camera frames) to POST /api/v1/verify

Both report request rate, latency quantiles per status, the status
histogram and errors. Run "greenpass loadtest issue --help" (or verify) for
the flags.`)
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
			return exitOK
		}
		return exitUsage
	}
	fs := flag.NewFlagSet("loadtest issue", flag.ContinueOnError)
	url := fs.String("url", "http://127.0.0.1:8080", "base URL of the server")
	token := fs.String("token", os.Getenv("GREENPASS_TOKEN"), "issuer bearer token (env GREENPASS_TOKEN)")
	concurrency := fs.Int("concurrency", 64, "concurrent clients (connections)")
	duration := fs.Duration("duration", 30*time.Second, "how long to measure")
	warmup := fs.Duration("warmup", 0, "send this long first without counting (connections opening)")
	rate := fs.Float64("rate", 0, "total requests per second to offer (open loop); 0: as fast as answered")
	types := fs.String("types", "v", "certificate types to mix, comma-separated: v, t, r")
	idem := fs.Bool("idempotency", true, "send a fresh Idempotency-Key with every request")
	honor := fs.Bool("honor-retry-after", false, "after a 429 or 503, wait as long as Retry-After says (well-behaved clients); default: retry at once")
	retryJitter := fs.Duration("retry-jitter", time.Second, "with --honor-retry-after, wait up to this much longer at random (independent clients); 0: all refused together come back together")
	uvcis := fs.String("uvcis", "", "write the UVCI of every 201 to this file")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	quiet := fs.Bool("quiet", false, "no progress lines on stderr")
	if code, ok := parseFlags(fs, args[1:], std.err, "Usage: greenpass loadtest issue [flags]\n\nFlags:"); !ok {
		return code
	}
	cfg := loadtest.Config{URL: *url, Token: *token, Concurrency: *concurrency, Duration: *duration, Warmup: *warmup, Rate: *rate,
		Types: strings.Split(*types, ","), Idempotency: *idem, HonorRetryAfter: *honor, RetryJitter: *retryJitter}
	if !*quiet {
		cfg.Progress = std.err
	}
	if *uvcis != "" {
		f, err := loadtest.WriteUVCIFile(*uvcis)
		if err != nil {
			fmt.Fprintf(std.err, "greenpass loadtest: %v\n", err)
			return exitUsage
		}
		defer f.Close()
		cfg.UVCIs = f
	}
	return runLoad(ctx, cfg, *asJSON, std)
}

func loadtestVerify(ctx context.Context, args []string, std stdio) int {
	fs := flag.NewFlagSet("loadtest verify", flag.ContinueOnError)
	url := fs.String("url", "http://127.0.0.1:8080", "base URL of the server")
	image := fs.String("image", "", "send this image `FILE` (JPEG, PNG, …) as the frame")
	hc1 := fs.String("hc1", "", "render the HC1: text in `FILE` into a camera-like JPEG frame (see --frame) and send that")
	frame := fs.String("frame", "1280x720", "frame size for --hc1, WIDTHxHEIGHT")
	key := fs.String("key", os.Getenv("GREENPASS_CHECKPOINT_KEY"), "checkpoint key (X-Checkpoint-Key), when the API needs one")
	concurrency := fs.Int("concurrency", 20, "concurrent clients (checkpoints)")
	fps := fs.Float64("fps", 4, "frames per second each client offers (the checkpoint page sends at most 4); 0: as fast as answered")
	photo := fs.Bool("photo", false, "send the frames as photo uploads (the whole search) instead of live camera frames (?live=1)")
	duration := fs.Duration("duration", 30*time.Second, "how long to measure")
	warmup := fs.Duration("warmup", 2*time.Second, "send this long first without counting")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	quiet := fs.Bool("quiet", false, "no progress lines on stderr")
	if code, ok := parseFlags(fs, args, std.err, "Usage: greenpass loadtest verify --url URL (--image FILE | --hc1 FILE) [flags]\n\nFlags:"); !ok {
		return code
	}
	var body []byte
	var err error
	switch {
	case (*image == "") == (*hc1 == ""):
		fmt.Fprintln(std.err, "greenpass loadtest verify: give either --image or --hc1")
		return exitUsage
	case *image != "":
		body, err = readLimited(*image, qrscan.MaxImageBytes)
	default:
		var w, h int
		if _, serr := fmt.Sscanf(*frame, "%dx%d", &w, &h); serr != nil {
			fmt.Fprintf(std.err, "greenpass loadtest verify: --frame %q is not WIDTHxHEIGHT\n", *frame)
			return exitUsage
		}
		var text []byte
		if text, err = readLimited(*hc1, 8192); err == nil {
			body, _, err = render.CameraFrame(strings.TrimSpace(string(text)), w, h, 1)
		}
	}
	if err != nil {
		fmt.Fprintf(std.err, "greenpass loadtest verify: %v\n", err)
		return exitUsage
	}
	contentType := http.DetectContentType(body)
	if !strings.HasPrefix(contentType, "image/") {
		fmt.Fprintln(std.err, "greenpass loadtest verify: the frame is not an image")
		return exitUsage
	}
	cfg := loadtest.Config{URL: *url, Concurrency: *concurrency, Duration: *duration, Warmup: *warmup,
		Rate: *fps * float64(*concurrency), Verify: [][]byte{body}, ContentType: contentType, CheckpointKey: *key}
	if !*photo {
		cfg.VerifyQuery = "live=1"
	}
	if !*quiet {
		cfg.Progress = std.err
	}
	return runLoad(ctx, cfg, *asJSON, std)
}

// runLoad runs a load test and prints its report.
func runLoad(ctx context.Context, cfg loadtest.Config, asJSON bool, std stdio) int {
	r, err := loadtest.Run(ctx, cfg)
	if err != nil {
		fmt.Fprintf(std.err, "greenpass loadtest: %v\n", err)
		return exitUsage
	}
	if asJSON {
		enc := json.NewEncoder(std.out)
		enc.SetIndent("", "  ")
		enc.Encode(r)
	} else {
		r.WriteText(std.out)
	}
	if advice := r.Advice(); advice != "" {
		fmt.Fprintf(std.err, "greenpass loadtest: %s\n", advice)
	}
	return exitOK
}
