package trustlist

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// List is an immutable set of DSCs indexed by kid. Several DSCs may share a
// kid (it is only 8 bytes); lookups return all of them.
type List struct {
	byKID map[string][]*DSC
	all   []*DSC
}

// NewList indexes dscs.
func NewList(dscs ...*DSC) *List {
	l := &List{byKID: make(map[string][]*DSC, len(dscs))}
	for _, d := range dscs {
		l.byKID[string(d.KID)] = append(l.byKID[string(d.KID)], d)
		l.all = append(l.all, d)
	}
	return l
}

// ByKID returns the DSCs whose kid equals kid.
func (l *List) ByKID(kid []byte) []*DSC { return l.byKID[string(kid)] }

// All returns every DSC in the list.
func (l *List) All() []*DSC { return l.all }

// Len is the number of DSCs.
func (l *List) Len() int { return len(l.all) }

// Entry is one DSC as the gateway's TrustListDto and the CovPass list carry it.
type Entry struct {
	CertificateType string `json:"certificateType"`
	Country         string `json:"country"`
	KID             string `json:"kid"`        // standard Base64 of the 8-byte kid
	RawData         string `json:"rawData"`    // standard Base64 of the DER certificate
	Signature       string `json:"signature"`  // CMS signature of the uploading country
	Thumbprint      string `json:"thumbprint"` // lower-case hex SHA-256 of the DER
	Timestamp       string `json:"timestamp"`
}

// NewEntry describes a DER certificate as a trust-list entry (kid,
// thumbprint, rawData), without a CMS signature.
func NewEntry(typ, country string, der []byte) Entry {
	sum := sha256.Sum256(der)
	return Entry{CertificateType: typ, Country: country,
		KID: base64.StdEncoding.EncodeToString(sum[:8]), RawData: base64.StdEncoding.EncodeToString(der),
		Thumbprint: hex.EncodeToString(sum[:])}
}

// Document is a parsed CovPass-style DSC list.
type Document struct {
	// Signature is the leading line (Base64 of a raw r‖s ECDSA P-256
	// signature over JSON), nil when the document had none.
	Signature []byte
	// JSON is the exact signed bytes.
	JSON []byte
	// IssuedAt is when the list was made, zero when it does not say
	// (greenpass lists say; others may not).
	IssuedAt time.Time
	Entries  []Entry
}

// MaxDocumentSize bounds a trust-list document; the full EU list is ~4 MB.
const MaxDocumentSize = 64 << 20

// ParseDocument reads the CovPass DSC list format: an optional first line
// with the Base64 signature, then JSON {"certificates": [...]}. The decoder
// takes everything before the first '{' as the signature, as CovPass does.
// The document's own signature is not checked here.
func ParseDocument(data []byte) (*Document, error) {
	if len(data) > MaxDocumentSize {
		return nil, fmt.Errorf("trust list of %d bytes exceeds %d", len(data), MaxDocumentSize)
	}
	i := bytes.IndexByte(data, '{')
	if i < 0 {
		return nil, fmt.Errorf("trust list holds no JSON object")
	}
	doc := &Document{JSON: bytes.TrimSpace(data[i:])}
	if sig := strings.TrimSpace(string(data[:i])); sig != "" {
		raw, err := base64.StdEncoding.DecodeString(sig)
		if err != nil {
			return nil, fmt.Errorf("trust list signature line is not Base64: %w", err)
		}
		doc.Signature = raw
	}
	var body struct {
		IssuedAt     time.Time `json:"issuedAt"`
		Certificates []Entry   `json:"certificates"`
	}
	if err := json.Unmarshal(doc.JSON, &body); err != nil {
		return nil, fmt.Errorf("trust list JSON: %w", err)
	}
	doc.Entries, doc.IssuedAt = body.Certificates, body.IssuedAt
	return doc, nil
}

// DSCs checks every entry (rawData parses, thumbprint = SHA-256(rawData),
// kid = its first 8 bytes) and returns the good ones plus one error per
// rejected entry. A rejected entry is never trusted: a list that vouches for
// a certificate whose kid it misstates is wrong about it.
func (d *Document) DSCs() ([]*DSC, []error) {
	var dscs []*DSC
	var errs []error
	for i, e := range d.Entries {
		dsc, err := e.dsc()
		if err != nil {
			errs = append(errs, fmt.Errorf("entry %d (kid %s, %s): %w", i, e.KID, e.Country, err))
			continue
		}
		dscs = append(dscs, dsc)
	}
	return dscs, errs
}

func (e Entry) dsc() (*DSC, error) {
	der, err := base64.StdEncoding.DecodeString(e.RawData)
	if err != nil {
		return nil, fmt.Errorf("rawData is not Base64: %w", err)
	}
	sum := sha256.Sum256(der)
	if e.Thumbprint != "" && !strings.EqualFold(e.Thumbprint, hex.EncodeToString(sum[:])) {
		return nil, fmt.Errorf("thumbprint does not match rawData")
	}
	if e.KID != "" && e.KID != base64.StdEncoding.EncodeToString(sum[:8]) {
		return nil, fmt.Errorf("kid does not match rawData")
	}
	return NewDSC(der, e.Country)
}
