package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"

	"github.com/greenpass-dcc/greenpass/certlogic"
	"github.com/greenpass-dcc/greenpass/valueset"
)

// ruleBundle is the business rules and value sets the rules stage uses
// (verifier.RuleSource).
type ruleBundle struct {
	rules     []*certlogic.Rule
	valueSets map[string][]string
}

func (b *ruleBundle) Rules() []*certlogic.Rule       { return b.rules }
func (b *ruleBundle) ValueSets() map[string][]string { return b.valueSets }

// builtinValueSets are the embedded value sets as the rules see them.
func builtinValueSets() map[string][]string {
	out := map[string][]string{}
	for id, set := range valueset.Builtin() {
		for code := range set.Values {
			out[id] = append(out[id], code)
		}
	}
	return out
}

// readRules reads a file holding one rule or a JSON array of rules.
func readRules(path string) ([]*certlogic.Rule, error) {
	data, err := readLimited(path, 64<<20)
	if err != nil {
		return nil, err
	}
	docs := []json.RawMessage{data}
	if t := bytes.TrimSpace(data); len(t) > 0 && t[0] == '[' {
		if err := json.Unmarshal(t, &docs); err != nil {
			return nil, fmt.Errorf("--rules %s: %w", path, err)
		}
	}
	var out []*certlogic.Rule
	for _, d := range docs {
		r, err := certlogic.ParseRule(d)
		if err != nil {
			return nil, fmt.Errorf("--rules %s: %w", path, err)
		}
		out = append(out, r)
	}
	return out, nil
}

// serverBase is the base URL of a greenpass server given by its base URL
// or the URL of its DSC list.
func serverBase(location string) string {
	u, err := url.Parse(location)
	if err != nil {
		return location
	}
	u.Path = strings.TrimSuffix(strings.TrimSuffix(u.Path, "/"), "/trustList/DSC")
	u.RawQuery = ""
	return strings.TrimSuffix(u.String(), "/")
}
