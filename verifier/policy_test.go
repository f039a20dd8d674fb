package verifier

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/greenpass-dcc/greenpass/certlogic"
	"github.com/greenpass-dcc/greenpass/hcert"
	"github.com/greenpass-dcc/greenpass/trustlist"
)

type ruleSet []*certlogic.Rule

func (r ruleSet) Rules() []*certlogic.Rule       { return r }
func (r ruleSet) ValueSets() map[string][]string { return nil }

func parseRule(t *testing.T, id, country, typ, certType, logic string) *certlogic.Rule {
	t.Helper()
	doc := fmt.Sprintf(`{"Identifier":%q,"Type":%q,"Country":%q,"Version":"1.0.0","SchemaVersion":"1.0.0","Engine":"CERTLOGIC",
		"EngineVersion":"1.0.0","CertificateType":%q,"Description":[{"lang":"en","desc":"%s in English"},{"lang":"de","desc":"%s auf Deutsch"}],
		"ValidFrom":"2021-01-01T00:00:00Z","ValidTo":"2030-01-01T00:00:00Z","AffectedFields":["x"],"Logic":%s}`, id, typ, country, certType, id, id, logic)
	r, err := certlogic.ParseRule([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// The rules stage: the arrival country's acceptance rules and the issuer
// country's invalidation rules decide; a failed rule is named with its
// descriptions; without rules the stage is skipped and the certificate
// stays valid.
func TestRulesStage(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	dsc := newDSC(t, key, nil, dscFrom, dscTo)
	list := trustlist.NewList(dsc)
	rules := ruleSet{
		parseRule(t, "VR-AT-0001", "AT", certlogic.Acceptance, "Vaccination",
			`{"if":[{"var":"payload.v.0"},{">=":[{"var":"payload.v.0.dn"},{"var":"payload.v.0.sd"}]},true]}`),
		parseRule(t, "TR-AT-0001", "AT", certlogic.Acceptance, "Test",
			`{"if":[{"var":"payload.t.0"},{"not-after":[{"plusTime":[{"var":"external.validationClock"},0,"hour"]},{"plusTime":[{"var":"payload.t.0.sc"},48,"hour"]}]},true]}`),
		parseRule(t, "IR-DE-0001", "DE", certlogic.Invalidation, "General",
			`{"!":[{"in":[{"extractFromUVCI":[{"var":"payload.v.0.ci"},2]},["BLOCKED"]]}]}`),
		parseRule(t, "VR-FR-0001", "FR", certlogic.Acceptance, "General", `false`),
	}
	partial := vaccination()
	partial.Vaccinations[0].DoseNumber = 1
	blocked := vaccination()
	blocked.Vaccinations[0].ID = "URN:UVCI:01:DE:BLOCKED#1"
	oldTest := testCert() // sampled 2021-05-29T10:00Z
	clock := func(ts time.Time) Option { return WithClock(func() time.Time { return ts }) }
	for _, tc := range []struct {
		name  string
		cert  *hcert.Certificate
		at    time.Time
		opts  []Option
		valid bool
		want  string // in the first reason
	}{
		{"full course passes", vaccination(), during, []Option{WithRules(rules, "AT", "")}, true, ""},
		{"1 of 2 doses fails", partial, during, []Option{WithRules(rules, "AT", "")}, false, "VR-AT-0001: VR-AT-0001 in English / VR-AT-0001 auf Deutsch"},
		{"other country's rules do not apply", partial, during, []Option{WithRules(rules, "IT", "")}, true, ""},
		{"issuer's invalidation rule", blocked, during, []Option{WithRules(rules, "AT", "")}, false, "IR-DE-0001"},
		{"test 47 h old", oldTest, time.Date(2021, 5, 31, 9, 0, 0, 0, time.UTC), []Option{WithRules(rules, "AT", "")}, true, ""},
		{"test 3 days old", oldTest, time.Date(2021, 6, 1, 10, 0, 0, 0, time.UTC), []Option{WithRules(rules, "AT", "")}, false, "TR-AT-0001"},
		{"no rules configured", partial, during, nil, true, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			iat := tc.at.Add(-time.Hour)
			text := issueText(t, key, dsc.KID, tc.cert, iat, tc.at.Add(24*time.Hour))
			r := New(list, append(tc.opts, clock(tc.at))...).VerifyText(context.Background(), text)
			if r.Valid != tc.valid {
				t.Fatalf("valid = %v, want %v; reasons %+v", r.Valid, tc.valid, r.Reasons)
			}
			if tc.want != "" {
				if fr := r.FirstReason(); fr == nil || fr.Stage != StageRules || fr.Code != CodeRuleFailed || !strings.Contains(fr.Message, tc.want) {
					t.Fatalf("first reason %+v, want a rules failure naming %q", fr, tc.want)
				}
			}
			wantStage := Pass
			switch {
			case tc.opts == nil:
				wantStage = Skipped
			case !tc.valid:
				wantStage = Fail
			}
			if got := r.Stages.Get(StageRules); got != wantStage {
				t.Fatalf("rules stage %s, want %s", got, wantStage)
			}
		})
	}
	// A rule that cannot be decided makes the certificate invalid: open,
	// never passed.
	broken := ruleSet{parseRule(t, "VR-AT-0002", "AT", certlogic.Acceptance, "General", `{"<":[{"var":"payload.nope"},1]}`)}
	text := issueText(t, key, dsc.KID, vaccination(), issued, expires)
	r := New(list, clock(during), WithRules(broken, "AT", "")).VerifyText(context.Background(), text)
	if fr := r.FirstReason(); r.Valid || fr == nil || fr.Code != CodeRuleOpen {
		t.Fatalf("open rule: valid %v, %+v", r.Valid, fr)
	}
}

// The revocation stage: each of the three hashes revokes, for the
// certificate's kid only.
func TestRevocationStage(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	dsc := newDSC(t, key, nil, dscFrom, dscTo)
	cert := vaccination()
	text := issueText(t, key, dsc.KID, cert, issued, expires)
	msg := mustDecode(t, text)
	hashes := trustlist.RevocationHashes(msg.Signature, true, "DE", cert.UVCI())
	kid := base64.StdEncoding.EncodeToString(dsc.KID)
	for _, ht := range trustlist.HashTypes {
		t.Run(string(ht), func(t *testing.T) {
			list := trustlist.NewRevocationList(trustlist.Revocation{KID: kid, Type: ht, Hash: hashes[ht]})
			r := New(trustlist.NewList(dsc), WithClock(func() time.Time { return during }), WithRevocation(list)).VerifyText(context.Background(), text)
			if fr := r.FirstReason(); r.Valid || fr == nil || fr.Code != CodeRevoked || !strings.Contains(fr.Message, string(ht)) {
				t.Fatalf("revoked by %s: valid %v, %+v", ht, r.Valid, fr)
			}
		})
	}
	other := trustlist.NewRevocationList(trustlist.Revocation{KID: "AAAAAAAAAAA=", Type: trustlist.HashUCI, Hash: hashes[trustlist.HashUCI]})
	r := New(trustlist.NewList(dsc), WithClock(func() time.Time { return during }), WithRevocation(other)).VerifyText(context.Background(), text)
	if !r.Valid || r.Stages.Get(StageRevocation) != Pass {
		t.Fatalf("another kid's list revoked it: %+v", r.Reasons)
	}
}
