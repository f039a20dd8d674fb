package trustlist

import (
	"bytes"
	"crypto"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"time"
)

// HashType is how a revoked certificate is identified (DCCG revocation
// hash types).
type HashType string

// Hash types. Each is the first 16 bytes of a SHA-256.
const (
	// HashSignature: of the COSE signature's r for ES256, of the whole
	// signature for PS256 (unaffected by ECDSA's s malleability).
	HashSignature HashType = "SIGNATURE"
	// HashUCI: of the certificate's ci exactly as written.
	HashUCI HashType = "UCI"
	// HashCountryUCI: of the CWT issuer country followed by ci.
	HashCountryUCI HashType = "COUNTRYCODEUCI"
)

// HashTypes lists them in a fixed order.
var HashTypes = []HashType{HashSignature, HashUCI, HashCountryUCI}

// RevocationHash is a truncated SHA-256.
type RevocationHash [16]byte

// RevocationHashes computes the three hashes of a certificate from its
// COSE signature (es256: whether it is an ES256 r‖s signature), its CWT
// issuer country and its ci.
func RevocationHashes(signature []byte, es256 bool, iss, uvci string) map[HashType]RevocationHash {
	sig := signature
	if es256 && len(sig) == 64 {
		sig = sig[:32]
	}
	trunc := func(b []byte) RevocationHash {
		sum := sha256.Sum256(b)
		var h RevocationHash
		copy(h[:], sum[:16])
		return h
	}
	return map[HashType]RevocationHash{
		HashSignature:  trunc(sig),
		HashUCI:        trunc([]byte(uvci)),
		HashCountryUCI: trunc([]byte(iss + uvci)),
	}
}

// Revocation is one revoked hash of a DSC's certificates.
type Revocation struct {
	KID  string         `json:"kid"` // Base64
	Type HashType       `json:"hashType"`
	Hash RevocationHash `json:"-"`
	// Expires is when the entry may be dropped (the certificate has
	// expired by then).
	Expires time.Time `json:"expires,omitzero"`
}

type revocationJSON struct {
	KID     string    `json:"kid"`
	Type    HashType  `json:"hashType"`
	Hash    string    `json:"hash"`
	Expires time.Time `json:"expires,omitzero"`
}

