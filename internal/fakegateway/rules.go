package fakegateway

import (
	"crypto/ecdsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/smallstep/pkcs7"

	"github.com/greenpass-dcc/greenpass/trustlist"
)

// batch is a revocation batch the gateway lists.
type batch struct {
	id, country string
	date        time.Time
	cms         string
}

// AddRevocationBatch lists a revocation batch of a country for a kid:
// hashes of one type, the JSON signed (embedded CMS) by signer, by default
// the country's upload certificate. It returns the batch id.
func (g *Gateway) AddRevocationBatch(country, kid string, hashType trustlist.HashType, hashes []trustlist.RevocationHash, expires time.Time, signer *Party) (string, error) {
	if signer == nil {
		c, ok := g.Countries[country]
		if !ok {
			return "", fmt.Errorf("no country %s", country)
		}
		signer = &c.Upload
	}
	type entry struct {
		Hash string `json:"hash"`
	}
	doc := struct {
		Country  string    `json:"country"`
		Expires  time.Time `json:"expires"`
		KID      string    `json:"kid"`
		HashType string    `json:"hashType"`
		Entries  []entry   `json:"entries"`
	}{country, expires, kid, string(hashType), nil}
	for _, h := range hashes {
		doc.Entries = append(doc.Entries, entry{base64.StdEncoding.EncodeToString(h[:])})
	}
	body, _ := json.Marshal(doc)
	sd, err := pkcs7.NewSignedData(body)
	if err != nil {
		return "", err
	}
	sd.SetDigestAlgorithm(pkcs7.OIDDigestAlgorithmSHA256)
	if err := sd.AddSigner(signer.Cert, signer.Key, pkcs7.SignerInfoConfig{}); err != nil {
		return "", err
	}
	cms, err := sd.Finish()
	if err != nil {
		return "", err
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	id := fmt.Sprintf("batch-%d", len(g.batches)+1)
	g.batches = append(g.batches, batch{id: id, country: country, date: g.now.Add(time.Duration(len(g.batches)) * time.Second),
		cms: base64.StdEncoding.EncodeToString(cms)})
	return id, nil
}

// serveRevocations answers GET /revocation-list and /revocation-list/{id}.
func (g *Gateway) serveRevocations(w http.ResponseWriter, r *http.Request, parts []string) {
	g.mu.Lock()
	batches := append([]batch(nil), g.batches...)
	g.mu.Unlock()
	if len(parts) == 2 {
		for _, b := range batches {
			if b.id == parts[1] {
				w.Header().Set("Content-Type", "application/cms-text")
				w.Write([]byte(b.cms))
				return
			}
		}
		http.NotFound(w, r)
		return
	}
	if len(batches) == 0 {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	type item struct {
		BatchID string    `json:"batchId"`
		Country string    `json:"country"`
		Date    time.Time `json:"date"`
		Deleted bool      `json:"deleted"`
	}
	out := struct {
		More    bool   `json:"more"`
		Batches []item `json:"batches"`
	}{}
	for _, b := range batches {
		out.Batches = append(out.Batches, item{b.id, b.country, b.date, false})
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(out)
}

// RuleService is a fake DGCA business-rule service: hash-addressed rules,
// value sets and the country list, each signed with Key (X-SIGNATURE).
type RuleService struct {
	Key *ecdsa.PrivateKey

	mu        sync.Mutex
	rules     map[string][]byte // country/hash → body
	valueSets map[string][]byte // hash → body
	countries []string
	// Tamper, when set, serves this body for every rule instead of the
	// listed one (its hash then does not match).
	Tamper []byte
}

// NewRuleService makes an empty service signing with key.
func NewRuleService(key *ecdsa.PrivateKey) *RuleService {
	return &RuleService{Key: key, rules: map[string][]byte{}, valueSets: map[string][]byte{}, countries: []string{}}
}

func hexHash(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// AddRule lists a rule document of country.
func (s *RuleService) AddRule(country string, body []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rules[country+"/"+hexHash(body)] = body
}

// AddValueSet lists a value-set document.
func (s *RuleService) AddValueSet(body []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.valueSets[hexHash(body)] = body
}

// SetCountries sets the country list.
func (s *RuleService) SetCountries(cc ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.countries = cc
}

func (s *RuleService) write(w http.ResponseWriter, body []byte) {
	if sig, err := trustlist.SignHeader(s.Key, body); err == nil {
		w.Header().Set("X-SIGNATURE", sig)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(body)
}

// ServeHTTP answers /rules, /rules/{country}/{hash}, /valuesets,
// /valuesets/{hash} and /countrylist.
func (s *RuleService) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	switch {
	case len(parts) == 1 && parts[0] == "rules":
		type item struct {
			Identifier string `json:"identifier"`
			Version    string `json:"version"`
			Country    string `json:"country"`
			Hash       string `json:"hash"`
		}
		list := []item{}
		for key, body := range s.rules {
			var meta struct{ Identifier, Version string }
			json.Unmarshal(body, &meta)
			country, hash, _ := strings.Cut(key, "/")
			list = append(list, item{meta.Identifier, meta.Version, country, hash})
		}
		b, _ := json.Marshal(list)
		s.write(w, b)
	case len(parts) == 3 && parts[0] == "rules":
		body, ok := s.rules[parts[1]+"/"+parts[2]]
		if !ok {
			http.NotFound(w, r)
			return
		}
		if s.Tamper != nil {
			body = s.Tamper
		}
		s.write(w, body)
	case len(parts) == 1 && parts[0] == "valuesets":
		type item struct {
			ID   string `json:"id"`
			Hash string `json:"hash"`
		}
		list := []item{}
		for hash, body := range s.valueSets {
			var meta struct {
				ID string `json:"valueSetId"`
			}
			json.Unmarshal(body, &meta)
			list = append(list, item{meta.ID, hash})
		}
		b, _ := json.Marshal(list)
		s.write(w, b)
	case len(parts) == 2 && parts[0] == "valuesets":
		body, ok := s.valueSets[parts[1]]
		if !ok {
			http.NotFound(w, r)
			return
		}
		s.write(w, body)
	case len(parts) == 1 && parts[0] == "countrylist":
		b, _ := json.Marshal(s.countries)
		s.write(w, b)
	default:
		http.NotFound(w, r)
	}
}
