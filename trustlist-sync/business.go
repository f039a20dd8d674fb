package trustlistsync

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/smallstep/pkcs7"

	"github.com/greenpass-dcc/greenpass/trustlist"
)

// Drop reasons of business rules, value sets and revocation batches.
const (
	CodeHash        Code = "HASH"          // the content does not hash to its address
	CodeSignedList  Code = "X_SIGNATURE"   // the X-SIGNATURE does not verify under the pinned key
	CodeRuleInvalid Code = "RULE_INVALID"  // not a valid rule, or its Logic not valid CertLogic
	CodeBatch       Code = "BATCH_INVALID" // a revocation batch that is malformed, expired or of a wrong signer
)

// Business is what a rules source delivered.
type Business struct {
	Rules     []trustlist.RuleEntry
	ValueSets []trustlist.ValueSetEntry
	Countries []string
	Dropped   []Drop
}

// RulesSource delivers business rules (and value sets, countries).
type RulesSource interface {
	FetchRules(ctx context.Context) (*Business, error)
	String() string
}

// RuleService is a DGCA business-rule service: GET /rules, /rules/{country}/{hash},
// /valuesets, /valuesets/{hash}, /countrylist — hash-addressed documents,
// each checked against its hash, and with Key their X-SIGNATURE.
type RuleService struct {
	Base   string
	Client *http.Client
	// Key, when set, is the service's pinned signing key.
	Key crypto.PublicKey
}

func (s *RuleService) String() string { return (&Gateway{Base: s.Base}).String() }

func (s *RuleService) get(ctx context.Context, path string) ([]byte, error) {
	body, header, err := (&Gateway{Base: s.Base, Client: s.Client}).client().Get(ctx, path, MaxListSize, nil)
	if err != nil {
		return nil, fmt.Errorf("rules %s: %w", s, err)
	}
	if s.Key != nil {
		if err := trustlist.VerifyHeader(s.Key, body, header.Get("X-SIGNATURE")); err != nil {
			return nil, &signatureError{path: path, err: err}
		}
	}
	return body, nil
}

type signatureError struct {
	path string
	err  error
}

func (e *signatureError) Error() string { return fmt.Sprintf("GET %s: X-SIGNATURE: %v", e.path, e.err) }

// FetchRules implements RulesSource. A list that does not verify is an
// error; a document that does not is dropped.
func (s *RuleService) FetchRules(ctx context.Context) (*Business, error) {
	out := &Business{Rules: []trustlist.RuleEntry{}, ValueSets: []trustlist.ValueSetEntry{}}
	var rules []struct{ Identifier, Version, Country, Hash string }
	body, err := s.get(ctx, "/rules")
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(body, &rules); err != nil {
		return nil, fmt.Errorf("rules %s: /rules is not a rule list: %w", s, err)
	}
	drop := func(kind, id, country string, code Code, format string, a ...any) {
		out.Dropped = append(out.Dropped, Drop{Type: kind, Country: country, KID: id, Code: code, Detail: fmt.Sprintf(format, a...)})
	}
	for _, r := range rules {
		doc, err := s.get(ctx, "/rules/"+r.Country+"/"+r.Hash)
		if err != nil {
			if _, ok := err.(*signatureError); ok {
				drop("RULE", r.Identifier, r.Country, CodeSignedList, "%v", err)
				continue
			}
			return nil, err
		}
		if hashHex(doc) != strings.ToLower(r.Hash) {
			drop("RULE", r.Identifier, r.Country, CodeHash, "content does not hash to %s", r.Hash)
			continue
		}
		e, _, err := trustlist.NewRuleEntry(doc)
		if err != nil {
			drop("RULE", r.Identifier, r.Country, CodeRuleInvalid, "%v", err)
			continue
		}
		if e.Identifier != r.Identifier || e.Country != r.Country {
			drop("RULE", r.Identifier, r.Country, CodeRuleInvalid, "listed as %s of %s, the document is %s of %s", r.Identifier, r.Country, e.Identifier, e.Country)
			continue
		}
		out.Rules = append(out.Rules, e)
	}
	if len(rules) > 0 && len(out.Rules) == 0 {
		// Every rule bad is a broken or hostile service, not a country
		// that dropped its rules: keep the last good ones.
		return nil, fmt.Errorf("rules %s: none of the %d listed rules checks out (%s)", s, len(rules), out.Dropped[0].Detail)
	}
	var sets []struct{ ID, Hash string }
	if body, err = s.get(ctx, "/valuesets"); err != nil {
		return nil, err
	}
	if err := json.Unmarshal(body, &sets); err != nil {
		return nil, fmt.Errorf("rules %s: /valuesets is not a value-set list: %w", s, err)
	}
	for _, vs := range sets {
		doc, err := s.get(ctx, "/valuesets/"+vs.Hash)
		if err != nil {
			if _, ok := err.(*signatureError); ok {
				drop("VALUESET", vs.ID, "", CodeSignedList, "%v", err)
				continue
			}
			return nil, err
		}
		if hashHex(doc) != strings.ToLower(vs.Hash) {
			drop("VALUESET", vs.ID, "", CodeHash, "content does not hash to %s", vs.Hash)
			continue
		}
		e, err := trustlist.NewValueSetEntry(doc)
		if err != nil {
			drop("VALUESET", vs.ID, "", CodeRuleInvalid, "%v", err)
			continue
		}
		out.ValueSets = append(out.ValueSets, e)
	}
	if body, err = s.get(ctx, "/countrylist"); err != nil {
		return nil, err
	}
	if err := json.Unmarshal(body, &out.Countries); err != nil {
		return nil, fmt.Errorf("rules %s: /countrylist is not a list of countries: %w", s, err)
	}
	return out, nil
}

