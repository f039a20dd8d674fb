package verifier

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"testing"
	"time"

	"github.com/greenpass-dcc/greenpass/certlogic"
	"github.com/greenpass-dcc/greenpass/trustlist"
)

// published is a Published whose contents a test changes between scans.
type published struct {
	dscs    *trustlist.List
	rules   RuleSource
	revoked *trustlist.RevocationList
}

func (p *published) DSCs() TrustStore { return p.dscs }
func (p *published) Rules() RuleSource {
	if p.rules == nil {
		return nil
	}
	return p.rules
}
func (p *published) Revocations() RevocationChecker {
	if p.revoked == nil {
		return nil
	}
	return p.revoked
}

// Live reads what is published at each scan: the next scan sees a new
// trust list, a new revocation and the rules of the country it names.
func TestLiveSeesWhatIsPublishedNow(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	dsc := newDSC(t, key, nil, dscFrom, dscTo)
	cert := vaccination()
	text := issueText(t, key, dsc.KID, cert, issued, expires)
	src := &published{dscs: trustlist.NewList()}
	live := &Live{Source: src, Country: "DE", Now: func() time.Time { return during }}
	ctx := context.Background()
	steps := []struct {
		name    string
		change  func()
		country string
		code    Code // "" for valid
	}{
		{"no DSCs yet", func() {}, "", CodeDSCUnknown},
		{"a new trust list", func() { src.dscs = trustlist.NewList(dsc) }, "", ""},
		{"rules of another country", func() {
			src.rules = ruleSet{parseRule(t, "VR-AT-0001", "AT", certlogic.Acceptance, "General", `{"===":[1,2]}`)}
		}, "AT", CodeRuleFailed},
		{"the checkpoint's own country has no such rule", func() {}, "", ""},
		{"a new revocation", func() {
			msg := mustDecode(t, text)
			hashes := trustlist.RevocationHashes(msg.Signature, true, "DE", cert.UVCI())
			src.revoked = trustlist.NewRevocationList(trustlist.Revocation{KID: base64.StdEncoding.EncodeToString(dsc.KID),
				Type: trustlist.HashUCI, Hash: hashes[trustlist.HashUCI]})
		}, "", CodeRevoked},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			st.change()
			r := live.VerifyText(ctx, text, st.country)
			fr := r.FirstReason()
			switch {
			case st.code == "" && !r.Valid:
				t.Fatalf("want valid, got %+v", fr)
			case st.code != "" && (r.Valid || fr == nil || fr.Code != st.code):
				t.Fatalf("want %s, got valid %v, %+v", st.code, r.Valid, fr)
			}
			if !r.ValidatedAt.Equal(during) {
				t.Fatalf("validated at %v, want the injected clock", r.ValidatedAt)
			}
		})
	}
}
