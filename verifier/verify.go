package verifier

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/greenpass-dcc/greenpass/certlogic"
	"github.com/greenpass-dcc/greenpass/hcert"
	"github.com/greenpass-dcc/greenpass/trustlist"
)

// TrustStore finds the trusted DSCs for a kid. *trustlist.List implements it.
type TrustStore interface {
	ByKID(kid []byte) []*trustlist.DSC
}

// allDSCs is implemented by trust stores that can list every DSC; it is only
// used when kid fallback is switched on.
type allDSCs interface {
	All() []*trustlist.DSC
}

// Verifier checks DCCs against a trust store at a clock. It is safe for
// concurrent use.
type Verifier struct {
	trust       TrustStore
	now         func() time.Time
	kidFallback bool
	skew        time.Duration
	revoked     RevocationChecker
	rules       RuleSource
	arrival     string
	region      string
	scanBudget  time.Duration
	frameBudget time.Duration
}

// WithScanBudget bounds the time VerifyImage spends looking for a QR code
// in a photo (qrscan.DefaultBudget when zero).
func WithScanBudget(d time.Duration) Option { return func(v *Verifier) { v.scanBudget = d } }

// WithFrameBudget bounds the time VerifyFrame spends on a camera frame
// (qrscan.DefaultFrameBudget when zero): the camera's next frame is the retry.
func WithFrameBudget(d time.Duration) Option { return func(v *Verifier) { v.frameBudget = d } }

// RevocationChecker says whether a certificate is revoked, by its hashes
// (*trustlist.RevocationList does).
type RevocationChecker interface {
	Revoked(kid []byte, hashes map[trustlist.HashType]trustlist.RevocationHash) (trustlist.HashType, bool)
}

// RuleSource supplies business rules and the value sets they refer to
// (value-set id → codes).
type RuleSource interface {
	Rules() []*certlogic.Rule
	ValueSets() map[string][]string
}

// WithRevocation checks certificates against a revocation list (the
// revocation stage).
func WithRevocation(c RevocationChecker) Option { return func(v *Verifier) { v.revoked = c } }

// WithRules checks certificates against the acceptance rules of the
// arrival country (the checkpoint's) and the invalidation rules of their
// issuing country (the rules stage). region selects regional rules.
func WithRules(src RuleSource, arrival, region string) Option {
	return func(v *Verifier) { v.rules, v.arrival, v.region = src, arrival, region }
}

// Option configures a Verifier.
type Option func(*Verifier)

// WithClock sets the validation clock (default time.Now).
func WithClock(now func() time.Time) Option { return func(v *Verifier) { v.now = now } }

// WithKIDFallback makes the verifier try every trusted DSC when none has the
// message's kid, as CovPass and the CWA do. Off by default: the EU test
// vectors CO22 and CO23 require a wrong kid to fail even when the signature
// is genuine.
func WithKIDFallback() Option { return func(v *Verifier) { v.kidFallback = true } }

// WithClockSkew tolerates an issuing clock ahead of the validation clock by
// up to d when checking iat (default 0).
func WithClockSkew(d time.Duration) Option { return func(v *Verifier) { v.skew = d } }

// New returns a Verifier that trusts the DSCs in trust.
func New(trust TrustStore, opts ...Option) *Verifier {
	v := &Verifier{trust: trust, now: time.Now}
	for _, o := range opts {
		o(v)
	}
	if v.trust == nil {
		v.trust = trustlist.NewList()
	}
	return v
}

// VerifyText verifies the QR text of a DCC ("HC1:…").
func (v *Verifier) VerifyText(ctx context.Context, text string) *Result {
	r := &Result{ValidatedAt: v.now().UTC(), Reasons: []Reason{}}
	r.Stages.set(StagePicture, Skipped)
	v.verifyText(ctx, r, text)
	return r
}

