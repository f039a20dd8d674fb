// Command greenpass issues, transfers and verifies EU Digital COVID
// Certificates. Each job is a subcommand; see "greenpass help".
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
)

// command is one subcommand.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, io stdio) int
}

// stdio is the process's standard streams, injected for tests.
type stdio struct {
	in       io.Reader
	out, err io.Writer
}

// gcPercent is the collector's target for the subcommand in args, when it
// has its own and GOGC does not set one. verify reads a batch of images,
// allocating a few MB for each over a live heap of a few MB: at the
// default GOGC of 100 the collector runs about once an image, and each
// cycle costs about 2 ms of CPU, most of it the large static data of the
// linked cloud and database clients. 200 halves the cycles for some 10 MB
// more heap (scripts/bench-qr.sh, README: Performance).
func gcPercent(args []string, getenv func(string) string) (int, bool) {
	if len(args) > 0 && args[0] == "verify" && getenv("GOGC") == "" {
		return 200, true
	}
	return 0, false
}

// Exit codes shared by all subcommands.
const (
	exitOK      = 0
	exitInvalid = 1 // the job ran, and its answer is "no" (an invalid certificate)
	exitUsage   = 2 // bad flags, unreadable input, I/O errors
)

func commands() []command {
	return []command{
		{"certificates", "list, show and revoke the issuer's own certificates on a running server", runCertificates},
		{"gateway", "serve a demo gateway on loopback to try sync against", runGateway},
		{"issue", "issue one certificate through a running server (JSON, HC1 text, QR PNG or PDF)", runIssue},
		{"keys", "create development keys, print issuer tokens", runKeys},
		{"loadtest", "send issuance load to a running server and report rate and latency", runLoadtest},
		{"rules", "evaluate CertLogic expressions, check business-rule documents", runRules},
		{"serve", "run the HTTP service (embedded store by default, MongoDB with MONGODB_URI)", runServe},
		{"sync", "pull the upstream trust list, verify every entry, publish a snapshot", runSync},
		{"verify", "verify DCCs from QR images or HC1: text", runVerify},
		{"wallet", "act as a wallet app: register for a test, fetch, list and show certificates", runWallet},
	}
}

func main() {
	if pct, ok := gcPercent(os.Args[1:], os.Getenv); ok {
		debug.SetGCPercent(pct)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], stdio{os.Stdin, os.Stdout, os.Stderr})
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, std stdio) int {
	if len(args) == 0 {
		usage(std.err)
		return exitUsage
	}
	switch args[0] {
	case "help", "-h", "-help", "--help":
		if len(args) > 1 {
			return run(ctx, []string{args[1], "--help"}, std)
		}
		usage(std.out)
		return exitOK
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return c.run(ctx, args[1:], std)
		}
	}
	fmt.Fprintf(std.err, "greenpass: unknown command %q\n\n", args[0])
	usage(std.err)
	return exitUsage
}

// parseFlags parses a subcommand's flags; -h prints usage and the flags.
// ok is false when the command should stop with code.
func parseFlags(fs *flag.FlagSet, args []string, w io.Writer, usage string) (code int, ok bool) {
	fs.SetOutput(w)
	fs.Usage = func() {
		fmt.Fprintln(w, usage)
		fs.PrintDefaults()
	}
	// Flags may follow arguments ("wallet show 1 --qr x.png"); "--" ends
	// the flags.
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return exitOK, false
			}
			return exitUsage, false
		}
		rest := fs.Args()
		if len(rest) == 0 {
			break
		}
		if i := len(args) - len(rest) - 1; i >= 0 && args[i] == "--" {
			positional = append(positional, rest...)
			break
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
	fs.Parse(append([]string{"--"}, positional...))
	return exitOK, true
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "greenpass — EU Digital COVID Certificate backend and verifier")
	fmt.Fprintln(w, "\nUsage: greenpass COMMAND [flags] [arguments]\n\nCommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun \"greenpass COMMAND --help\" for a command's flags.")
}

// envOr returns the environment variable key, or def when it is unset.
func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}
