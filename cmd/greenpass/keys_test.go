package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/greenpass-dcc/greenpass/auth"
	"github.com/greenpass-dcc/greenpass/keys"
)

func TestKeysCommands(t *testing.T) {
	dir := t.TempDir()
	if code, _, errText := runCLI(t, nil, "keys", "issuer-token", "--data", dir, "--sub", "p1"); code != 2 || !strings.Contains(errText, "keys init") {
		t.Fatalf("issuer-token before init: exit %d %s", code, errText)
	}
	code, out, errText := runCLI(t, nil, "keys", "init", "--data", dir, "--country", "AT")
	if code != 0 || strings.Count(out, "kid ") != 3 {
		t.Fatalf("keys init: exit %d\n%s%s", code, out, errText)
	}
	if code, _, errText := runCLI(t, nil, "keys", "init", "--data", dir); code != 2 || !strings.Contains(errText, "already holds keys") {
		t.Fatalf("second keys init: exit %d %s", code, errText)
	}
	code, out, errText = runCLI(t, nil, "keys", "issuer-token", "--data", dir, "--sub", "pharmacy-7", "--country", "AT", "--roles", "issue:t", "--ttl", "1h")
	if code != 0 {
		t.Fatalf("issuer-token: exit %d %s", code, errText)
	}
	set, err := keys.Load(context.Background(), filepath.Join(dir, "keys"), "")
	if err != nil {
		t.Fatal(err)
	}
	v, _ := auth.NewVerifier(set.IssuerToken.Public(), nil)
	id, err := v.Verify(strings.TrimSpace(out))
	if err != nil || id.Subject != "pharmacy-7" || id.Country != "AT" || !id.Has(auth.RoleIssueTest) || id.Has(auth.RoleIssueVaccination) {
		t.Fatalf("printed token: %+v, %v", id, err)
	}
	for _, args := range [][]string{
		{"keys"},
		{"keys", "frob"},
		{"keys", "issuer-token", "--data", dir}, // no --sub
		{"keys", "issuer-token", "--data", dir, "--sub", "x", "--roles", "root"}, // unknown role
		{"keys", "init", "--data", t.TempDir(), "--alg", "ES384"},                // not a DCC algorithm
	} {
		if code, _, _ := runCLI(t, nil, args...); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
	// Tokens are minted no longer than a server accepts.
	for _, tc := range []struct {
		args []string
		want string // in the error; "" = minted
	}{
		{[]string{"--ttl", "721h"}, "--max-ttl (GREENPASS_ISSUER_TOKEN_MAX_TTL): --ttl 721h0m0s is longer"},
		{[]string{"--ttl", "720h"}, ""},
		{[]string{"--ttl", "2000h", "--max-ttl", "2000h"}, ""},
		{[]string{"--max-ttl", "soon"}, "--max-ttl (GREENPASS_ISSUER_TOKEN_MAX_TTL)"},
	} {
		code, _, errText := runCLI(t, nil, append([]string{"keys", "issuer-token", "--data", dir, "--sub", "p"}, tc.args...)...)
		if tc.want == "" && code != 0 || tc.want != "" && (code != 2 || !strings.Contains(errText, tc.want)) {
			t.Errorf("%v: exit %d %s", tc.args, code, errText)
		}
	}
	if code, out, errText := runCLI(t, nil, "keys", "complete", "--data", dir); code != 0 || !strings.Contains(out, "trust-anchor.pem") {
		t.Errorf("keys complete on a complete set: exit %d %s%s", code, out, errText)
	}
	if code, _, errText := runCLI(t, nil, "keys", "--help"); code != 0 || !strings.Contains(errText, "issuer-token") {
		t.Errorf("keys --help: exit %d %s", code, errText)
	}
}
