package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/greenpass-dcc/greenpass/auth"
	"github.com/greenpass-dcc/greenpass/keys"
)

func runKeys(ctx context.Context, args []string, std stdio) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprintln(std.err, `Usage: greenpass keys init|complete|issuer-token [flags]

  init          create the development trust chain (CSCA, one DSC per certificate
                type, upload certificate, trust anchor, issuer-token and
                trust-list keys) in DATA/keys
  complete      add the upload certificate and trust anchor to a key set made
                before they existed (its trust-list entries are then signed)
  issuer-token  print a bearer token for an issuer, signed with the issuer-token key

Run "greenpass keys SUBCOMMAND --help" for its flags.`)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	switch args[0] {
	case "init":
		return runKeysInit(ctx, args[1:], std)
	case "complete":
		return runKeysComplete(ctx, args[1:], std)
	case "issuer-token":
		return runIssuerToken(ctx, args[1:], std)
	}
	fmt.Fprintf(std.err, "greenpass keys: unknown subcommand %q (init, complete, issuer-token)\n", args[0])
	return exitUsage
}

// keyFlags are the flags every keys subcommand shares.
func keyFlags(fs *flag.FlagSet) (data, keeper *string) {
	data = fs.String("data", envOr("GREENPASS_DATA", "./data"), "data directory; keys live in DATA/keys (env GREENPASS_DATA)")
	keeper = fs.String("keys-secret", envOr("GREENPASS_KEYS_SECRET", ""),
		"gocloud.dev/secrets keeper URL encrypting the private keys (base64key://, awskms://, gcpkms://, azurekeyvault://); empty: plain PEM (env GREENPASS_KEYS_SECRET)")
	return data, keeper
}

func runKeysInit(ctx context.Context, args []string, std stdio) int {
	fs := flag.NewFlagSet("keys init", flag.ContinueOnError)
	data, keeper := keyFlags(fs)
	country := fs.String("country", "DE", "country (C=) of the certificates")
	alg := fs.String("alg", keys.AlgES256, "the document signers' algorithm: ES256 (ECDSA P-256) or PS256 (RSA-PSS, 3072-bit keys)")
	if code, ok := parseFlags(fs, args, std.err, "Usage: greenpass keys init [flags]\n\nCreates a development trust chain in DATA/keys; refuses to overwrite one.\n\nFlags:"); !ok {
		return code
	}
	dir := filepath.Join(*data, "keys")
	set, err := keys.Init(ctx, dir, keys.InitOptions{Country: *country, KeeperURL: *keeper, Alg: strings.ToUpper(*alg)})
	if err != nil {
		fmt.Fprintf(std.err, "greenpass keys init: %v\n", err)
		return exitUsage
	}
	fmt.Fprintf(std.out, "keys created in %s (trust anchor for instances syncing from this one: %s)\n", dir, filepath.Join(dir, keys.AnchorCert))
	for _, t := range keys.Types {
		d := set.DSCs[t]
		fmt.Fprintf(std.out, "  DSC %-11s %s kid %x  %s\n", t, keys.AlgOf(d.Signer.Public()), d.KID, filepath.Join(dir, "dsc-"+string(t)+".pem"))
	}
	return exitOK
}

func runKeysComplete(ctx context.Context, args []string, std stdio) int {
	fs := flag.NewFlagSet("keys complete", flag.ContinueOnError)
	data, keeper := keyFlags(fs)
	if code, ok := parseFlags(fs, args, std.err, "Usage: greenpass keys complete [flags]\n\nAdds the upload certificate and the trust anchor to the key set in DATA/keys when it lacks them.\n\nFlags:"); !ok {
		return code
	}
	dir := filepath.Join(*data, "keys")
	set, err := keys.Load(ctx, dir, *keeper)
	if err == nil {
		err = set.Complete(ctx, dir, *keeper)
	}
	if err != nil {
		fmt.Fprintf(std.err, "greenpass keys complete: %v\n", err)
		return exitUsage
	}
	fmt.Fprintf(std.out, "upload certificate %s, trust anchor %s\n", set.Upload.Certificate.Subject.CommonName, filepath.Join(dir, keys.AnchorCert))
	return exitOK
}

func runIssuerToken(ctx context.Context, args []string, std stdio) int {
	fs := flag.NewFlagSet("keys issuer-token", flag.ContinueOnError)
	data, keeper := keyFlags(fs)
	sub := fs.String("sub", "", "issuer id (required)")
	country := fs.String("country", "DE", "issuer country, ISO 3166-1 alpha-2")
	name := fs.String("name", "", `issuer name written into certificates ("is"); the server's --issuer-name when empty`)
	class := fs.String("class", "", "issuer class for the figures by class: "+strings.Join(auth.Classes, ", ")+" (empty: unspecified)")
	roles := fs.String("roles", "issue:v,issue:t,issue:r", "comma-separated roles: issue:v, issue:t, issue:r, verify (checkpoints), admin (operators: suspend issuers, revoke what they issued)")
	ttl := fs.Duration("ttl", 12*time.Hour, "how long the token is valid")
	var maxTTL time.Duration
	conf := newSettings(fs, os.Getenv, "")
	conf.Duration(&maxTTL, "max-ttl", "GREENPASS_ISSUER_TOKEN_MAX_TTL", auth.DefaultMaxLifetime, "longest --ttl minted: the server's --issuer-token-max-ttl")
	if code, ok := parseFlags(fs, args, std.err, "Usage: greenpass keys issuer-token --sub ID [flags]\n\nPrints a bearer token for the local server.\n\nFlags:"); !ok {
		return code
	}
	conf.check(*ttl <= maxTTL, "max-ttl", "--ttl %s is longer than the %s a server accepts", *ttl, maxTTL)
	if err := conf.err(); err != nil {
		fmt.Fprintf(std.err, "greenpass keys issuer-token: %v\n", err)
		return exitUsage
	}
	set, err := keys.Load(ctx, filepath.Join(*data, "keys"), *keeper)
	if err != nil {
		fmt.Fprintf(std.err, "greenpass keys issuer-token: %v (run greenpass keys init first)\n", err)
		return exitUsage
	}
	var rs []auth.Role
	for _, r := range strings.Split(*roles, ",") {
		if r = strings.TrimSpace(r); r != "" {
			rs = append(rs, auth.Role(r))
		}
	}
	token, err := auth.Sign(set.IssuerToken, auth.Identity{Subject: *sub, Country: *country, Name: *name, Class: *class, Roles: rs}, *ttl, time.Now())
	if err != nil {
		fmt.Fprintf(std.err, "greenpass keys issuer-token: %v\n", err)
		return exitUsage
	}
	fmt.Fprintln(std.out, token)
	return exitOK
}
