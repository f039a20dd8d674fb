package issuer

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/greenpass-dcc/greenpass/hcert"
	"github.com/greenpass-dcc/greenpass/internal/lazyre"
	"github.com/greenpass-dcc/greenpass/valueset"
)

// MaxRequestSize is the largest issuance request body accepted.
const MaxRequestSize = 16 << 10

// Request is an issuance request: the person and exactly one vaccination,
// test or recovery entry in DCC schema 1.3 fields. The fields the issuer's
// profile and the server determine (ver, is, ci) are not part of it; co, the
// country of vaccination or test, defaults to the issuer's country.
type Request struct {
	Name         NameInput          `json:"nam"`
	DateOfBirth  string             `json:"dob"`
	Vaccinations []VaccinationInput `json:"v,omitempty"`
	Tests        []TestInput        `json:"t,omitempty"`
	Recoveries   []RecoveryInput    `json:"r,omitempty"`
	// Transfer, when set, also delivers the certificate to the wallet app
	// that registered a key for the test, encrypted to that key.
	Transfer *TransferInput `json:"transfer,omitempty"`
}

// TransferInput names the test whose app receives the certificate.
type TransferInput struct {
	// TestID is the SHA-256 hex of the GUID on the test receipt (the app's
	// registration key): 64 hexadecimal characters.
	TestID string `json:"testId"`
}

// NameInput is the person's name; the standardised (ICAO 9303) forms are
// computed from the written ones when absent.
type NameInput struct {
	Family         string `json:"fn,omitempty"`
	FamilyStandard string `json:"fnt,omitempty"`
	Given          string `json:"gn,omitempty"`
	GivenStandard  string `json:"gnt,omitempty"`
}

// VaccinationInput is the v entry without the server's fields.
type VaccinationInput struct {
	Target       string `json:"tg"`
	Vaccine      string `json:"vp"`
	Product      string `json:"mp"`
	Manufacturer string `json:"ma"`
	DoseNumber   int    `json:"dn"`
	TotalDoses   int    `json:"sd"`
	Date         string `json:"dt"`
	Country      string `json:"co,omitempty"` // where the dose was given; default: the issuer's country
}

// TestInput is the t entry without the server's fields.
type TestInput struct {
	Target    string `json:"tg"`
	TestType  string `json:"tt"`
	TestName  string `json:"nm,omitempty"`
	Device    string `json:"ma,omitempty"`
	SampledAt string `json:"sc"`
	Result    string `json:"tr"`
	Centre    string `json:"tc,omitempty"`
	Country   string `json:"co,omitempty"` // where the test was taken; default: the issuer's country
}

// RecoveryInput is the r entry without the server's fields.
type RecoveryInput struct {
	Target        string `json:"tg"`
	FirstPositive string `json:"fr"`
	ValidFrom     string `json:"df"`
	ValidUntil    string `json:"du"`
	Country       string `json:"co,omitempty"` // where the positive test was taken; default: the issuer's country
}

// ErrMalformed is a request that is not a well-formed issuance request
// (bad JSON, unknown fields, wrong types, trailing data): HTTP 400.
var ErrMalformed = errors.New("malformed request")

// serverFields are schema fields the server sets; a request carrying them
// gets a message saying so rather than "unknown field".
var serverFields = map[string]bool{"ver": true, "is": true, "ci": true}

// ParseRequest decodes an issuance request strictly: one JSON object,
// no unknown fields, nothing after it. Errors wrap ErrMalformed and never
// quote the body.
func ParseRequest(body []byte) (*Request, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	var r Request
	if err := dec.Decode(&r); err != nil {
		return nil, fmt.Errorf("%w: %s", ErrMalformed, describeJSONError(err))
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%w: data after the JSON object", ErrMalformed)
	}
	return &r, nil
}

// describeJSONError says what is wrong without echoing values.
func describeJSONError(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.Is(err, io.EOF):
		return "empty body; a JSON object is expected"
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "the JSON ends too early"
	case errors.As(err, &syn):
		return fmt.Sprintf("invalid JSON at byte %d", syn.Offset)
	case errors.As(err, &typ):
		if typ.Field == "" {
			return fmt.Sprintf("a JSON object is expected, got %s", typ.Value)
		}
		return fmt.Sprintf("field %s: expected %s, got %s", typ.Field, typ.Type, typ.Value)
	}
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		name = strings.Trim(name, `"`)
		if serverFields[name] {
			return fmt.Sprintf("field %q is filled by the server; leave it out", name)
		}
		return fmt.Sprintf("unknown field %q", name)
	}
	return "invalid JSON"
}

