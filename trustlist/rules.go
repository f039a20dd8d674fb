package trustlist

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/greenpass-dcc/greenpass/certlogic"
)

// RuleEntry is a business rule as distributed: its identity and the exact
// JSON text, addressed by the SHA-256 (hex) of that text.
type RuleEntry struct {
	Identifier string `json:"identifier"`
	Version    string `json:"version"`
	Country    string `json:"country"`
	Hash       string `json:"hash"`
	// Body is the rule's JSON exactly as received (a string, so that the
	// bytes, and with them the hash, survive re-encoding).
	Body string `json:"body"`
}

// NewRuleEntry describes a rule document; the rule is parsed and checked.
func NewRuleEntry(body []byte) (RuleEntry, *certlogic.Rule, error) {
	r, err := certlogic.ParseRule(body)
	if err != nil {
		return RuleEntry{}, nil, err
	}
	return RuleEntry{Identifier: r.Identifier, Version: r.Version, Country: r.Country, Hash: sha256Hex(body), Body: string(body)}, r, nil
}

// ValueSetEntry is a value set as distributed, addressed by its hash.
type ValueSetEntry struct {
	ID   string `json:"id"`
	Hash string `json:"hash"`
	Body string `json:"body"`
}

// NewValueSetEntry describes a value-set document: JSON with a valueSetId
// and valueSetValues.
func NewValueSetEntry(body []byte) (ValueSetEntry, error) {
	var vs struct {
		ID     string                     `json:"valueSetId"`
		Values map[string]json.RawMessage `json:"valueSetValues"`
	}
	if err := json.Unmarshal(body, &vs); err != nil || vs.ID == "" {
		return ValueSetEntry{}, fmt.Errorf("value set: not a value-set document (valueSetId, valueSetValues)")
	}
	return ValueSetEntry{ID: vs.ID, Hash: sha256Hex(body), Body: string(body)}, nil
}

// Codes lists a value set's codes, sorted.
func (e ValueSetEntry) Codes() []string {
	var vs struct {
		Values map[string]json.RawMessage `json:"valueSetValues"`
	}
	json.Unmarshal([]byte(e.Body), &vs)
	out := make([]string, 0, len(vs.Values))
	for c := range vs.Values {
		out = append(out, c)
	}
	slices.Sort(out)
	return out
}

// renderRules renders the business-rule service's documents into v.
func (v *View) renderRules(snap *Snapshot, mk func(contentType string, content, body []byte, signHeader bool) *Response) []error {
	var errs []error
	type item struct {
		Identifier string `json:"identifier"`
		Version    string `json:"version"`
		Country    string `json:"country"`
		Hash       string `json:"hash"`
	}
	rules := slices.Clone(snap.Rules)
	slices.SortFunc(rules, func(a, b RuleEntry) int {
		return cmp.Or(cmp.Compare(a.Identifier, b.Identifier), certlogic.CompareVersions(a.Version, b.Version))
	})
	all := []item{}
	byCountry := map[string][]item{}
	for _, e := range rules {
		r, err := certlogic.ParseRule([]byte(e.Body))
		if err != nil || sha256Hex([]byte(e.Body)) != e.Hash {
			errs = append(errs, fmt.Errorf("snapshot rule %s %s left out: %v", e.Identifier, e.Version, err))
			continue
		}
		v.rules = append(v.rules, r)
		it := item{e.Identifier, e.Version, e.Country, e.Hash}
		all = append(all, it)
		byCountry[e.Country] = append(byCountry[e.Country], it)
		body := []byte(e.Body)
		v.ruleDocs[e.Country+"/"+e.Hash] = mk("application/json", body, body, true)
	}
	body, _ := json.Marshal(all)
	v.ruleList = mk("application/json", body, body, true)
	for c, items := range byCountry {
		body, _ := json.Marshal(items)
		v.ruleLists[c] = mk("application/json", body, body, true)
	}

	type vsItem struct {
		ID   string `json:"id"`
		Hash string `json:"hash"`
	}
	sets := slices.Clone(snap.ValueSets)
	slices.SortFunc(sets, func(a, b ValueSetEntry) int { return cmp.Compare(a.ID, b.ID) })
	vsAll := []vsItem{}
	v.valueSetCodes = map[string][]string{}
	for _, e := range sets {
		if sha256Hex([]byte(e.Body)) != e.Hash {
			errs = append(errs, fmt.Errorf("snapshot value set %s left out: content does not match its hash", e.ID))
			continue
		}
		vsAll = append(vsAll, vsItem{e.ID, e.Hash})
		body := []byte(e.Body)
		v.valueSetDocs[e.Hash] = mk("application/json", body, body, true)
		v.valueSetCodes[e.ID] = e.Codes()
	}
	body, _ = json.Marshal(vsAll)
	v.valueSetList = mk("application/json", body, body, true)
	countries := snap.Countries
	if countries == nil {
		countries = []string{}
	}
	body, _ = json.Marshal(countries)
	v.countryList = mk("application/json", body, body, true)
	return errs
}

// Rules are the snapshot's business rules (for the verifier's rules stage).
func (v *View) Rules() []*certlogic.Rule { return v.rules }

// ValueSets are the snapshot's value sets as the rules see them: id →
// codes.
func (v *View) ValueSets() map[string][]string { return v.valueSetCodes }

// RuleList is GET /rules, or GET /rules/{country} for a country ("" for
// all); a country without rules gives an empty list.
func (v *View) RuleList(country string) *Response {
	if country == "" {
		return v.ruleList
	}
	if r, ok := v.ruleLists[country]; ok {
		return r
	}
	return v.emptyList
}

// Rule is GET /rules/{country}/{hash}.
func (v *View) Rule(country, hash string) (*Response, bool) {
	r, ok := v.ruleDocs[country+"/"+hash]
	return r, ok
}

// ValueSetList is GET /valuesets.
func (v *View) ValueSetList() *Response { return v.valueSetList }

// ValueSet is GET /valuesets/{hash}.
func (v *View) ValueSet(hash string) (*Response, bool) {
	r, ok := v.valueSetDocs[hash]
	return r, ok
}

// CountryList is GET /countrylist.
func (v *View) CountryList() *Response { return v.countryList }

// ValueSetEntries describes value-set documents (for the built-in ones
// when no upstream delivered any); documents that are not value sets are
// skipped.
func ValueSetEntries(docs [][]byte) []ValueSetEntry {
	var out []ValueSetEntry
	for _, d := range docs {
		if e, err := NewValueSetEntry(d); err == nil {
			out = append(out, e)
		}
	}
	return out
}

// KeepBusinessData gives snap the rules, value sets and countries of
// prev where snap has none: a publisher that did not fetch them keeps the
// last good ones. Value sets fall back to defaults.
func KeepBusinessData(snap, prev *Snapshot, defaults []ValueSetEntry) {
	if prev != nil {
		if snap.Rules == nil {
			snap.Rules = prev.Rules
		}
		if snap.ValueSets == nil {
			snap.ValueSets = prev.ValueSets
		}
		if snap.Countries == nil {
			snap.Countries = prev.Countries
		}
	}
	if len(snap.ValueSets) == 0 {
		snap.ValueSets = defaults
	}
}
