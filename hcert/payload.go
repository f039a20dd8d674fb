package hcert

import (
	"errors"
	"fmt"
	"math"

	"github.com/fxamacker/cbor/v2"
)

// Type is the kind of a certificate, named after its payload group.
type Type string

// The three certificate types; TypeUnknown when the payload has zero or
// several groups.
const (
	TypeVaccination Type = "v"
	TypeTest        Type = "t"
	TypeRecovery    Type = "r"
	TypeUnknown     Type = ""
)

// String returns the English name of the type.
func (t Type) String() string {
	switch t {
	case TypeVaccination:
		return "vaccination"
	case TypeTest:
		return "test"
	case TypeRecovery:
		return "recovery"
	}
	return "unknown"
}

// Certificate is the DCC payload (claim -260/1), with the field names of the
// JSON schema. Fields are kept as issued: dates stay strings because issuers
// put dates, date-times and partial dates in them.
type Certificate struct {
	Version      string        `cbor:"ver" json:"ver"`
	Name         Name          `cbor:"nam" json:"nam"`
	DateOfBirth  string        `cbor:"dob" json:"dob"`
	Vaccinations []Vaccination `cbor:"v,omitempty" json:"v,omitempty"`
	Tests        []Test        `cbor:"t,omitempty" json:"t,omitempty"`
	Recoveries   []Recovery    `cbor:"r,omitempty" json:"r,omitempty"`

	// raw is the payload as signed, kept by DecodePayload: it is what the
	// certificate shows as JSON (empty strings and keys outside the schema
	// included), and missing lists the keys it lacks that the schema
	// requires or counts (paths like "v[0].vp", "nam.fnt"). Both are nil for
	// a certificate built in code.
	raw     []byte
	missing map[string]bool
}

// Name is the person's name as written and transliterated (ICAO 9303).
type Name struct {
	Family         string `cbor:"fn,omitempty" json:"fn,omitempty"`
	FamilyStandard string `cbor:"fnt,omitempty" json:"fnt,omitempty"`
	Given          string `cbor:"gn,omitempty" json:"gn,omitempty"`
	GivenStandard  string `cbor:"gnt,omitempty" json:"gnt,omitempty"`
}

// Vaccination is one entry of the v group.
type Vaccination struct {
	Target       string `cbor:"tg" json:"tg"` // disease-agent-targeted
	Vaccine      string `cbor:"vp" json:"vp"` // sct-vaccines-covid-19
	Product      string `cbor:"mp" json:"mp"` // vaccines-covid-19-names
	Manufacturer string `cbor:"ma" json:"ma"` // vaccines-covid-19-auth-holders
	DoseNumber   Count  `cbor:"dn" json:"dn"`
	TotalDoses   Count  `cbor:"sd" json:"sd"`
	Date         string `cbor:"dt" json:"dt"`
	Country      string `cbor:"co" json:"co"`
	Issuer       string `cbor:"is" json:"is"`
	ID           string `cbor:"ci" json:"ci"` // UVCI
}

// Test is one entry of the t group.
type Test struct {
	Target    string `cbor:"tg" json:"tg"`
	TestType  string `cbor:"tt" json:"tt"`                     // covid-19-lab-test-type
	TestName  string `cbor:"nm,omitempty" json:"nm,omitempty"` // NAAT name, free text
	Device    string `cbor:"ma,omitempty" json:"ma,omitempty"` // RAT device id
	SampledAt string `cbor:"sc" json:"sc"`
	ResultAt  string `cbor:"dr,omitempty" json:"dr,omitempty"` // up to schema 1.1
	Result    string `cbor:"tr" json:"tr"`                     // covid-19-lab-result
	Centre    string `cbor:"tc,omitempty" json:"tc,omitempty"`
	Country   string `cbor:"co" json:"co"`
	Issuer    string `cbor:"is" json:"is"`
	ID        string `cbor:"ci" json:"ci"`
}

