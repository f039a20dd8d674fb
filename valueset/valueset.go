// Package valueset holds the EU DCC value sets — the coded vocabularies
// of certificate fields (disease, vaccine, product, marketing
// authorisation holder, test type, test result, country) — in the format of the EU
// value-set repository and the DGCA business-rule service. A built-in copy
// is embedded; the trust-list sync replaces it with the gateway's.
package valueset

import (
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"sort"
)

// Value set identifiers (valueSetId) of the fields they code.
const (
	Disease      = "disease-agent-targeted"         // tg
	Vaccine      = "sct-vaccines-covid-19"          // v.vp
	Product      = "vaccines-covid-19-names"        // v.mp
	Manufacturer = "vaccines-covid-19-auth-holders" // v.ma
	TestType     = "covid-19-lab-test-type"         // t.tt
	TestResult   = "covid-19-lab-result"            // t.tr
	Country      = "country-2-codes"                // co
)

// Value is one code's entry.
type Value struct {
	Display string `json:"display"`
	Lang    string `json:"lang"`
	Active  bool   `json:"active"`
	System  string `json:"system"`
	Version string `json:"version"`
}

// Set is one value set.
type Set struct {
	ID     string           `json:"valueSetId"`
	Date   string           `json:"valueSetDate"`
	Values map[string]Value `json:"valueSetValues"`
}

// Has reports whether code is in the set (active or not: a deprecated
// code is still valid in certificates issued while it was active).
func (s *Set) Has(code string) bool {
	_, ok := s.Values[code]
	return ok
}

// Active reports whether code is in the set and may still be used for new
// certificates.
func (s *Set) Active(code string) bool {
	v, ok := s.Values[code]
	return ok && v.Active
}

// Sets is a collection of value sets by identifier.
type Sets map[string]*Set

// Get returns the set with the identifier, or an empty set.
func (ss Sets) Get(id string) *Set {
	if s := ss[id]; s != nil {
		return s
	}
	return &Set{ID: id}
}

// Display names a coded value of the set id for people, with the code:
// "Comirnaty (EU/1/20/1528)"; the code alone when the set does not know it.
func (ss Sets) Display(id, code string) string {
	if set := ss.Get(id); set != nil {
		if v, ok := set.Values[code]; ok && v.Display != "" && v.Display != code {
			return v.Display + " (" + code + ")"
		}
	}
	return code
}

// IDs returns the identifiers, sorted.
func (ss Sets) IDs() []string {
	ids := make([]string, 0, len(ss))
	for id := range ss {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

//go:generate go run gencountries.go

//go:embed data/*.json
var builtin embed.FS

// Builtin returns a fresh copy of the embedded value sets.
func Builtin() Sets {
	ss, err := Load(builtin, "data")
	if err != nil {
		panic(err) // the embedded files are checked by the tests
	}
	return ss
}

// Load reads every *.json value set in dir of fsys.
func Load(fsys fs.FS, dir string) (Sets, error) {
	names, err := fs.Glob(fsys, dir+"/*.json")
	if err != nil {
		return nil, err
	}
	ss := Sets{}
	for _, name := range names {
		data, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, err
		}
		s, err := Parse(data)
		if err != nil {
			return nil, fmt.Errorf("value set %s: %w", name, err)
		}
		ss[s.ID] = s
	}
	return ss, nil
}

// Parse reads one value set document.
func Parse(data []byte) (*Set, error) {
	var s Set
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("parse value set: %w", err)
	}
	if s.ID == "" {
		return nil, fmt.Errorf("parse value set: valueSetId is missing")
	}
	if len(s.Values) == 0 {
		return nil, fmt.Errorf("parse value set %s: no values", s.ID)
	}
	return &s, nil
}

// BuiltinDocuments returns the embedded value-set files as they are, for
// publication when no upstream has delivered value sets.
func BuiltinDocuments() [][]byte {
	names, _ := fs.Glob(builtin, "data/*.json")
	var out [][]byte
	for _, name := range names {
		data, err := fs.ReadFile(builtin, name)
		if err != nil {
			panic(err) // embedded: cannot fail
		}
		out = append(out, data)
	}
	return out
}

// ProductDefaults are what goes with a vaccine product on a certificate:
// its marketing authorisation holder (ma) and vaccine type (vp).
type ProductDefaults struct {
	Holder  string `json:"ma"`
	Vaccine string `json:"vp"`
}

// Products are the defaults of the vaccines given in the EU, by product
// code (mp), as the EU vaccine encoding instructions pair them; a form
// offers them after the product is picked.
var Products = map[string]ProductDefaults{
	"EU/1/20/1528": {Holder: "ORG-100030215", Vaccine: "1119349007"},     // Comirnaty, BioNTech, mRNA
	"EU/1/20/1507": {Holder: "ORG-100031184", Vaccine: "1119349007"},     // Spikevax, Moderna, mRNA
	"EU/1/21/1529": {Holder: "ORG-100001699", Vaccine: "29061000087103"}, // Vaxzevria, AstraZeneca, viral vector
	"EU/1/20/1525": {Holder: "ORG-100001417", Vaccine: "29061000087103"}, // Jcovden, Janssen, viral vector
	"EU/1/21/1618": {Holder: "ORG-100032020", Vaccine: "1162643001"},     // Nuvaxovid, Novavax, protein subunit
	"Vidprevtyn":   {Holder: "ORG-100000788", Vaccine: "1162643001"},     // Sanofi Pasteur, protein subunit
	"VLA2001":      {Holder: "ORG-100036422", Vaccine: "1157024006"},     // Valneva, inactivated
}