func (v *Verifier) verifyText(_ context.Context, r *Result, text string) {
	for i := 1; i < len(r.Stages); i++ { // every stage after picture, by index
		r.Stages[i] = Skipped
	}
	r.HC1 = strings.TrimRight(text, "\r\n")
	defer r.finish()

	b45, err := hcert.TrimPrefix(text)
	if err != nil {
		r.HC1 = ""
		if len(text) <= hcert.MaxTextLen {
			r.HC1 = strings.TrimRight(text, "\r\n")
		}
		r.fail(StagePrefix, codeFor(err, CodePrefixMissing), err.Error())
		return
	}
	r.pass(StagePrefix)

	coseMsg, err := hcert.InflateBase45(b45, 0)
	if errors.Is(err, hcert.ErrBase45) {
		r.fail(StageBase45, codeFor(err, CodeBase45Invalid), err.Error())
		return
	}
	r.pass(StageBase45)
	if err != nil {
		r.fail(StageZlib, codeFor(err, CodeCompression), err.Error())
		return
	}
	r.pass(StageZlib)

	msg, err := hcert.ParseSign1(coseMsg)
	if err != nil {
		r.fail(StageCOSE, codeFor(err, CodeCOSEMalformed), err.Error())
		return
	}
	r.pass(StageCOSE)
	r.KID, r.Alg = msg.KID, msg.Alg.String()

	// HCERT §6.3: the signature is checked before the payload is trusted. The
	// payload is still decoded when it fails, to report every problem, but a
	// result is only valid when every stage passes.
	v.checkSignature(r, msg)
	claims, cert := v.decodePayload(r, msg.Payload)
	v.checkKeyUsage(r, cert)
	v.checkExpiry(r, claims)
	v.checkRevocation(r, msg, claims, cert)
	v.checkRules(r, claims, cert)
}

// finish derives Valid: every stage after picture passed (the optional
// ones may have been skipped, never failed).
func (r *Result) finish() {
	r.Valid = r.Stages[0] != Fail // picture
	for i, s := range stageOrder[1:] {
		out := r.Stages[i+1]
		if out != Pass && !(optionalStages[s] && out == Skipped) {
			r.Valid = false
		}
	}
}

func (v *Verifier) checkSignature(r *Result, msg *hcert.Sign1) {
	candidates := v.trust.ByKID(msg.KID)
	fallback := false
	if len(candidates) == 0 && v.kidFallback {
		if all, ok := v.trust.(allDSCs); ok {
			candidates, fallback = all.All(), true
		}
	}
	if len(candidates) == 0 {
		r.fail(StageSignature, CodeDSCUnknown, fmt.Sprintf("no trusted DSC has kid %s", base64.StdEncoding.EncodeToString(msg.KID)))
		return
	}
	mismatch := 0
	var lastErr error
	for _, dsc := range candidates {
		if r.claimedBy == nil && !fallback {
			r.claimedBy = dsc
		}
		if dsc.Key == nil {
			mismatch++
			lastErr = dsc.KeyErr
			continue
		}
		err := msg.Verify(dsc.Key)
		if err == nil {
			r.DSC, r.claimedBy = dsc, dsc
			r.pass(StageSignature)
			return
		}
		if errors.Is(err, hcert.ErrKeyMismatch) {
			mismatch++
		}
		lastErr = err
	}
	if mismatch == len(candidates) {
		r.fail(StageSignature, CodeKeyMismatch, lastErr.Error())
		return
	}
	msgText := fmt.Sprintf("signature does not verify under the %d trusted DSC(s) with this kid", len(candidates))
	if fallback {
		msgText = fmt.Sprintf("kid unknown; signature does not verify under any of the %d trusted DSCs", len(candidates))
	}
	r.fail(StageSignature, CodeSignatureInvalid, msgText)
}

