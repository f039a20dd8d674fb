package main

import (
	"bytes"
	"context"
	"crypto"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/greenpass-dcc/greenpass/certlogic"
	"github.com/greenpass-dcc/greenpass/trustlist"
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

// signedGet downloads a document whose X-SIGNATURE must verify under the
// pinned key; errNotServed when the server has no such document.
func signedGet(ctx context.Context, location string, pinned crypto.PublicKey) ([]byte, error) {
	body, header, err := fetch(ctx, location, trustlist.MaxDocumentSize)
	if err != nil {
		return nil, err
	}
	if err := trustlist.VerifyHeader(pinned, body, header.Get("X-SIGNATURE")); err != nil {
		return nil, fmt.Errorf("GET %s: %w under the pinned key", location, err)
	}
	return body, nil
}

var errNotServed = errors.New("not served")

// fetchRules downloads the server's business rules and value sets, each
// checked against its hash and signature.
func fetchRules(ctx context.Context, base string, pinned crypto.PublicKey) (*ruleBundle, error) {
	b := &ruleBundle{valueSets: map[string][]string{}}
	body, err := signedGet(ctx, base+"/rules", pinned)
	if err != nil {
		return nil, err
	}
	var list []trustlist.RuleEntry
	if err := json.Unmarshal(body, &list); err != nil {
		return nil, fmt.Errorf("%s/rules: %w", base, err)
	}
	for _, e := range list {
		doc, err := signedGet(ctx, base+"/rules/"+url.PathEscape(e.Country)+"/"+url.PathEscape(e.Hash), pinned)
		if err != nil {
			return nil, err
		}
		entry, r, err := trustlist.NewRuleEntry(doc)
		if err != nil {
			return nil, fmt.Errorf("rule %s: %w", e.Identifier, err)
		}
		if entry.Hash != e.Hash {
			return nil, fmt.Errorf("rule %s does not hash to its address", e.Identifier)
		}
		b.rules = append(b.rules, r)
	}
	if body, err = signedGet(ctx, base+"/valuesets", pinned); err != nil {
		return nil, err
	}
	var sets []trustlist.ValueSetEntry
	if err := json.Unmarshal(body, &sets); err != nil {
		return nil, fmt.Errorf("%s/valuesets: %w", base, err)
	}
	for _, s := range sets {
		doc, err := signedGet(ctx, base+"/valuesets/"+url.PathEscape(s.Hash), pinned)
		if err != nil {
			return nil, err
		}
		set, err := valueset.Parse(doc)
		if err != nil {
			return nil, err
		}
		for code := range set.Values {
			b.valueSets[set.ID] = append(b.valueSets[set.ID], code)
		}
	}
	return b, nil
}

// fetchRevocations downloads the server's revocation lists.
func fetchRevocations(ctx context.Context, base string, pinned crypto.PublicKey) (*trustlist.RevocationList, error) {
	body, err := signedGet(ctx, base+"/revocation/lists", pinned)
	if err != nil {
		return nil, err
	}
	var idx trustlist.RevocationIndex
	if err := json.Unmarshal(body, &idx); err != nil {
		return nil, fmt.Errorf("%s/revocation/lists: %w", base, err)
	}
	var entries []trustlist.Revocation
	for _, l := range idx.Lists {
		kid, err := base64.StdEncoding.DecodeString(l.KID)
		if err != nil {
			return nil, fmt.Errorf("revocation index: kid %q is not Base64", l.KID)
		}
		doc, err := signedGet(ctx, base+"/revocation/lists/"+base64.RawURLEncoding.EncodeToString(kid), pinned)
		if err != nil {
			return nil, err
		}
		es, err := trustlist.ParseRevocationDoc(doc)
		if err != nil {
			return nil, err
		}
		entries = append(entries, es...)
	}
	return trustlist.NewRevocationList(entries...), nil
}
