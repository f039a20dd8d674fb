package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/greenpass-dcc/greenpass/internal/fakegateway"
)

func runGateway(ctx context.Context, args []string, std stdio) int {
	if len(args) == 0 || args[0] != "demo" {
		fmt.Fprintln(std.err, `Usage: greenpass gateway demo [flags]

  demo   serves a gateway of its own on loopback, for trying greenpass sync:
         a trust anchor, per country a CSCA and an upload certificate, and
         DSCs CMS-signed as countries upload them, in the gateway's
         GET /trustList format. It prints the sync command to run against
         it and serves until SIGINT.`)
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
			return exitOK
		}
		return exitUsage
	}
	fs := flag.NewFlagSet("gateway demo", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:8081", "listen address HOST:PORT")
	anchor := fs.String("anchor", "gateway-anchor.pem", "where to write the trust anchor `FILE` (PEM) that sync must be given")
	countries := fs.String("countries", "DE,AT,FR", "comma-separated countries onboarded")
	dscs := fs.Int("dscs", 3, "DSCs per country")
	if code, ok := parseFlags(fs, args[1:], std.err, "Usage: greenpass gateway demo [flags]\n\nFlags:"); !ok {
		return code
	}
	var ccs []string
	for _, c := range strings.Split(*countries, ",") {
		if c = strings.ToUpper(strings.TrimSpace(c)); len(c) != 2 {
			fmt.Fprintf(std.err, "greenpass gateway demo: --countries: %q is not a two-letter country code\n", c)
			return exitUsage
		} else {
			ccs = append(ccs, c)
		}
	}
	if *dscs < 1 || *dscs > 1000 {
		fmt.Fprintln(std.err, "greenpass gateway demo: --dscs: 1 to 1000")
		return exitUsage
	}
	gw, err := fakegateway.New(time.Now(), ccs...)
	if err == nil {
		for _, c := range ccs {
			for range *dscs {
				if _, err = gw.AddDSC(fakegateway.DSC{Country: c}); err != nil {
					break
				}
			}
		}
	}
	if err == nil {
		err = os.WriteFile(*anchor, gw.AnchorPEM(), 0o644)
	}
	if err != nil {
		fmt.Fprintf(std.err, "greenpass gateway demo: %v\n", err)
		return exitUsage
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintf(std.err, "greenpass gateway demo: %v\n", err)
		return exitUsage
	}
	srv := &http.Server{Handler: gw, ReadHeaderTimeout: 5 * time.Second}
	fmt.Fprintf(std.out, "gateway with %d DSCs of %s at http://%s; its trust anchor is in %s. Try:\n  greenpass sync --source http://%s --trust-anchor %s\n",
		len(ccs)**dscs, strings.Join(ccs, ", "), ln.Addr(), *anchor, ln.Addr(), *anchor)
	go func() {
		<-ctx.Done()
		shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(shut)
	}()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintf(std.err, "greenpass gateway demo: %v\n", err)
		return exitInvalid
	}
	return exitOK
}