// MarshalJSON writes the hash in Base64.
func (r Revocation) MarshalJSON() ([]byte, error) {
	return json.Marshal(revocationJSON{r.KID, r.Type, base64.StdEncoding.EncodeToString(r.Hash[:]), r.Expires})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (r *Revocation) UnmarshalJSON(b []byte) error {
	var j revocationJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	h, err := base64.StdEncoding.DecodeString(j.Hash)
	if err != nil || len(h) != 16 {
		return fmt.Errorf("revocation hash is not 16 bytes of Base64")
	}
	*r = Revocation{KID: j.KID, Type: j.Type, Expires: j.Expires}
	copy(r.Hash[:], h)
	return nil
}

// RevocationList answers whether a certificate is revoked; safe for
// concurrent reads once built.
type RevocationList struct {
	byKID map[string]map[HashType]map[RevocationHash]bool
	n     int
}

// NewRevocationList indexes entries.
func NewRevocationList(entries ...Revocation) *RevocationList {
	l := &RevocationList{byKID: map[string]map[HashType]map[RevocationHash]bool{}}
	for _, e := range entries {
		l.add(e.KID, e.Type, e.Hash)
	}
	return l
}

func (l *RevocationList) add(kid string, t HashType, h RevocationHash) {
	types := l.byKID[kid]
	if types == nil {
		types = map[HashType]map[RevocationHash]bool{}
		l.byKID[kid] = types
	}
	if types[t] == nil {
		types[t] = map[RevocationHash]bool{}
	}
	if !types[t][h] {
		types[t][h] = true
		l.n++
	}
}

// Len is the number of revoked hashes.
func (l *RevocationList) Len() int { return l.n }

// Revoked reports whether any of the certificate's hashes is listed for
// its kid, and which.
func (l *RevocationList) Revoked(kid []byte, hashes map[HashType]RevocationHash) (HashType, bool) {
	types := l.byKID[base64.StdEncoding.EncodeToString(kid)]
	for _, t := range HashTypes {
		if h, ok := hashes[t]; ok && types[t][h] {
			return t, true
		}
	}
	return "", false
}

// RevocationDoc is the published revocation list of one kid:
// GET /revocation/lists/{kid}.
type RevocationDoc struct {
	KID      string                `json:"kid"`
	IssuedAt time.Time             `json:"issuedAt"`
	Hashes   map[HashType][]string `json:"hashes"` // Base64 of the 16-byte hashes, sorted
}

// RevocationIndex is GET /revocation/lists: the kids with revocations.
type RevocationIndex struct {
	IssuedAt time.Time            `json:"issuedAt"`
	Lists    []RevocationListInfo `json:"lists"`
}

// RevocationListInfo describes one kid's list in the index.
type RevocationListInfo struct {
	KID       string     `json:"kid"`
	HashTypes []HashType `json:"hashTypes"`
	Entries   int        `json:"entries"`
}

// RevocationView is the revocation data rendered for publication, signed
// like the trust lists (X-SIGNATURE).
type RevocationView struct {
	// Fingerprint identifies the set of entries, to skip re-rendering an
	// unchanged one.
	Fingerprint string
	Index       *Response
	byKID       map[string]*Response
	list        *RevocationList
}

// RevocationFingerprint is a hash over a set of entries, independent of
// their order.
func RevocationFingerprint(entries []Revocation) string {
	keys := make([]string, 0, len(entries))
	for _, e := range entries {
		keys = append(keys, e.KID+"/"+string(e.Type)+"/"+base64.StdEncoding.EncodeToString(e.Hash[:]))
	}
	slices.Sort(keys)
	var b bytes.Buffer
	for _, k := range keys {
		b.WriteString(k)
		b.WriteByte('\n')
	}
	return sha256Hex(b.Bytes())
}

// NewRevocationView renders entries issued at issuedAt.
func NewRevocationView(entries []Revocation, issuedAt time.Time, signer crypto.Signer) (*RevocationView, error) {
	list := NewRevocationList(entries...)
	v := &RevocationView{Fingerprint: RevocationFingerprint(entries), byKID: map[string]*Response{}, list: list}
	idx := RevocationIndex{IssuedAt: issuedAt.UTC()}
	kids := make([]string, 0, len(list.byKID))
	for kid := range list.byKID {
		kids = append(kids, kid)
	}
	slices.Sort(kids)
	for _, kid := range kids {
		doc := RevocationDoc{KID: kid, IssuedAt: issuedAt.UTC(), Hashes: map[HashType][]string{}}
		var types []HashType
		n := 0
		for _, t := range HashTypes {
			hs := list.byKID[kid][t]
			if len(hs) == 0 {
				continue
			}
			types = append(types, t)
			var enc []string
			for h := range hs {
				enc = append(enc, base64.StdEncoding.EncodeToString(h[:]))
			}
			slices.Sort(enc)
			doc.Hashes[t] = enc
			n += len(enc)
		}
		body, err := json.Marshal(doc)
		if err != nil {
			return nil, err
		}
		r, err := newResponse("application/json", body, body, issuedAt, signer, true)
		if err != nil {
			return nil, err
		}
		v.byKID[kid] = r
		idx.Lists = append(idx.Lists, RevocationListInfo{KID: kid, HashTypes: types, Entries: n})
	}
	if idx.Lists == nil {
		idx.Lists = []RevocationListInfo{}
	}
	body, err := json.Marshal(idx)
	if err != nil {
		return nil, err
	}
	if v.Index, err = newResponse("application/json", body, body, issuedAt, signer, true); err != nil {
		return nil, err
	}
	return v, nil
}

// ForKID is the list of one kid (Base64), ok false when it has none.
func (v *RevocationView) ForKID(kid string) (*Response, bool) {
	r, ok := v.byKID[kid]
	return r, ok
}

// List is the revocation list for verification.
func (v *RevocationView) List() *RevocationList { return v.list }

// ParseRevocationDoc reads a published list of one kid into entries.
func ParseRevocationDoc(data []byte) ([]Revocation, error) {
	var doc RevocationDoc
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("revocation list: %w", err)
	}
	var out []Revocation
	for t, hs := range doc.Hashes {
		if !slices.Contains(HashTypes, t) {
			continue
		}
		for _, s := range hs {
			b, err := base64.StdEncoding.DecodeString(s)
			if err != nil || len(b) != 16 {
				return nil, fmt.Errorf("revocation list of %s: a hash is not 16 bytes of Base64", doc.KID)
			}
			var h RevocationHash
			copy(h[:], b)
			out = append(out, Revocation{KID: doc.KID, Type: t, Hash: h})
		}
	}
	return out, nil
}