func (v *Verifier) decodePayload(r *Result, payload []byte) (*hcert.Claims, *hcert.Certificate) {
	claims, err := hcert.ParseClaims(payload)
	if err != nil {
		r.fail(StageCBOR, codeFor(err, CodeClaimsInvalid), err.Error())
		return nil, nil
	}
	r.Issuer = claims.Issuer
	r.IssuedAt, r.ExpiresAt = &claims.IssuedAt, &claims.ExpiresAt

	cert, err := hcert.DecodePayload(claims.DCC)
	switch {
	case errors.Is(err, hcert.ErrPayloadType):
		// Well-formed CBOR whose values do not fit the schema's types.
		r.pass(StageCBOR)
		r.fail(StageSchema, CodeSchemaInvalid, err.Error())
		return claims, nil
	case err != nil:
		r.fail(StageCBOR, CodeCBORMalformed, err.Error())
		return claims, nil
	}
	r.pass(StageCBOR)
	r.Certificate, r.Type = cert, cert.Type()

	if err := cert.Validate(); err != nil {
		var schemaErr hcert.SchemaError
		if !errors.As(err, &schemaErr) {
			schemaErr = hcert.SchemaError{{Field: "payload", Problem: err.Error()}}
		}
		for _, fe := range schemaErr {
			r.fail(StageSchema, CodeSchemaInvalid, fe.Error())
		}
	} else {
		r.pass(StageSchema)
	}
	return claims, cert
}

// checkKeyUsage and checkExpiry judge the DSC that verified the signature,
// or, when the signature failed, the trusted DSC the message names by its
// kid: the result then still shows every reason (the verdict stays invalid).
func (v *Verifier) checkKeyUsage(r *Result, cert *hcert.Certificate) {
	if cert == nil || r.claimedBy == nil {
		return // skipped: no payload, or no trusted DSC has the kid
	}
	t := cert.Type()
	if t == hcert.TypeUnknown {
		r.fail(StageKeyUsage, CodeTypeUnknown, "certificate must hold exactly one of v, t, r")
		return
	}
	if !allows(r.claimedBy.Certificate.UnknownExtKeyUsage, t) {
		r.fail(StageKeyUsage, CodeKeyUsage, fmt.Sprintf("the DSC's extended key usage does not allow %s certificates", t))
		return
	}
	r.pass(StageKeyUsage)
}

// checkExpiry enforces DSC.notBefore ≤ iat ≤ clock ≤ exp ≤ DSC.notAfter
// (HCERT §3.3.5–3.3.6; the EU test data's expiration semantics). The DSC
// bounds are checked when the signer is known; without one (no trusted DSC
// has the kid) the certificate's own times are still checked.
func (v *Verifier) checkExpiry(r *Result, claims *hcert.Claims) {
	if claims == nil {
		return
	}
	now := r.ValidatedAt
	failed := false
	fail := func(code Code, msg string) { failed = true; r.fail(StageExpiry, code, msg) }
	if now.After(claims.ExpiresAt) {
		fail(CodeCertExpired, "certificate expired at "+claims.ExpiresAt.Format(time.RFC3339))
	}
	if claims.IssuedAt.After(now.Add(v.skew)) {
		fail(CodeCertNotYetValid, "certificate issued in the future, at "+claims.IssuedAt.Format(time.RFC3339))
	}
	if d := r.claimedBy; d != nil {
		c := d.Certificate
		if now.After(c.NotAfter) {
			fail(CodeDSCExpired, "the signing DSC expired at "+c.NotAfter.UTC().Format(time.RFC3339))
		}
		if now.Before(c.NotBefore) {
			fail(CodeDSCNotYetValid, "the signing DSC is valid only from "+c.NotBefore.UTC().Format(time.RFC3339))
		}
		if claims.IssuedAt.Before(c.NotBefore) {
			fail(CodeIssuedBeforeDSC, "certificate issued before its DSC became valid")
		}
		if claims.ExpiresAt.After(c.NotAfter) {
			fail(CodeOutlivesDSC, "certificate expires after its DSC")
		}
	}
	if !failed {
		r.pass(StageExpiry)
	}
}