func hashHex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// RuleFiles is a directory (or one file) of rule documents: each file a
// rule or a JSON array of rules. Rules an operator publishes without an
// upstream service.
type RuleFiles struct{ Path string }

func (f *RuleFiles) String() string { return f.Path }

// FetchRules implements RulesSource: every rule is checked; a bad one is
// an error, as it is the operator's own.
func (f *RuleFiles) FetchRules(ctx context.Context) (*Business, error) {
	files := []string{f.Path}
	if info, err := os.Stat(f.Path); err != nil {
		return nil, fmt.Errorf("rules: %w", err)
	} else if info.IsDir() {
		if files, err = filepath.Glob(filepath.Join(f.Path, "*.json")); err != nil {
			return nil, err
		}
	}
	out := &Business{Rules: []trustlist.RuleEntry{}}
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			return nil, fmt.Errorf("rules: %w", err)
		}
		docs := []json.RawMessage{data}
		if trimmed := bytes.TrimSpace(data); len(trimmed) > 0 && trimmed[0] == '[' {
			if err := json.Unmarshal(trimmed, &docs); err != nil {
				return nil, fmt.Errorf("rules %s: %w", name, err)
			}
		}
		for _, d := range docs {
			e, _, err := trustlist.NewRuleEntry(d)
			if err != nil {
				return nil, fmt.Errorf("rules %s: %w", name, err)
			}
			out.Rules = append(out.Rules, e)
		}
	}
	return out, nil
}

// RevocationBatch is a gateway revocation batch as its CMS carries it.
type RevocationBatch struct {
	Country  string    `json:"country"`
	Expires  time.Time `json:"expires"`
	KID      string    `json:"kid"`
	HashType string    `json:"hashType"`
	Entries  []struct {
		Hash string `json:"hash"`
	} `json:"entries"`
}

// revocationSource is a source that also has the gateway's revocation
// batches (GET /revocation-list, /revocation-list/{batchId}).
type revocationSource interface {
	FetchRevocations(ctx context.Context) ([]SignedBatch, error)
}

// SignedBatch is one batch as downloaded: its id and its CMS (Base64).
type SignedBatch struct {
	ID      string
	Country string
	CMS     string
}

