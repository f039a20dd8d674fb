package hcert

import (
	"errors"
	"fmt"
	"math"
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

// The wire* types are the decoding targets: pointers tell a missing (or
// null) key from an empty value, in one pass over the CBOR.
type wirePayload struct {
	Ver *string           `cbor:"ver"`
	Nam *wireName         `cbor:"nam"`
	Dob *string           `cbor:"dob"`
	V   []wireVaccination `cbor:"v"`
	T   []wireTest        `cbor:"t"`
	R   []wireRecovery    `cbor:"r"`
}

type wireName struct {
	Fn  *string `cbor:"fn"`
	Fnt *string `cbor:"fnt"`
	Gn  *string `cbor:"gn"`
	Gnt *string `cbor:"gnt"`
}

type wireVaccination struct {
	Tg *string `cbor:"tg"`
	Vp *string `cbor:"vp"`
	Mp *string `cbor:"mp"`
	Ma *string `cbor:"ma"`
	Dn *Count  `cbor:"dn"`
	Sd *Count  `cbor:"sd"`
	Dt *string `cbor:"dt"`
	Co *string `cbor:"co"`
	Is *string `cbor:"is"`
	Ci *string `cbor:"ci"`
}

type wireTest struct {
	Tg *string `cbor:"tg"`
	Tt *string `cbor:"tt"`
	Nm *string `cbor:"nm"`
	Ma *string `cbor:"ma"`
	Sc *string `cbor:"sc"`
	Dr *string `cbor:"dr"`
	Tr *string `cbor:"tr"`
	Tc *string `cbor:"tc"`
	Co *string `cbor:"co"`
	Is *string `cbor:"is"`
	Ci *string `cbor:"ci"`
}

type wireRecovery struct {
	Tg *string `cbor:"tg"`
	Fr *string `cbor:"fr"`
	Co *string `cbor:"co"`
	Is *string `cbor:"is"`
	Df *string `cbor:"df"`
	Du *string `cbor:"du"`
	Ci *string `cbor:"ci"`
}

// keys records which keys a decoded payload lacks.
type keys map[string]bool

// str returns *p, noting path as missing when p is nil.
func (k keys) str(p *string, path string) string {
	if p == nil {
		k[path] = true
		return ""
	}
	return *p
}

func (k keys) count(p *Count, path string) Count {
	if p == nil {
		k[path] = true
		return 0
	}
	return *p
}

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
	var w wirePayload
	if err := decodeInto(raw, &w, "DCC payload"); err != nil {
		return nil, err
	}
	k := keys{}
	c := &Certificate{raw: raw, missing: k}
	c.Version = k.str(w.Ver, "ver")
	c.DateOfBirth = k.str(w.Dob, "dob")
	if w.Nam == nil {
		k["nam"] = true
		w.Nam = &wireName{}
	}
	c.Name = Name{
		Family:         k.str(w.Nam.Fn, "nam.fn"),
		FamilyStandard: k.str(w.Nam.Fnt, "nam.fnt"),
		Given:          k.str(w.Nam.Gn, "nam.gn"),
		GivenStandard:  k.str(w.Nam.Gnt, "nam.gnt"),
	}
	for i, e := range w.V {
		p := entryPath("v", i)
		c.Vaccinations = append(c.Vaccinations, Vaccination{
			Target: k.str(e.Tg, p+"tg"), Vaccine: k.str(e.Vp, p+"vp"), Product: k.str(e.Mp, p+"mp"),
			Manufacturer: k.str(e.Ma, p+"ma"), DoseNumber: k.count(e.Dn, p+"dn"), TotalDoses: k.count(e.Sd, p+"sd"),
			Date: k.str(e.Dt, p+"dt"), Country: k.str(e.Co, p+"co"), Issuer: k.str(e.Is, p+"is"), ID: k.str(e.Ci, p+"ci"),
		})
	}
	for i, e := range w.T {
		p := entryPath("t", i)
		c.Tests = append(c.Tests, Test{
			Target: k.str(e.Tg, p+"tg"), TestType: k.str(e.Tt, p+"tt"), TestName: k.str(e.Nm, p+"nm"),
			Device: k.str(e.Ma, p+"ma"), SampledAt: k.str(e.Sc, p+"sc"), ResultAt: k.str(e.Dr, p+"dr"),
			Result: k.str(e.Tr, p+"tr"), Centre: k.str(e.Tc, p+"tc"), Country: k.str(e.Co, p+"co"),
			Issuer: k.str(e.Is, p+"is"), ID: k.str(e.Ci, p+"ci"),
		})
	}
	for i, e := range w.R {
		p := entryPath("r", i)
		c.Recoveries = append(c.Recoveries, Recovery{
			Target: k.str(e.Tg, p+"tg"), FirstPositive: k.str(e.Fr, p+"fr"), Country: k.str(e.Co, p+"co"),
			Issuer: k.str(e.Is, p+"is"), ValidFrom: k.str(e.Df, p+"df"), ValidUntil: k.str(e.Du, p+"du"), ID: k.str(e.Ci, p+"ci"),
		})
	}
	return c, nil
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
