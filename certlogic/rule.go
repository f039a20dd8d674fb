package certlogic

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/greenpass-dcc/greenpass/internal/lazyre"
)

// Rule is a business rule as the DCC gateway distributes it
// (validation-rule.schema.json): an acceptance rule of a country of
// arrival, or an invalidation rule of an issuing country.
type Rule struct {
	Identifier      string        `json:"Identifier"`
	Type            string        `json:"Type"` // Acceptance or Invalidation
	Country         string        `json:"Country"`
	Region          string        `json:"Region,omitempty"`
	Version         string        `json:"Version"`
	SchemaVersion   string        `json:"SchemaVersion"`
	Engine          string        `json:"Engine"`
	EngineVersion   string        `json:"EngineVersion"`
	CertificateType string        `json:"CertificateType"` // General, Test, Vaccination, Recovery
	Description     []Description `json:"Description"`
	ValidFrom       time.Time     `json:"ValidFrom"`
	ValidTo         time.Time     `json:"ValidTo"`
	AffectedFields  []string      `json:"AffectedFields"`
	Logic           any           `json:"-"`
}

// Description is a rule's text in one language.
type Description struct {
	Lang string `json:"lang"`
	Desc string `json:"desc"`
}

// Rule types.
const (
	Acceptance   = "Acceptance"
	Invalidation = "Invalidation"
)

// MaxRuleSize bounds one rule document.
const MaxRuleSize = 256 << 10

var (
	ruleIDPattern  = lazyre.New(`^(GR|VR|TR|RR|IR)-[A-Z]{2}-\d{4}$`)
	countryPattern = lazyre.New(`^[A-Z]{2}$`)
	semverPattern  = lazyre.New(`^\d+\.\d+\.\d+$`)
	langPattern    = lazyre.New(`^([a-z]{2}|[a-z]{2}-[a-z]{2})$`)
)

// ParseRule reads and checks a rule: the fields the schema requires with
// their formats, and a Logic that is a valid CertLogic expression.
// Certificate types are accepted in any case, as the apps do.
func ParseRule(data []byte) (*Rule, error) {
	if len(data) > MaxRuleSize {
		return nil, fmt.Errorf("rule of %d bytes exceeds %d", len(data), MaxRuleSize)
	}
	var r Rule
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("rule: %w", err)
	}
	var raw struct {
		Logic json.RawMessage `json:"Logic"`
	}
	json.Unmarshal(data, &raw)
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if !ruleIDPattern().MatchString(r.Identifier) {
		bad("Identifier %q is not like VR-DE-0001", r.Identifier)
	}
	if r.Type != Acceptance && r.Type != Invalidation {
		bad("Type %q is not Acceptance or Invalidation", r.Type)
	}
	if !countryPattern().MatchString(r.Country) {
		bad("Country %q is not two upper-case letters", r.Country)
	}
	for _, v := range []struct{ name, value string }{{"Version", r.Version}, {"SchemaVersion", r.SchemaVersion}, {"EngineVersion", r.EngineVersion}} {
		if !semverPattern().MatchString(v.value) {
			bad("%s %q is not a version like 1.0.0", v.name, v.value)
		}
	}
	if r.Engine == "" {
		bad("Engine is missing")
	}
	switch strings.ToLower(r.CertificateType) {
	case "general", "test", "vaccination", "recovery":
	default:
		bad("CertificateType %q is not General, Test, Vaccination or Recovery", r.CertificateType)
	}
	hasEN := false
	for _, d := range r.Description {
		if !langPattern().MatchString(d.Lang) {
			bad("Description language %q is not like en or de-at", d.Lang)
		}
		hasEN = hasEN || d.Lang == "en"
	}
	if !hasEN {
		bad("Description needs an English (en) text")
	}
	if r.ValidFrom.IsZero() || r.ValidTo.IsZero() || !r.ValidFrom.Before(r.ValidTo) {
		bad("ValidFrom must be before ValidTo")
	}
	if len(raw.Logic) == 0 {
		bad("Logic is missing")
	} else if logic, err := Decode(raw.Logic); err != nil {
		bad("Logic: %v", err)
	} else if issues := Validate(logic); len(issues) > 0 {
		bad("Logic is not valid CertLogic: %s", issues[0].Message)
	} else {
		r.Logic = logic
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("rule %s: %w", r.Identifier, err)
	}
	return &r, nil
}

// Text is the rule's description in lang, else in English.
func (r *Rule) Text(lang string) string {
	en := ""
	for _, d := range r.Description {
		if d.Lang == lang {
			return d.Desc
		}
		if d.Lang == "en" {
			en = d.Desc
		}
	}
	return en
}

