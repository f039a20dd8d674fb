package trustlistsync

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/greenpass-dcc/greenpass/internal/fakegateway"
	"github.com/greenpass-dcc/greenpass/trustlist"
)

func ruleDoc(id, country, logic string) []byte {
	return []byte(fmt.Sprintf(`{"Identifier":%q,"Type":"Acceptance","Country":%q,"Version":"1.0.0","SchemaVersion":"1.0.0",
		"Engine":"CERTLOGIC","EngineVersion":"1.0.0","CertificateType":"Vaccination","Description":[{"lang":"en","desc":"rule %s"}],
		"ValidFrom":"2021-07-01T00:00:00Z","ValidTo":"2030-06-01T00:00:00Z","AffectedFields":["v.0.dn"],"Logic":%s}`, id, country, id, logic))
}

// Rules from a business-rule service: hash-addressed, checked against the
// hash, the pinned key and CertLogic; bad ones dropped with the reason.
func TestSyncImportsBusinessRules(t *testing.T) {
	f := newFixture(t)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	svc := fakegateway.NewRuleService(key)
	svc.AddRule("DE", ruleDoc("VR-DE-0001", "DE", `{">=":[{"var":"payload.v.0.dn"},{"var":"payload.v.0.sd"}]}`))
	svc.AddRule("AT", ruleDoc("VR-AT-0001", "AT", `true`))
	svc.AddRule("FR", ruleDoc("VR-FR-0001", "FR", `{"or":[true]}`)) // not CertLogic
	svc.AddValueSet([]byte(`{"valueSetId":"disease-agent-targeted","valueSetDate":"2021-04-27","valueSetValues":{"840539006":{"display":"COVID-19","lang":"en","active":true,"version":"1","system":"x"}}}`))
	svc.SetCountries("AT", "DE", "FR")
	srv := httptest.NewServer(svc)
	defer srv.Close()

	cfg := f.config()
	cfg.Rules = &RuleService{Base: srv.URL, Key: &key.PublicKey}
	rep, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Rules != 2 || rep.ValueSets != 1 || rep.DroppedBy()[CodeRuleInvalid] != 1 {
		t.Fatalf("report: %d rules, %d value sets, dropped %v", rep.Rules, rep.ValueSets, rep.DroppedBy())
	}
	snap, hash, _ := f.snaps.Current(context.Background())
	v, errs := trustlist.NewView(snap, hash, f.signer)
	if len(errs) > 0 || len(v.Rules()) != 2 || len(v.ValueSets()["disease-agent-targeted"]) != 1 {
		t.Fatalf("view: %d rules, value sets %v, %v", len(v.Rules()), v.ValueSets(), errs)
	}

	// Signed by another key: the list itself is refused, nothing published.
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	cfg.Rules = &RuleService{Base: srv.URL, Key: &other.PublicKey}
	if _, err := Run(context.Background(), cfg); !errors.Is(err, ErrUpstream) {
		t.Fatalf("rules signed by another key: %v", err)
	}
	// Documents that do not match their hashes: with none left, the last
	// good rules stay and the sync says the upstream is invalid.
	svc.Tamper = ruleDoc("VR-DE-0001", "DE", `false`)
	cfg.Rules = &RuleService{Base: srv.URL, Key: &key.PublicKey}
	if _, err := Run(context.Background(), cfg); !errors.Is(err, ErrUpstream) {
		t.Fatalf("every rule tampered: %v", err)
	}
	if snap, _, _ := f.snaps.Current(context.Background()); len(snap.Rules) != 2 {
		t.Fatalf("last good rules gone: %d", len(snap.Rules))
	}
	// Without a rules source the last good rules stay.
	svc.Tamper = nil
	cfg.Rules = &RuleService{Base: srv.URL, Key: &key.PublicKey}
	Run(context.Background(), cfg)
	cfg.Rules = nil
	if rep, err := Run(context.Background(), cfg); err != nil || rep.Rules != 2 {
		t.Fatalf("without a rules source: %d rules, %v", rep.Rules, err)
	}
}

func TestRuleFiles(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "one.json"), ruleDoc("VR-DE-0001", "DE", `true`), 0o600)
	os.WriteFile(filepath.Join(dir, "two.json"), []byte("["+string(ruleDoc("VR-DE-0002", "DE", `true`))+","+string(ruleDoc("VR-DE-0003", "DE", `true`))+"]"), 0o600)
	b, err := (&RuleFiles{Path: dir}).FetchRules(context.Background())
	if err != nil || len(b.Rules) != 3 {
		t.Fatalf("%d rules, %v", len(b.Rules), err)
	}
	os.WriteFile(filepath.Join(dir, "bad.json"), ruleDoc("VR-DE-0004", "DE", `{"or":[1]}`), 0o600)
	if _, err := (&RuleFiles{Path: dir}).FetchRules(context.Background()); err == nil {
		t.Fatal("an invalid rule file was accepted")
	}
}

// Revocation batches: signed by the country's upload certificate, live;
// a batch signed by another country's is dropped, an expired one ignored.
func TestSyncImportsRevocations(t *testing.T) {
	f := newFixture(t)
	h := func(b byte) trustlist.RevocationHash { return trustlist.RevocationHash{b} }
	exp := now.AddDate(0, 1, 0)
	if _, err := f.gw.AddRevocationBatch("DE", "AAAAAAAAAAA=", trustlist.HashUCI, []trustlist.RevocationHash{h(1), h(2)}, exp, nil); err != nil {
		t.Fatal(err)
	}
	f.gw.AddRevocationBatch("AT", "BBBBBBBBBBB=", trustlist.HashSignature, []trustlist.RevocationHash{h(3)}, exp, nil)
	f.gw.AddRevocationBatch("AT", "CCCCCCCCCCC=", trustlist.HashUCI, []trustlist.RevocationHash{h(4)}, exp, &f.gw.Countries["DE"].Upload)
	f.gw.AddRevocationBatch("FR", "DDDDDDDDDDD=", trustlist.HashUCI, []trustlist.RevocationHash{h(5)}, now.AddDate(0, 0, -1), nil)
	rep, err := Run(context.Background(), f.config())
	if err != nil {
		t.Fatal(err)
	}
	if rep.Revocations != 3 || rep.DroppedBy()[CodeBatch] != 1 {
		t.Fatalf("revocations %d, dropped %v", rep.Revocations, rep.DroppedBy())
	}
	snap, _, _ := f.snaps.Current(context.Background())
	list := trustlist.NewRevocationList(snap.Revocations...)
	kid := []byte{0, 0, 0, 0, 0, 0, 0, 0}
	if _, revoked := list.Revoked(kid, map[trustlist.HashType]trustlist.RevocationHash{trustlist.HashUCI: h(2)}); !revoked {
		t.Fatal("DE batch entry not listed")
	}
}