// Type returns the certificate type the request asks for, or TypeUnknown
// when it does not hold exactly one group.
func (r *Request) Type() hcert.Type {
	n, t := 0, hcert.TypeUnknown
	if len(r.Vaccinations) > 0 {
		n, t = n+1, hcert.TypeVaccination
	}
	if len(r.Tests) > 0 {
		n, t = n+1, hcert.TypeTest
	}
	if len(r.Recoveries) > 0 {
		n, t = n+1, hcert.TypeRecovery
	}
	if n != 1 {
		return hcert.TypeUnknown
	}
	return t
}

// Limits of plausible dates.
var (
	earliestBirth       = time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC)
	earliestVaccination = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	earliestTest        = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
)

// Tolerances for dates "in the future": a calendar date may be a day
// ahead of UTC (time zones), a sample time five minutes (clock skew).
const (
	dateSlack     = 24 * time.Hour
	dateTimeSlack = 5 * time.Minute
	// maxRecovery is the longest validity of a recovery certificate after
	// the first positive test (Regulation (EU) 2021/953 Annex, 180 days).
	maxRecovery = 180 * 24 * time.Hour
)

// Validate checks the request against the schema's rules and the value
// sets at the clock now. The result is an hcert.SchemaError listing every
// problem by field; problems never quote names or the birth date.
func (r *Request) Validate(vs valueset.Sets, now time.Time) error {
	var v fieldErrors
	v.name(r.Name)
	v.birthDate(r.DateOfBirth, now)
	switch r.Type() {
	case hcert.TypeUnknown:
		v.add("v|t|r", "exactly one of v, t and r is required")
	case hcert.TypeVaccination:
		v.one("v", len(r.Vaccinations))
		v.vaccination(r.Vaccinations[0], vs, now)
		v.country("v[0].co", r.Vaccinations[0].Country, vs)
	case hcert.TypeTest:
		v.one("t", len(r.Tests))
		v.test(r.Tests[0], vs, now)
		v.country("t[0].co", r.Tests[0].Country, vs)
	case hcert.TypeRecovery:
		v.one("r", len(r.Recoveries))
		v.recovery(r.Recoveries[0], vs, now)
		v.country("r[0].co", r.Recoveries[0].Country, vs)
	}
	if r.Transfer != nil && !testIDPattern().MatchString(r.Transfer.TestID) {
		v.add("transfer.testId", "must be 64 hexadecimal characters (the SHA-256 of the test's GUID)")
	}
	if len(v) > 0 {
		return hcert.SchemaError(v)
	}
	return nil
}

var testIDPattern = lazyre.New(`^[XxA-Fa-f0-9][A-Fa-f0-9]{63}$`)

type fieldErrors []hcert.FieldError

func (v *fieldErrors) add(field, problem string) {
	*v = append(*v, hcert.FieldError{Field: field, Problem: problem})
}

func (v *fieldErrors) one(group string, n int) {
	if n != 1 {
		v.add(group, fmt.Sprintf("exactly one entry is required, got %d", n))
	}
}

// text checks a free-text field: at most 80 characters, no control
// characters, nothing that hides or reorders what a checkpoint shows.
// required makes an empty value an error.
func (v *fieldErrors) text(field, s string, required bool) {
	switch {
	case s == "" && required:
		v.add(field, "required")
	case !utf8.ValidString(s) || strings.ContainsRune(s, utf8.RuneError):
		// encoding/json turns invalid UTF-8 into U+FFFD: a name with it
		// was not what the client meant to sign.
		v.add(field, "not valid UTF-8")
	case utf8.RuneCountInString(s) > 80:
		v.add(field, "longer than 80 characters")
	case strings.IndexFunc(s, unicode.IsControl) >= 0:
		v.add(field, "contains control characters")
	default:
		if problem := invisible(s); problem != "" {
			v.add(field, problem)
		}
	}
}

// invisible names the first character of s that a reader of the name
// would not see as it is: bidi overrides, embeddings and isolates (U+202A–
// U+202E, U+2066–U+2069, marks such as U+200F), zero-width and other
// format characters (U+200B, U+2060, U+FEFF, U+00AD), private-use
// characters. A zero-width (non-)joiner between two letters is kept: it is
// part of the spelling in Persian and Indic names.
func invisible(s string) string {
	runes := []rune(s)
	for i, r := range runes {
		switch {
		case r == 0x200C || r == 0x200D:
			if i > 0 && i < len(runes)-1 && unicode.IsLetter(runes[i-1]) && unicode.IsLetter(runes[i+1]) {
				continue
			}
			return fmt.Sprintf("contains a zero-width joiner (U+%04X) outside a word", r)
		case r >= 0x202A && r <= 0x202E, r >= 0x2066 && r <= 0x2069, r == 0x200E, r == 0x200F, r == 0x061C:
			return fmt.Sprintf("contains a bidi control character (U+%04X) that reorders what is shown", r)
		case unicode.Is(unicode.Cf, r):
			return fmt.Sprintf("contains an invisible format character (U+%04X)", r)
		case unicode.Is(unicode.Co, r):
			return fmt.Sprintf("contains a private-use character (U+%04X)", r)
		}
	}
	return ""
}

