package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/greenpass-dcc/greenpass/certlogic"
)

func runRules(ctx context.Context, args []string, std stdio) int {
	usage := func(w io.Writer) {
		fmt.Fprintln(w, `Usage: greenpass rules eval EXPR DATA
       greenpass rules check RULE...

  eval   evaluates the CertLogic expression in file EXPR on the JSON data in
         file DATA (either may be - for standard input) and prints the result
         as JSON, evaluating as the reference (certlogic-js) does: only the
         branches reached must be valid. An error: a message on stderr, exit 2.
  check  checks business-rule documents (the gateway's rule format, Logic
         valid CertLogic); exit 1 when one is not.`)
	}
	if len(args) == 0 {
		usage(std.err)
		return exitUsage
	}
	switch args[0] {
	case "eval":
		return rulesEval(args[1:], std)
	case "check":
		return rulesCheck(args[1:], std)
	case "help", "-h", "--help":
		usage(std.out)
		return exitOK
	}
	fmt.Fprintf(std.err, "greenpass rules: unknown command %q\n", args[0])
	usage(std.err)
	return exitUsage
}

// readJSONArg reads a file, or standard input for "-", and decodes it.
func readJSONArg(name, what string, std stdio) (any, bool) {
	data, err := readInput(name, std.in)
	if err != nil {
		fmt.Fprintf(std.err, "greenpass rules eval: %s: %v\n", what, err)
		return nil, false
	}
	v, err := certlogic.Decode(data)
	if err != nil {
		fmt.Fprintf(std.err, "greenpass rules eval: %s %s is not JSON: %v\n", what, name, err)
		return nil, false
	}
	return v, true
}

func rulesEval(args []string, std stdio) int {
	fs := flag.NewFlagSet("rules eval", flag.ContinueOnError)
	if code, ok := parseFlags(fs, args, std.err, "Usage: greenpass rules eval EXPR DATA\n\nEXPR and DATA are files; one of them may be - (standard input)."); !ok {
		return code
	}
	if fs.NArg() != 2 {
		fmt.Fprintln(std.err, "greenpass rules eval: give the expression file and the data file (one may be -)")
		return exitUsage
	}
	if fs.Arg(0) == "-" && fs.Arg(1) == "-" {
		fmt.Fprintln(std.err, "greenpass rules eval: only one of EXPR and DATA can be standard input")
		return exitUsage
	}
	expr, ok := readJSONArg(fs.Arg(0), "expression", std)
	if !ok {
		return exitUsage
	}
	data, ok := readJSONArg(fs.Arg(1), "data", std)
	if !ok {
		return exitUsage
	}
	// Evaluated as the reference evaluator does: only what is reached must
	// be valid (rules check validates a rule's whole Logic statically).
	v, err := certlogic.Evaluate(expr, data)
	if err != nil {
		fmt.Fprintf(std.err, "greenpass rules eval: %v\n", err)
		return exitUsage
	}
	out, err := certlogic.MarshalResult(v)
	if err != nil {
		fmt.Fprintf(std.err, "greenpass rules eval: %v\n", err)
		return exitUsage
	}
	fmt.Fprintln(std.out, string(out))
	return exitOK
}

func rulesCheck(args []string, std stdio) int {
	fs := flag.NewFlagSet("rules check", flag.ContinueOnError)
	if code, ok := parseFlags(fs, args, std.err, "Usage: greenpass rules check RULE..."); !ok {
		return code
	}
	if fs.NArg() == 0 {
		fmt.Fprintln(std.err, "greenpass rules check: give one or more rule files")
		return exitUsage
	}
	code := exitOK
	for _, name := range fs.Args() {
		data, err := readLimited(name, certlogic.MaxRuleSize)
		if err != nil {
			fmt.Fprintf(std.err, "greenpass rules check: %v\n", err)
			code = exitUsage
			continue
		}
		r, err := certlogic.ParseRule(data)
		if err != nil {
			fmt.Fprintf(std.out, "%s: INVALID %v\n", name, err)
			if code == exitOK {
				code = exitInvalid
			}
			continue
		}
		fmt.Fprintf(std.out, "%s: ok %s %s %s (%s, %s)\n", name, r.Identifier, r.Version, r.Type, r.Country, r.CertificateType)
	}
	return code
}