// Recovery is one entry of the r group.
type Recovery struct {
	Target        string `cbor:"tg" json:"tg"`
	FirstPositive string `cbor:"fr" json:"fr"`
	Country       string `cbor:"co" json:"co"`
	Issuer        string `cbor:"is" json:"is"`
	ValidFrom     string `cbor:"df" json:"df"`
	ValidUntil    string `cbor:"du" json:"du"`
	ID            string `cbor:"ci" json:"ci"`
}

// Count is a dose number. Some issuers encoded it as a float (IE production
// certificates: 1.0); integral floats are accepted, anything else is a type
// error.
type Count int

// errValue marks a value of the right CBOR kind but unusable (a fractional
// dose count); decodeInto reports it as ErrPayloadType.
var errValue = errors.New("unusable value")

// UnmarshalCBOR accepts an unsigned integer or an integral float.
func (c *Count) UnmarshalCBOR(data []byte) error {
	switch majorType(data) {
	case majorUint:
		if len(data) == 1 { // 0–23: every real dose count
			*c = Count(data[0])
			return nil
		}
		var n uint64
		if err := decMode.Unmarshal(data, &n); err != nil {
			return err
		}
		if n > math.MaxInt32 {
			return fmt.Errorf("%w: count %d too large", errValue, n)
		}
		*c = Count(n)
		return nil
	case majorSimple:
		if len(data) == 1 && data[0] == 0xF6 { // null: treated as absent
			*c = 0
			return nil
		}
		var f float64
		if err := decMode.Unmarshal(data, &f); err == nil && f == math.Trunc(f) && f >= 0 && f <= math.MaxInt32 {
			*c = Count(f)
			return nil
		}
	}
	return fmt.Errorf("%w: count is not a non-negative integer", errValue)
}

// wirePayload is the decoding target: pointers tell a missing (or null)
// top-level key from an empty value, in one pass over the CBOR.
type wirePayload struct {
	Ver *string       `cbor:"ver"`
	Nam *Name         `cbor:"nam"`
	Dob *string       `cbor:"dob"`
	V   []Vaccination `cbor:"v"`
	T   []Test        `cbor:"t"`
	R   []Recovery    `cbor:"r"`
}

// certificate is the decoded payload as a Certificate, with the seen bits
// (seenVer, seenDob, seenNam) of the top-level keys it had, as fastPayload
// reports them.
func (w *wirePayload) certificate() (Certificate, uint8) {
	c := Certificate{Vaccinations: w.V, Tests: w.T, Recoveries: w.R}
	var seen uint8
	if w.Ver != nil {
		c.Version, seen = *w.Ver, seen|seenVer
	}
	if w.Dob != nil {
		c.DateOfBirth, seen = *w.Dob, seen|seenDob
	}
	if w.Nam != nil {
		c.Name, seen = *w.Nam, seen|seenNam
	}
	return c, seen
}

// keys records which keys a decoded payload lacks (paths like "v[0].vp").
type keys map[string]bool

// DecodePayload decodes the DCC payload (the raw value of claim -260/1).
// Unknown keys are kept for display but not modelled (the schema allows
// them), and null values are treated as absent (BG issued a million
// certificates with "t": null). Values of the wrong type yield
// ErrPayloadType, malformed CBOR ErrCBOR; whether the fields satisfy the
// schema is Validate's job.
func DecodePayload(raw []byte) (*Certificate, error) {
	if majorType(raw) != majorMap {
		return nil, fmt.Errorf("%w: DCC payload is not a map", ErrPayloadType)
	}
	c := &Certificate{raw: raw}
	seen, ok := fastPayload(raw, c)
	if !ok {
		w := new(wirePayload)
		if err := decodeInto(raw, w, "DCC payload"); err != nil {
			return nil, err
		}
		*c, seen = w.certificate()
		c.raw = raw
	}
	var missing keys
	for _, k := range topKeys {
		if seen&k.bit == 0 {
			if missing == nil {
				missing = keys{}
			}
			missing[k.key] = true
		}
	}
	// An empty value may be a present "" or an absent key, which the
	// schema tells apart; only then is the payload read again for its keys
	// (real certificates rarely have an empty required field).
	if c.emptyRequired() {
		entries, err := presentKeys(raw)
		if err != nil {
			return nil, err
		}
		if missing == nil {
			missing = keys{}
		}
		for path := range entries {
			missing[path] = true
		}
	}
	c.missing = missing
	return c, nil
}