func (v *fieldErrors) standardName(field, s string) {
	if len(s) > 80 {
		v.add(field, "longer than 80 characters")
	} else if strings.Trim(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZ<") != "" {
		v.add(field, "only A-Z and < are allowed (ICAO 9303)")
	}
}

func (v *fieldErrors) name(n NameInput) {
	v.text("nam.fn", n.Family, false)
	v.text("nam.gn", n.Given, false)
	v.standardName("nam.fnt", n.FamilyStandard)
	v.standardName("nam.gnt", n.GivenStandard)
	if n.Family == "" && n.FamilyStandard == "" {
		v.add("nam.fn", "required (or fnt)")
	} else if n.FamilyStandard == "" && Transliterate(n.Family) == "" {
		v.add("nam.fnt", "required: fn has no letters that ICAO 9303 transliteration covers")
	}
	if n.Given != "" && n.GivenStandard == "" && Transliterate(n.Given) == "" {
		v.add("nam.gnt", "required: gn has no letters that ICAO 9303 transliteration covers")
	}
}

func (v *fieldErrors) birthDate(s string, now time.Time) {
	if len(s) != 4 && len(s) != 7 && len(s) != 10 {
		v.add("dob", "must be YYYY, YYYY-MM or YYYY-MM-DD")
		return
	}
	padded := s + "-01-01"[len(s)-4:]
	d, err := time.Parse(time.DateOnly, padded)
	if err != nil || d.Format(time.DateOnly) != padded {
		v.add("dob", "must be YYYY, YYYY-MM or YYYY-MM-DD with a valid date")
		return
	}
	if d.Before(earliestBirth) || d.After(now.Add(dateSlack)) {
		v.add("dob", "outside the plausible range (1900 to today)")
	}
}

// date checks a YYYY-MM-DD field and returns its value.
func (v *fieldErrors) date(field, s string, earliest, latest time.Time) time.Time {
	d, err := time.Parse(time.DateOnly, s)
	if err != nil {
		if s == "" {
			v.add(field, "required")
		} else {
			v.add(field, "must be a valid YYYY-MM-DD date")
		}
		return time.Time{}
	}
	if !earliest.IsZero() && d.Before(earliest) {
		v.add(field, "before "+earliest.Format(time.DateOnly))
	}
	if !latest.IsZero() && d.After(latest) {
		v.add(field, "in the future")
	}
	return d
}

// country checks an optional co: a code of the country value set (absent:
// the issuer's country is used).
func (v *fieldErrors) country(field, code string, vs valueset.Sets) {
	if code != "" {
		v.coded(field, code, vs.Get(valueset.Country))
	}
}

func (v *fieldErrors) coded(field, code string, set *valueset.Set) {
	switch {
	case code == "":
		v.add(field, "required")
	case !set.Has(code):
		v.add(field, fmt.Sprintf("%q is not in value set %s", code, set.ID))
	case !set.Active(code):
		v.add(field, fmt.Sprintf("%q is deprecated in value set %s", code, set.ID))
	}
}

func (v *fieldErrors) vaccination(e VaccinationInput, vs valueset.Sets, now time.Time) {
	v.coded("v[0].tg", e.Target, vs.Get(valueset.Disease))
	v.coded("v[0].vp", e.Vaccine, vs.Get(valueset.Vaccine))
	v.coded("v[0].mp", e.Product, vs.Get(valueset.Product))
	v.coded("v[0].ma", e.Manufacturer, vs.Get(valueset.Manufacturer))
	if e.DoseNumber < 1 || e.DoseNumber > 9 {
		v.add("v[0].dn", "must be 1 to 9")
	}
	if e.TotalDoses < 1 || e.TotalDoses > 9 {
		v.add("v[0].sd", "must be 1 to 9")
	}
	v.date("v[0].dt", e.Date, earliestVaccination, now.Add(dateSlack))
}