// FetchRevocations reads every live batch of the gateway's revocation list.
func (g *Gateway) FetchRevocations(ctx context.Context) ([]SignedBatch, error) {
	var out []SignedBatch
	since := time.Unix(0, 0).UTC()
	for page := 0; page < 10_000; page++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(g.Base, "/")+"/revocation-list", nil)
		if err != nil {
			return nil, err
		}
		req.Header.Set("If-Modified-Since", since.Format(time.RFC3339))
		resp, body, err := g.do(req)
		if err != nil {
			return nil, err
		}
		if resp.StatusCode == http.StatusNoContent || resp.StatusCode == http.StatusNotFound {
			return out, nil // nothing (more), or a gateway without revocation
		}
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("upstream %s: GET /revocation-list: %s", g, resp.Status)
		}
		var list struct {
			More    bool `json:"more"`
			Batches []struct {
				BatchID string    `json:"batchId"`
				Country string    `json:"country"`
				Date    time.Time `json:"date"`
				Deleted bool      `json:"deleted"`
			} `json:"batches"`
		}
		if err := json.Unmarshal(body, &list); err != nil {
			return nil, fmt.Errorf("upstream %s: /revocation-list: %w", g, err)
		}
		for _, b := range list.Batches {
			since = b.Date
			if b.Deleted {
				continue
			}
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(g.Base, "/")+"/revocation-list/"+b.BatchID, nil)
			if err != nil {
				return nil, err
			}
			resp, body, err := g.do(req)
			if err != nil {
				return nil, err
			}
			if resp.StatusCode == http.StatusGone {
				continue
			}
			if resp.StatusCode != http.StatusOK {
				return nil, fmt.Errorf("upstream %s: GET /revocation-list/%s: %s", g, b.BatchID, resp.Status)
			}
			out = append(out, SignedBatch{ID: b.BatchID, Country: b.Country, CMS: strings.TrimSpace(string(body))})
		}
		if !list.More {
			return out, nil
		}
	}
	return out, nil
}

func (g *Gateway) do(req *http.Request) (*http.Response, []byte, error) {
	client := g.Client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, nil, fmt.Errorf("upstream %s: %w", g, err)
	}
	defer resp.Body.Close()
	body, err := trustlist.ReadCapped(resp.Body, MaxListSize, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("upstream %s: %w", g, err)
	}
	return resp, body, nil
}

// checkBatches verifies each batch's CMS — signed by an accepted upload
// certificate of the batch's country — and returns the live entries.
func checkBatches(batches []SignedBatch, uploads []trustlist.Entry, now time.Time) ([]trustlist.Revocation, []Drop) {
	byCountry := map[string][]*x509.Certificate{}
	for _, u := range uploads {
		der, _ := base64.StdEncoding.DecodeString(u.RawData)
		if c, err := x509.ParseCertificate(der); err == nil {
			byCountry[u.Country] = append(byCountry[u.Country], c)
		}
	}
	var out []trustlist.Revocation
	var drops []Drop
	for _, b := range batches {
		drop := func(format string, a ...any) {
			drops = append(drops, Drop{Type: "REVOCATION", Country: b.Country, KID: b.ID, Code: CodeBatch, Detail: fmt.Sprintf(format, a...)})
		}
		raw, err := base64.StdEncoding.DecodeString(b.CMS)
		if err != nil {
			drop("not Base64")
			continue
		}
		p7, err := pkcs7.Parse(raw)
		if err != nil || len(p7.Content) == 0 {
			drop("not a CMS SignedData with content")
			continue
		}
		signer := p7.GetOnlySigner()
		trusted := false
		for _, u := range byCountry[b.Country] {
			trusted = trusted || signer != nil && bytes.Equal(u.Raw, signer.Raw)
		}
		if !trusted {
			drop("not signed by an upload certificate of %s", b.Country)
			continue
		}
		if err := p7.Verify(); err != nil {
			drop("CMS signature does not verify: %v", err)
			continue
		}
		var batch RevocationBatch
		if err := json.Unmarshal(p7.Content, &batch); err != nil {
			drop("content is not a revocation batch: %v", err)
			continue
		}
		ht := trustlist.HashType(batch.HashType)
		switch {
		case batch.Country != b.Country:
			drop("batch of %s listed as %s", batch.Country, b.Country)
			continue
		case !batch.Expires.After(now):
			continue // expired: its certificates are too
		case ht != trustlist.HashSignature && ht != trustlist.HashUCI && ht != trustlist.HashCountryUCI:
			drop("unknown hash type %q", batch.HashType)
			continue
		}
		for _, e := range batch.Entries {
			h, err := base64.StdEncoding.DecodeString(e.Hash)
			if err != nil || len(h) != 16 {
				drop("an entry is not 16 bytes of Base64")
				continue
			}
			r := trustlist.Revocation{KID: batch.KID, Type: ht, Expires: batch.Expires}
			copy(r.Hash[:], h)
			out = append(out, r)
		}
	}
	return out, drops
}
