package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/greenpass-dcc/greenpass/loadtest"
)

func runLoadtest(ctx context.Context, args []string, std stdio) int {
	if len(args) == 0 || args[0] != "issue" {
		fmt.Fprintln(std.err, `Usage: greenpass loadtest issue --url URL --token TOKEN [flags]

Sends issuance requests to a running greenpass and reports request rate,
latency quantiles per status, the status histogram and errors.

Run "greenpass loadtest issue --help" for the flags.`)
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
	uvcis := fs.String("uvcis", "", "write the UVCI of every 201 to this file")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	quiet := fs.Bool("quiet", false, "no progress lines on stderr")
	if code, ok := parseFlags(fs, args[1:], std.err, "Usage: greenpass loadtest issue [flags]\n\nFlags:"); !ok {
		return code
	}
	cfg := loadtest.Config{URL: *url, Token: *token, Concurrency: *concurrency, Duration: *duration, Warmup: *warmup, Rate: *rate,
		Types: strings.Split(*types, ","), Idempotency: *idem, HonorRetryAfter: *honor}
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
	r, err := loadtest.Run(ctx, cfg)
	if err != nil {
		fmt.Fprintf(std.err, "greenpass loadtest: %v\n", err)
		return exitUsage
	}
	if *asJSON {
		enc := json.NewEncoder(std.out)
		enc.SetIndent("", "  ")
		enc.Encode(r)
	} else {
		r.WriteText(std.out)
	}
	return exitOK
}
