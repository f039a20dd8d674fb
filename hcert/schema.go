package hcert

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// FieldError is one schema violation. It names the field and the rule, never
// the value, so it can be logged without leaking personal data.
type FieldError struct {
	Field   string `json:"field"` // JSON path, e.g. "v[0].dn"
	Problem string `json:"problem"`
}

func (e FieldError) Error() string { return e.Field + ": " + e.Problem }

// SchemaError lists every schema violation of a payload.
type SchemaError []FieldError

func (e SchemaError) Error() string {
	parts := make([]string, len(e))
	for i, f := range e {
		parts[i] = f.Error()
	}
	return "DCC schema: " + strings.Join(parts, "; ")
}

// Validate checks the payload against the DCC schema 1.3.x as written:
// required keys must be present (an empty string is a present string: most
// fields have no minimum length), patterns, lengths and formats hold, and
// exactly one of v/t/r has exactly one entry. It follows the schema's own
// tolerance policy (Postel, SCHEMA FAQ) where real certificates differ from
// the letter: date fields may carry a time after the date, dob may be a
// date-time, test dates may use ±hh or ±hhmm offsets or none (UTC), and tc
// (required up to 1.2) is optional as in 1.3. Value-set membership is not a
// schema matter; business rules check it. Returns nil or a SchemaError.
//
// A certificate built in code is validated as it would be signed: encoded
// (empty optional fields left out) and decoded again.
func (c *Certificate) Validate() error {
	if c.raw == nil {
		enc, err := encMode.Marshal(c)
		if err != nil {
			return fmt.Errorf("DCC payload: %w", err)
		}
		decoded, err := DecodePayload(enc)
		if err != nil {
			return err
		}
		return decoded.Validate()
	}
	v := validator{c: c}
	if !c.has("ver") {
		v.add("ver", "required")
	} else if !matchVersion(c.Version) {
		v.add("ver", "must be a version like 1.3.0")
	}
	if !c.has("nam") {
		v.add("nam", "required")
	} else {
		v.name(c.Name)
	}
	switch {
	case !c.has("dob"):
		v.add("dob", "required")
	case !matchDOB(c.DateOfBirth):
		v.add("dob", "must be YYYY-MM-DD, YYYY-MM, YYYY or empty, with a year 1900–2099")
	}
	groups := 0
	for _, g := range []struct {
		name string
		n    int
	}{{"v", len(c.Vaccinations)}, {"t", len(c.Tests)}, {"r", len(c.Recoveries)}} {
		if g.n == 0 {
			continue
		}
		groups++
		if g.n != 1 {
			v.add(g.name, fmt.Sprintf("must hold exactly one entry, has %d", g.n))
		}
	}
	if groups != 1 {
		v.add("v|t|r", fmt.Sprintf("exactly one of v, t, r is required, found %d", groups))
	}
	for i, e := range c.Vaccinations {
		p := entryPath("v", i)
		v.required(p, required["v"]...)
		if v.present(p, "dn") && e.DoseNumber < 1 {
			v.add(p+"dn", "must be an integer ≥ 1")
		}
		if v.present(p, "sd") && e.TotalDoses < 1 {
			v.add(p+"sd", "must be an integer ≥ 1")
		}
		if v.present(p, "dt") {
			v.date(p, "dt", e.Date)
		}
		v.common(p, e.Country, e.Issuer, e.ID)
	}
	for i, e := range c.Tests {
		p := entryPath("t", i)
		v.required(p, required["t"]...)
		v.maxLen(p, "nm", e.TestName)
		v.maxLen(p, "tc", e.Centre)
		if v.present(p, "sc") {
			if _, err := ParseDateTime(e.SampledAt); err != nil {
				v.add(p+"sc", err.Error())
			}
		}
		if e.ResultAt != "" { // dr (up to schema 1.1), optional
			if _, err := ParseDateTime(e.ResultAt); err != nil {
				v.add(p+"dr", err.Error())
			}
		}
		v.common(p, e.Country, e.Issuer, e.ID)
	}
	for i, e := range c.Recoveries {
		p := entryPath("r", i)
		v.required(p, required["r"]...)
		for _, f := range []struct{ key, s string }{{"fr", e.FirstPositive}, {"df", e.ValidFrom}, {"du", e.ValidUntil}} {
			if v.present(p, f.key) {
				v.date(p, f.key, f.s)
			}
		}
		v.common(p, e.Country, e.Issuer, e.ID)
	}
	if len(v.errs) == 0 {
		return nil
	}
	return SchemaError(v.errs)
}