// required are the keys of each entry the schema requires (tc is optional
// since 1.3), and the transliterated names of which one is needed.
var required = map[string][]string{
	"v":   {"tg", "vp", "mp", "ma", "dn", "sd", "dt", "co", "is", "ci"},
	"t":   {"tg", "tt", "sc", "tr", "co", "is", "ci"},
	"r":   {"tg", "fr", "co", "is", "df", "du", "ci"},
	"nam": {"fnt", "gnt"},
}

// emptyRequired reports whether a required field (or both transliterated
// names) holds its zero value: present-but-empty or absent, undecided.
func (c *Certificate) emptyRequired() bool {
	if c.Name.FamilyStandard == "" && c.Name.GivenStandard == "" {
		return true
	}
	for _, e := range c.Vaccinations {
		if e.Target == "" || e.Vaccine == "" || e.Product == "" || e.Manufacturer == "" || e.DoseNumber == 0 || e.TotalDoses == 0 ||
			e.Date == "" || e.Country == "" || e.Issuer == "" || e.ID == "" {
			return true
		}
	}
	for _, e := range c.Tests {
		if e.Target == "" || e.TestType == "" || e.SampledAt == "" || e.Result == "" || e.Country == "" || e.Issuer == "" || e.ID == "" {
			return true
		}
	}
	for _, e := range c.Recoveries {
		if e.Target == "" || e.FirstPositive == "" || e.Country == "" || e.Issuer == "" || e.ValidFrom == "" || e.ValidUntil == "" || e.ID == "" {
			return true
		}
	}
	return false
}

// presentKeys reads the payload's name and entries as key sets and returns
// the paths of the required keys that are absent or null.
func presentKeys(raw []byte) (keys, error) {
	var w struct {
		Nam map[string]cbor.RawMessage   `cbor:"nam"`
		V   []map[string]cbor.RawMessage `cbor:"v"`
		T   []map[string]cbor.RawMessage `cbor:"t"`
		R   []map[string]cbor.RawMessage `cbor:"r"`
	}
	if err := decodeInto(raw, &w, "DCC payload"); err != nil {
		return nil, err
	}
	out := keys{}
	check := func(prefix string, m map[string]cbor.RawMessage, want []string) {
		for _, k := range want {
			if v, ok := m[k]; !ok || len(v) == 1 && v[0] == 0xF6 { // absent or null
				out[prefix+k] = true
			}
		}
	}
	check("nam.", w.Nam, required["nam"])
	for _, g := range []struct {
		name    string
		entries []map[string]cbor.RawMessage
	}{{"v", w.V}, {"t", w.T}, {"r", w.R}} {
		for i, m := range g.entries {
			check(entryPath(g.name, i), m, required[g.name])
		}
	}
	return out, nil
}

// has reports whether the decoded payload carries the key at path.
func (c *Certificate) has(path string) bool { return !c.missing[path] }

// Type returns the certificate type, TypeUnknown unless exactly one group is
// present.
func (c *Certificate) Type() Type {
	n, t := 0, TypeUnknown
	if len(c.Vaccinations) > 0 {
		n, t = n+1, TypeVaccination
	}
	if len(c.Tests) > 0 {
		n, t = n+1, TypeTest
	}
	if len(c.Recoveries) > 0 {
		n, t = n+1, TypeRecovery
	}
	if n != 1 {
		return TypeUnknown
	}
	return t
}

// UVCI returns the certificate identifier of the (first) entry, or "".
func (c *Certificate) UVCI() string {
	switch {
	case len(c.Vaccinations) > 0:
		return c.Vaccinations[0].ID
	case len(c.Tests) > 0:
		return c.Tests[0].ID
	case len(c.Recoveries) > 0:
		return c.Recoveries[0].ID
	}
	return ""
}