// Test types with their own rules.
const (
	testNAAT = "LP6464-4"
	testRAT  = "LP217198-3"
)

func (v *fieldErrors) test(e TestInput, vs valueset.Sets, now time.Time) {
	v.coded("t[0].tg", e.Target, vs.Get(valueset.Disease))
	v.coded("t[0].tt", e.TestType, vs.Get(valueset.TestType))
	v.coded("t[0].tr", e.Result, vs.Get(valueset.TestResult))
	v.text("t[0].nm", e.TestName, false)
	v.text("t[0].tc", e.Centre, false)
	switch e.TestType {
	case testRAT:
		v.text("t[0].ma", e.Device, true)
	case testNAAT:
		if e.Device != "" {
			v.add("t[0].ma", "only for rapid antigen tests")
		}
	}
	switch sc, err := hcert.ParseZonedDateTime(e.SampledAt); {
	case e.SampledAt == "":
		v.add("t[0].sc", "required")
	case err != nil:
		v.add("t[0].sc", "must be an RFC 3339 date-time with time zone")
	case sc.After(now.Add(dateTimeSlack)):
		v.add("t[0].sc", "in the future")
	case sc.Before(earliestTest):
		v.add("t[0].sc", "before "+earliestTest.Format(time.DateOnly))
	}
}

func (v *fieldErrors) recovery(e RecoveryInput, vs valueset.Sets, now time.Time) {
	v.coded("r[0].tg", e.Target, vs.Get(valueset.Disease))
	fr := v.date("r[0].fr", e.FirstPositive, earliestTest, now.Add(dateSlack))
	df := v.date("r[0].df", e.ValidFrom, time.Time{}, time.Time{})
	du := v.date("r[0].du", e.ValidUntil, time.Time{}, time.Time{})
	if fr.IsZero() || df.IsZero() || du.IsZero() {
		return
	}
	if df.Before(fr) {
		v.add("r[0].df", "before the first positive test (fr)")
	}
	if du.Before(df) {
		v.add("r[0].du", "before df")
	}
	if du.Sub(fr) > maxRecovery {
		v.add("r[0].du", "more than 180 days after fr")
	}
}

// certificate builds the DCC payload for a validated request.
func (r *Request) certificate(country, issuerName, uvci string) *hcert.Certificate {
	n := r.Name
	if n.FamilyStandard == "" {
		n.FamilyStandard = StandardName(n.Family)
	}
	if n.GivenStandard == "" {
		n.GivenStandard = StandardName(n.Given)
	}
	c := &hcert.Certificate{
		Version:     SchemaVersion,
		Name:        hcert.Name{Family: n.Family, FamilyStandard: n.FamilyStandard, Given: n.Given, GivenStandard: n.GivenStandard},
		DateOfBirth: r.DateOfBirth,
	}
	switch r.Type() {
	case hcert.TypeVaccination:
		e := r.Vaccinations[0]
		c.Vaccinations = []hcert.Vaccination{{
			Target: e.Target, Vaccine: e.Vaccine, Product: e.Product, Manufacturer: e.Manufacturer,
			DoseNumber: hcert.Count(e.DoseNumber), TotalDoses: hcert.Count(e.TotalDoses), Date: e.Date,
			Country: cmp.Or(e.Country, country), Issuer: issuerName, ID: uvci,
		}}
	case hcert.TypeTest:
		e := r.Tests[0]
		c.Tests = []hcert.Test{{
			Target: e.Target, TestType: e.TestType, TestName: e.TestName, Device: e.Device,
			SampledAt: e.SampledAt, Result: e.Result, Centre: e.Centre,
			Country: cmp.Or(e.Country, country), Issuer: issuerName, ID: uvci,
		}}
	case hcert.TypeRecovery:
		e := r.Recoveries[0]
		c.Recoveries = []hcert.Recovery{{
			Target: e.Target, FirstPositive: e.FirstPositive, ValidFrom: e.ValidFrom, ValidUntil: e.ValidUntil,
			Country: cmp.Or(e.Country, country), Issuer: issuerName, ID: uvci,
		}}
	}
	return c
}

// SchemaVersion is the DCC schema version of issued certificates.
const SchemaVersion = "1.3.0"

// StandardName is the ICAO 9303 form a certificate carries for a written
// name (fnt, gnt) when the request gives none.
func StandardName(name string) string { return truncate(Transliterate(name)) }

// truncate keeps a standardised name within the schema's 80 characters
// (ICAO 9303 truncates long names too).
func truncate(s string) string {
	if len(s) > 80 {
		s = strings.TrimRight(s[:80], "<")
	}
	return s
}