type validator struct {
	c    *Certificate
	errs []FieldError
}

func (v *validator) add(field, problem string) { v.errs = append(v.errs, FieldError{field, problem}) }

// required reports every key of the entry at prefix that is missing (the
// keys of the required table).
func (v *validator) required(prefix string, keys ...string) {
	for _, k := range keys {
		if !v.present(prefix, k) {
			v.add(prefix+k, "required")
		}
	}
}

// present reports whether the entry at prefix has the key; without
// missing keys (the common case) no path is built.
func (v *validator) present(prefix, key string) bool {
	return v.c.missing == nil || v.c.has(prefix+key)
}

// maxLen and date take the field's path in two parts, joined only to
// report a problem: a valid certificate is checked without building paths.
func (v *validator) maxLen(prefix, key, s string) {
	if utf8.RuneCountInString(s) > 80 {
		v.add(prefix+key, "longer than 80 characters")
	}
}

func (v *validator) date(prefix, key, s string) {
	if _, err := ParseDate(s); err != nil {
		v.add(prefix+key, err.Error())
	}
}

// common checks the values of the fields every entry has: co, is, ci
// (their presence is in the required table).
func (v *validator) common(prefix, country, issuer, id string) {
	if v.present(prefix, "co") && !matchCountry(country) {
		v.add(prefix+"co", "must contain an upper-case letter A–Z (schema pattern [A-Z]{1,10})")
	}
	v.maxLen(prefix, "is", issuer)
	v.maxLen(prefix, "ci", id)
}

func (v *validator) name(n Name) {
	v.maxLen("nam.", "fn", n.Family)
	v.maxLen("nam.", "gn", n.Given)
	for _, f := range []struct{ key, s string }{{"fnt", n.FamilyStandard}, {"gnt", n.GivenStandard}} {
		v.maxLen("nam.", f.key, f.s)
		if strings.Trim(f.s, "ABCDEFGHIJKLMNOPQRSTUVWXYZ<") != "" {
			v.add("nam."+f.key, "must contain only A–Z and <")
		}
	}
	// Schema 1.3.2: at least one transliterated name is present.
	if !v.present("nam.", "fnt") && !v.present("nam.", "gnt") {
		v.add("nam", "fnt or gnt is required")
	}
}

// matchVersion implements the schema's own pattern for ver, ^\d+.\d+.\d+$,
// with Go regexp semantics: the dots are unescaped, so any one character
// (rune) but a newline separates the numbers.
func matchVersion(s string) bool { return matchNumbers(s, 3) }

// matchNumbers matches n runs of digits separated by single non-newline runes.
func matchNumbers(s string, n int) bool {
	for i := 1; i <= len(s) && s[i-1] >= '0' && s[i-1] <= '9'; i++ {
		if i == len(s) {
			return n == 1
		}
		if n == 1 {
			continue
		}
		if r, size := utf8.DecodeRuneInString(s[i:]); r != '\n' && matchNumbers(s[i+size:], n-1) {
			return true
		}
	}
	return false
}

// matchDOB implements ^((19|20)\d\d(-\d\d){0,2}){0,1}$, tolerating a time
// after a full date (BG issued dob as a date-time).
func matchDOB(s string) bool {
	if len(s) > 10 {
		_, err := ParseDate(s)
		return err == nil && matchDOB(s[:10])
	}
	if s == "" {
		return true
	}
	if len(s) != 4 && len(s) != 7 && len(s) != 10 || !(strings.HasPrefix(s, "19") || strings.HasPrefix(s, "20")) {
		return false
	}
	for i := range len(s) {
		if i == 4 || i == 7 {
			if s[i] != '-' {
				return false
			}
		} else if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// matchCountry implements the schema's pattern [A-Z]{1,10} as JSON Schema
// applies it: unanchored, so the value must contain an upper-case letter.
func matchCountry(s string) bool { return strings.ContainsAny(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") }

// entryPath is the JSON path prefix of group entry i ("v[0].").
func entryPath(group string, i int) string {
	if i == 0 { // the only entry of a valid certificate: no allocation
		switch group {
		case "v":
			return "v[0]."
		case "t":
			return "t[0]."
		case "r":
			return "r[0]."
		}
	}
	return group + "[" + strconv.Itoa(i) + "]."
}
