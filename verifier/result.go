package verifier

import (
	"bytes"
	"time"

	"github.com/greenpass-dcc/greenpass/hcert"
	"github.com/greenpass-dcc/greenpass/trustlist"
)

// Stage names one step of verification.
type Stage string

// The stages in the order a DCC passes through them.
const (
	StagePicture   Stage = "picture"
	StagePrefix    Stage = "prefix"
	StageBase45    Stage = "base45"
	StageZlib      Stage = "zlib"
	StageCOSE      Stage = "cose"
	StageCBOR      Stage = "cbor"
	StageSchema    Stage = "schema"
	StageSignature Stage = "signature"
	StageKeyUsage  Stage = "keyUsage"
	StageExpiry    Stage = "expiry"
	// StageRevocation and StageRules run when the verifier has a
	// revocation list and business rules; a verifier without them skips
	// them, and that does not make a certificate invalid.
	StageRevocation Stage = "revocation"
	StageRules      Stage = "rules"
)

// optionalStages may be skipped in a valid result.
var optionalStages = map[Stage]bool{StageRevocation: true, StageRules: true}

// stageOrder is the report order (the order: decoding first, then
// the checks that need trust and time).
var stageOrder = [...]Stage{
	StagePicture, StagePrefix, StageBase45, StageZlib, StageCOSE,
	StageCBOR, StageSchema, StageSignature, StageKeyUsage, StageExpiry, StageRevocation, StageRules,
}

// Stages returns all stages in report order.
func Stages() []Stage { return append([]Stage(nil), stageOrder[:]...) }

// Outcome is what happened at a stage.
type Outcome string

// Outcomes.
const (
	Pass    Outcome = "pass"
	Fail    Outcome = "fail"
	Skipped Outcome = "skipped" // not applicable, or an earlier stage failed
)

// Reason explains a failure. Messages name fields and rules, never personal
// data, so results can be logged.
type Reason struct {
	Stage   Stage  `json:"stage"`
	Code    Code   `json:"code"`
	Message string `json:"message"`
}

// StageOutcomes holds one outcome per stage; it marshals as a JSON object in
// stage order.
type StageOutcomes [len(stageOrder)]Outcome

// Get returns the outcome of s.
func (o *StageOutcomes) Get(s Stage) Outcome {
	for i, st := range stageOrder {
		if st == s {
			return o[i]
		}
	}
	return ""
}

func (o *StageOutcomes) set(s Stage, out Outcome) {
	for i, st := range stageOrder {
		if st == s {
			o[i] = out
			return
		}
	}
}

// MarshalJSON writes {"picture":"pass",...} in stage order.
func (o StageOutcomes) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, s := range stageOrder {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`"` + string(s) + `":"` + string(o[i]) + `"`)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// Result is the outcome of verifying one DCC.
type Result struct {
	HC1     string        `json:"hc1,omitempty"` // the text found (image input) or given
	Valid   bool          `json:"valid"`
	Stages  StageOutcomes `json:"stages"`
	Reasons []Reason      `json:"reasons"`

	Type        hcert.Type         `json:"type,omitempty"`
	Certificate *hcert.Certificate `json:"payload,omitempty"`
	KID         []byte             `json:"kid,omitempty"` // marshals as standard Base64
	Alg         string             `json:"alg,omitempty"`
	Issuer      string             `json:"iss,omitempty"`
	IssuedAt    *time.Time         `json:"iat,omitempty"`
	ExpiresAt   *time.Time         `json:"exp,omitempty"`
	// ValidatedAt is the validation clock the decision was made at.
	ValidatedAt time.Time `json:"validatedAt"`

	// DSC is the trusted certificate whose key verified the signature.
	DSC *trustlist.DSC `json:"-"`
	// claimedBy is DSC, or when the signature failed the first trusted DSC
	// with the message's kid: key usage and expiry are judged against it.
	claimedBy *trustlist.DSC
}

// FirstReason returns the first failure in stage order, or nil when valid.
func (r *Result) FirstReason() *Reason {
	for _, s := range stageOrder {
		for i := range r.Reasons {
			if r.Reasons[i].Stage == s {
				return &r.Reasons[i]
			}
		}
	}
	return nil
}

func (r *Result) pass(s Stage) { r.Stages.set(s, Pass) }

func (r *Result) fail(s Stage, code Code, msg string) {
	r.Stages.set(s, Fail)
	r.Reasons = append(r.Reasons, Reason{Stage: s, Code: code, Message: msg})
}
