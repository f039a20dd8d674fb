package verifier

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/greenpass-dcc/greenpass/certlogic"
	"github.com/greenpass-dcc/greenpass/hcert"
	"github.com/greenpass-dcc/greenpass/trustlist"
)

// checkRevocation looks the certificate's three hashes up in the
// revocation list of its kid.
func (v *Verifier) checkRevocation(r *Result, msg *hcert.Sign1, claims *hcert.Claims, cert *hcert.Certificate) {
	if v.revoked == nil || claims == nil || cert == nil {
		return // skipped
	}
	hashes := revocationHashes(msg, claims, cert)
	if t, revoked := v.revoked.Revoked(msg.KID, hashes); revoked {
		r.fail(StageRevocation, CodeRevoked, fmt.Sprintf("the certificate is revoked (listed by its %s hash for kid %s)",
			t, base64.StdEncoding.EncodeToString(msg.KID)))
		return
	}
	r.pass(StageRevocation)
}

// typeNames are the rules' names of the certificate types.
var typeNames = map[hcert.Type]string{hcert.TypeVaccination: "Vaccination", hcert.TypeTest: "Test", hcert.TypeRecovery: "Recovery"}

// checkRules runs the business rules that apply: the arrival country's
// acceptance rules and the issuing country's invalidation rules, at the
// validation clock. A failed rule is reported by its identifier and
// description (English, and German when the rule has one); a rule that
// cannot be decided is reported as open and the certificate is not valid.
func (v *Verifier) checkRules(r *Result, claims *hcert.Claims, cert *hcert.Certificate) {
	if v.rules == nil || claims == nil || cert == nil || cert.Type() == hcert.TypeUnknown {
		return // skipped
	}
	selected := certlogic.Select(v.rules.Rules(), certlogic.Selection{
		Arrival: v.arrival, Issuer: claims.Issuer, Region: v.region, Type: typeNames[cert.Type()], Clock: r.ValidatedAt})
	payloadJSON, err := json.Marshal(cert)
	if err != nil {
		r.fail(StageRules, CodeRuleOpen, "the certificate cannot be given to the rules: "+err.Error())
		return
	}
	payload, err := certlogic.Decode(payloadJSON)
	if err != nil {
		r.fail(StageRules, CodeRuleOpen, "the certificate cannot be given to the rules: "+err.Error())
		return
	}
	ext := certlogic.External{
		ValidationClock: r.ValidatedAt, ValueSets: v.rules.ValueSets(), CountryCode: v.arrival,
		IssuerCountryCode: claims.Issuer, IssuedAt: claims.IssuedAt, ExpiresAt: claims.ExpiresAt,
		KID: base64.StdEncoding.EncodeToString(r.KID), Region: v.region,
	}
	failed := false
	for _, rule := range selected {
		switch res, why := certlogic.Run(rule, payload, cert.Version, ext); res {
		case certlogic.Failed:
			failed = true
			r.fail(StageRules, CodeRuleFailed, ruleText(rule))
		case certlogic.Open:
			failed = true
			r.fail(StageRules, CodeRuleOpen, rule.Identifier+": could not be decided: "+why)
		}
	}
	if !failed {
		r.pass(StageRules)
	}
}

// ruleText is "VR-DE-0001: <English> / <German>".
func ruleText(rule *certlogic.Rule) string {
	en, de := rule.Text("en"), rule.Text("de")
	parts := []string{rule.Identifier + ": " + en}
	if de != "" && de != en {
		parts = append(parts, de)
	}
	return strings.Join(parts, " / ")
}

// revocationHashes are the certificate's hashes as revocation lists carry
// them: of the signature, of ci, of the CWT issuer country and ci.
func revocationHashes(msg *hcert.Sign1, claims *hcert.Claims, cert *hcert.Certificate) map[trustlist.HashType]trustlist.RevocationHash {
	return trustlist.RevocationHashes(msg.Signature, msg.Alg == hcert.AlgES256, claims.Issuer, cert.UVCI())
}