// Selection says which rules apply to a certificate.
type Selection struct {
	Arrival string // the checkpoint's country: its acceptance rules apply
	Issuer  string // the certificate's issuing country: its invalidation rules apply
	Region  string // the arrival region; rules of other regions are left out
	// Type is the certificate type: Vaccination, Test or Recovery.
	Type  string
	Clock time.Time
}

// Select picks the rules that apply (as the reference apps do): acceptance
// rules of the arrival country and invalidation rules of the issuing
// country, of the certificate's type or General, valid at the clock, of
// the region (or none), and of each identifier only the highest version.
func Select(rules []*Rule, s Selection) []*Rule {
	best := map[string]*Rule{}
	for _, r := range rules {
		switch {
		case r.Type == Acceptance && r.Country != s.Arrival:
			continue
		case r.Type == Invalidation && r.Country != s.Issuer:
			continue
		case !strings.EqualFold(r.CertificateType, "General") && !strings.EqualFold(r.CertificateType, s.Type):
			continue
		case s.Clock.Before(r.ValidFrom) || s.Clock.After(r.ValidTo):
			continue
		case r.Region != "" && !strings.EqualFold(r.Region, s.Region):
			continue
		}
		if cur := best[r.Identifier]; cur == nil || CompareVersions(r.Version, cur.Version) > 0 {
			best[r.Identifier] = r
		}
	}
	out := make([]*Rule, 0, len(best))
	for _, r := range best {
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b *Rule) int { return cmp.Compare(a.Identifier, b.Identifier) })
	return out
}

// CompareVersions orders x.y.z versions numerically.
func CompareVersions(a, b string) int {
	pa, pb := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < max(len(pa), len(pb)); i++ {
		var x, y int
		if i < len(pa) {
			x, _ = strconv.Atoi(pa[i])
		}
		if i < len(pb) {
			y, _ = strconv.Atoi(pb[i])
		}
		if c := cmp.Compare(x, y); c != 0 {
			return c
		}
	}
	return 0
}

// Result of a rule.
type Result string

// Results.
const (
	Passed Result = "PASSED"
	Failed Result = "FAILED"
	// Open: the rule could not be decided — another engine, a newer engine
	// version, a schema version it was not written for, or an error.
	Open Result = "OPEN"
)

// External is the external parameter object a rule sees besides the
// payload.
type External struct {
	ValidationClock   time.Time
	ValueSets         map[string][]string
	CountryCode       string // arrival
	IssuerCountryCode string // CWT iss
	IssuedAt          time.Time
	ExpiresAt         time.Time
	KID               string // Base64
	Region            string
}

func (e External) data() map[string]any {
	vs := make(map[string]any, len(e.ValueSets))
	for id, codes := range e.ValueSets {
		list := make([]any, len(codes))
		for i, c := range codes {
			list[i] = c
		}
		vs[id] = list
	}
	return map[string]any{
		"validationClock":   e.ValidationClock.UTC().Format(time.RFC3339),
		"valueSets":         vs,
		"countryCode":       e.CountryCode,
		"issuerCountryCode": e.IssuerCountryCode,
		"iat":               e.IssuedAt.UTC().Format(time.RFC3339),
		"exp":               e.ExpiresAt.UTC().Format(time.RFC3339),
		"kid":               e.KID,
		"region":            e.Region,
	}
}

// SupportedEngineVersion is the CertLogic engine version implemented.
const SupportedEngineVersion = "1.3.0"

// Run decides one rule for a payload (the DCC as generic JSON, see
// Normalise) written in schema version dccVersion. The string says why a
// rule is open.
func Run(r *Rule, payload any, dccVersion string, ext External) (Result, string) {
	if !strings.EqualFold(r.Engine, "CERTLOGIC") {
		return Open, fmt.Sprintf("engine %s is not CertLogic", r.Engine)
	}
	if major(r.EngineVersion) > major(SupportedEngineVersion) {
		return Open, fmt.Sprintf("engine version %s is newer than the %s supported", r.EngineVersion, SupportedEngineVersion)
	}
	if major(dccVersion) != major(r.SchemaVersion) || CompareVersions(dccVersion, r.SchemaVersion) < 0 {
		return Open, fmt.Sprintf("written for schema %s, the certificate is %s", r.SchemaVersion, dccVersion)
	}
	v, err := Evaluate(r.Logic, map[string]any{"payload": payload, "external": ext.data()})
	if err != nil {
		return Open, err.Error()
	}
	switch truthiness(v) {
	case truthy:
		return Passed, ""
	case falsy:
		return Failed, ""
	}
	return Open, "the rule's result is neither true nor false"
}

func major(v string) int {
	n, _ := strconv.Atoi(strings.SplitN(v, ".", 2)[0])
	return n
}
