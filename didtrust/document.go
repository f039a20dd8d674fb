// Package didtrust reads and writes trust lists the way the WHO Global
// Digital Health Certification Network publishes them: did:web documents
// whose verificationMethod entries are JsonWebKey2020 keys with their
// certificate chain (x5c, leaf first), signed with a JsonWebSignature2020
// proof (URDNA2015 canonical form, detached ES256 JWS), under the
// pinned W3C contexts. It knows documents, keys and certificates, not
// how a sync or a server uses them.
package didtrust

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"net/url"
	"strings"
	"time"

	"golang.org/x/text/language"
)

// Limits on a document from outside, checked before it is canonicalised.
const (
	MaxDocumentBytes = 128 << 20
	MaxEntries       = 200_000
)

// Usages as the lists name them: the gateway's CSCA group is SCA.
const (
	UsageSCA = "SCA"
	UsageDSC = "DSC"
)

// DomainDCC is the trust domain of EU DCCs.
const DomainDCC = "DCC"

// Entry is one key of a list: its certificate chain (leaf first) and the
// filters it is listed under.
type Entry struct {
	Chain                         []*x509.Certificate
	Domain, Participant, KeyUsage string
	// KID is the entry's kid as listed; KIDOf(Chain[0]) is what a DCC's
	// kid is compared with.
	KID string
}

// KIDOf is a DCC kid: the first 8 bytes of SHA-256 over the DER, in
// standard Base64.
func KIDOf(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.Raw)
	return base64.StdEncoding.EncodeToString(sum[:8])
}

// document is the JSON shape, for writing.
type document struct {
	Context            []string `json:"@context"`
	ID                 string   `json:"id"`
	Controller         string   `json:"controller,omitempty"`
	VerificationMethod []method `json:"verificationMethod"`
}

type method struct {
	ID           string `json:"id"`
	Type         string `json:"type"`
	Controller   string `json:"controller"`
	PublicKeyJwk jwk    `json:"publicKeyJwk"`
	Domain       string `json:"domain,omitempty"`
	Participant  string `json:"participant,omitempty"`
	KeyUsage     string `json:"keyusage,omitempty"`
}

type jwk struct {
	Kty string   `json:"kty"`
	Crv string   `json:"crv,omitempty"`
	X   string   `json:"x,omitempty"`
	Y   string   `json:"y,omitempty"`
	N   string   `json:"n,omitempty"`
	E   string   `json:"e,omitempty"`
	Kid string   `json:"kid,omitempty"`
	X5c []string `json:"x5c,omitempty"`
}

// Signer signs documents: an ECDSA P-256 key (the trust-list key, in a
// file or a KMS) and the DID URL of its verification method (where a
// consumer finds the public key).
type Signer struct {
	Key    crypto.Signer
	Method string
	Nonce  func() string // nil: no nonce
}

// Build makes the signed document id (controlled by controller) that
// lists entries. Entry ids are id#kid, as in WHO's leaf documents.
func Build(id, controller string, entries []Entry, s Signer, now time.Time) ([]byte, error) {
	d := document{Context: []string{ContextDID, ContextJWS2020}, ID: id, Controller: controller, VerificationMethod: []method{}}
	for _, e := range entries {
		if len(e.Chain) == 0 {
			return nil, fmt.Errorf("didtrust: entry without a certificate")
		}
		k, err := jwkOf(e.Chain[0].PublicKey)
		if err != nil {
			return nil, err
		}
		kid := KIDOf(e.Chain[0])
		k.Kid = kid
		for _, c := range e.Chain {
			k.X5c = append(k.X5c, base64.StdEncoding.EncodeToString(c.Raw))
		}
		d.VerificationMethod = append(d.VerificationMethod, method{ID: id + "#" + kid, Type: "JsonWebKey2020", Controller: controller,
			PublicKeyJwk: k, Domain: e.Domain, Participant: e.Participant, KeyUsage: e.KeyUsage})
	}
	raw, err := json.Marshal(d)
	if err != nil {
		return nil, err
	}
	// Through JSON objects, so that what is signed is what is written.
	return Resign(raw, s, now)
}

// jwkOf is a public key as a JWK with canonical (fixed-length)
// coordinates.
func jwkOf(pub crypto.PublicKey) (jwk, error) {
	b64 := base64.RawURLEncoding.EncodeToString
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		size := (k.Curve.Params().BitSize + 7) / 8
		x, y := make([]byte, size), make([]byte, size)
		k.X.FillBytes(x)
		k.Y.FillBytes(y)
		return jwk{Kty: "EC", Crv: k.Curve.Params().Name, X: b64(x), Y: b64(y)}, nil
	case *rsa.PublicKey:
		return jwk{Kty: "RSA", N: b64(k.N.Bytes()), E: b64(big.NewInt(int64(k.E)).Bytes())}, nil
	}
	return jwk{}, fmt.Errorf("didtrust: unsupported key type %T", pub)
}

// Listed is what a verified document lists.
type Listed struct {
	ID      string
	Entries []Entry
	// Dropped says why entries were left out (no certificate, a key that
	// is not its certificate's, a reference to another document).
	Dropped []string
}

// Open verifies a document's proof under key and returns its entries.
// wantID, when set, must be the document's id (the DID it was fetched
// as). The shape is checked before the document is canonicalised, so
// that hostile input cannot make the canonicalisation costly: entries are
// objects with an id, or DID strings (references, skipped).
func Open(raw []byte, key *ecdsa.PublicKey, wantID string) (*Listed, error) {
	if len(raw) > MaxDocumentBytes {
		return nil, fmt.Errorf("%w: %d bytes, at most %d", ErrDocument, len(raw), MaxDocumentBytes)
	}
	var obj map[string]any
	if err := json.Unmarshal(raw, &obj); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrDocument, err)
	}
	if err := checkShape(obj); err != nil {
		return nil, err
	}
	id, _ := obj["id"].(string)
	if wantID != "" && id != wantID {
		return nil, fmt.Errorf("%w: the document's id is %q, fetched as %q", ErrDocument, id, wantID)
	}
	if err := verify(obj, key); err != nil {
		return nil, err
	}
	var d struct {
		VerificationMethod []json.RawMessage `json:"verificationMethod"`
	}
	if err := json.Unmarshal(raw, &d); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrDocument, err)
	}
	out := &Listed{ID: id}
	for i, m := range d.VerificationMethod {
		if len(m) > 0 && m[0] == '"' {
			out.Dropped = append(out.Dropped, fmt.Sprintf("entry %d: a reference to another document", i))
			continue
		}
		e, err := entryOf(m)
		if err != nil {
			out.Dropped = append(out.Dropped, fmt.Sprintf("entry %d: %v", i, err))
			continue
		}
		out.Entries = append(out.Entries, e)
	}
	return out, nil
}

// code is a filter value: "DCC", or {"code": "#DCC"} as newer documents
// write it.
type code string

func (c *code) UnmarshalJSON(b []byte) error {
	var s string
	if json.Unmarshal(b, &s) == nil {
		*c = code(s)
		return nil
	}
	var o struct {
		Code string `json:"code"`
	}
	if err := json.Unmarshal(b, &o); err != nil {
		return err
	}
	*c = code(strings.TrimPrefix(o.Code, "#"))
	return nil
}

func entryOf(raw json.RawMessage) (Entry, error) {
	var m struct {
		Type         string `json:"type"`
		PublicKeyJwk struct {
			Kty, Crv, X, Y, N, E, Kid string
			X5c                       []string `json:"x5c"`
		} `json:"publicKeyJwk"`
		Domain      code `json:"domain"`
		Participant code `json:"participant"`
		KeyUsage    code `json:"keyusage"`
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		return Entry{}, err
	}
	if m.Type != "JsonWebKey2020" {
		return Entry{}, fmt.Errorf("type %q, not JsonWebKey2020", m.Type)
	}
	k := m.PublicKeyJwk
	if len(k.X5c) == 0 {
		return Entry{}, fmt.Errorf("no x5c")
	}
	e := Entry{Domain: string(m.Domain), Participant: string(m.Participant), KeyUsage: string(m.KeyUsage), KID: k.Kid}
	for i, s := range k.X5c {
		der, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return Entry{}, fmt.Errorf("x5c[%d] is not Base64", i)
		}
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return Entry{}, fmt.Errorf("x5c[%d]: %v", i, err)
		}
		e.Chain = append(e.Chain, c)
	}
	if err := sameKey(k.Kty, k.Crv, k.X, k.Y, k.N, k.E, e.Chain[0]); err != nil {
		return Entry{}, err
	}
	return e, nil
}

// sameKey checks that the JWK is x5c[0]'s key. The coordinates are read
// as WHO's documents write them: Java's BigInteger bytes (a leading zero
// byte, or fewer bytes than the field), sometimes with Base64 padding.
func sameKey(kty, crv, x, y, n, e string, cert *x509.Certificate) error {
	num := jwkInt
	switch pub := cert.PublicKey.(type) {
	case *ecdsa.PublicKey:
		px, okx := num(x)
		py, oky := num(y)
		if kty != "EC" || crv != pub.Curve.Params().Name || !okx || !oky || px.Cmp(pub.X) != 0 || py.Cmp(pub.Y) != 0 {
			return fmt.Errorf("the JWK is not the key of x5c[0]")
		}
	case *rsa.PublicKey:
		pn, okn := num(n)
		pe, oke := num(e)
		if kty != "RSA" || !okn || !oke || pn.Cmp(pub.N) != 0 || !pe.IsInt64() || pe.Int64() != int64(pub.E) {
			return fmt.Errorf("the JWK is not the key of x5c[0]")
		}
	default:
		return fmt.Errorf("unsupported key type %T", cert.PublicKey)
	}
	return nil
}

// jwkInt reads a JWK number as WHO's documents write them: big-endian
// bytes in base64url, with a leading zero byte or fewer bytes than the
// field, sometimes with Base64 padding.
func jwkInt(s string) (*big.Int, bool) {
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
	if err != nil || len(b) == 0 {
		return nil, false
	}
	return new(big.Int).SetBytes(b), true
}

// checkShape refuses what WHO's documents never hold before any
// JSON-LD processing: the contexts must be pinned ones, the entries
// objects with a string id (or DID strings), no other nested values.
func checkShape(obj map[string]any) error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: %s", ErrDocument, fmt.Sprintf(format, a...))
	}
	switch c := obj["@context"].(type) {
	case string:
		if _, ok := contextPaths[c]; !ok {
			return fmt.Errorf("%w %q", ErrContext, c)
		}
	case []any:
		for _, v := range c {
			s, ok := v.(string)
			if _, known := contextPaths[s]; !ok || !known {
				return fmt.Errorf("%w %v", ErrContext, v)
			}
		}
	default:
		return bad("no @context")
	}
	if _, ok := obj["id"].(string); !ok {
		return bad("no id")
	}
	for k, v := range obj {
		switch k {
		case "@context", "proof":
		case "verificationMethod":
			list, ok := v.([]any)
			if !ok {
				return bad("verificationMethod is not a list")
			}
			if len(list) > MaxEntries {
				return bad("%d entries, at most %d", len(list), MaxEntries)
			}
			for i, m := range list {
				switch m := m.(type) {
				case string:
				case map[string]any:
					if id, ok := m["id"].(string); !ok || id == "" {
						return bad("entry %d has no id", i)
					}
					for mk, mv := range m {
						switch mv.(type) {
						case string:
						case map[string]any:
							if mk != "publicKeyJwk" && mk != "domain" && mk != "participant" && mk != "keyusage" {
								return bad("entry %d: %s is an object", i, mk)
							}
						default:
							return bad("entry %d: %s is neither a string nor an object", i, mk)
						}
					}
				default:
					return bad("entry %d is neither an object nor a DID", i)
				}
			}
		default:
			if _, ok := v.(string); !ok {
				return bad("%s is not a string", k)
			}
		}
	}
	if p, ok := obj["proof"].(map[string]any); ok {
		for k, v := range p {
			if _, ok := v.(string); !ok {
				return bad("proof.%s is not a string", k)
			}
		}
	}
	return nil
}

// DIDOf is the did:web DID a document is served at: the URL's host (a
// port's colon escaped) and path segments, without /did.json.
func DIDOf(u *url.URL) string {
	p := strings.TrimSuffix(strings.TrimSuffix(u.EscapedPath(), "/did.json"), "/")
	did := "did:web:" + strings.ReplaceAll(u.Host, ":", "%3A")
	if p != "" {
		did += strings.ReplaceAll(p, "/", ":")
	}
	return did
}

// URLOf resolves a did:web DID to the URL of its document (https).
func URLOf(did string) (*url.URL, error) {
	rest, ok := strings.CutPrefix(did, "did:web:")
	if !ok || rest == "" {
		return nil, fmt.Errorf("%q is not a did:web DID", did)
	}
	parts := strings.Split(rest, ":")
	host, err := url.PathUnescape(parts[0])
	if err != nil || host == "" {
		return nil, fmt.Errorf("%q: bad host", did)
	}
	p := "/.well-known"
	if len(parts) > 1 {
		p = "/" + strings.Join(parts[1:], "/")
	}
	return url.Parse("https://" + host + p + "/did.json")
}

// PublicKeyOf reads a signer's public key from a DID document (WHO's
// signing DID: one JsonWebKey2020 verification method with an EC P-256
// publicKeyJwk).
func PublicKeyOf(raw []byte) (*ecdsa.PublicKey, error) {
	var d struct {
		VerificationMethod []struct {
			PublicKeyJwk struct{ Kty, Crv, X, Y string } `json:"publicKeyJwk"`
		} `json:"verificationMethod"`
	}
	if err := json.Unmarshal(raw, &d); err != nil || len(d.VerificationMethod) == 0 {
		return nil, fmt.Errorf("%w: not a DID document with a verification method", ErrDocument)
	}
	k := d.VerificationMethod[0].PublicKeyJwk
	x, okx := jwkInt(k.X)
	y, oky := jwkInt(k.Y)
	if k.Kty != "EC" || k.Crv != "P-256" || !okx || !oky || x.BitLen() > 256 || y.BitLen() > 256 {
		return nil, fmt.Errorf("%w: the key is not an EC P-256 JWK", ErrDocument)
	}
	// Fixed-length coordinates, then crypto/ecdsa checks the point.
	pt := make([]byte, 65)
	pt[0] = 4
	x.FillBytes(pt[1:33])
	y.FillBytes(pt[33:])
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), pt)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrDocument, err)
	}
	return pub, nil
}

// SignerDocument is the DID document that publishes a signer's key, as
// WHO's signing DID does: one JsonWebKey2020 method whose id is the DID.
func SignerDocument(did string, key *ecdsa.PublicKey) ([]byte, error) {
	k, err := jwkOf(key)
	if err != nil {
		return nil, err
	}
	return json.Marshal(map[string]any{
		"@context": []string{ContextDID, ContextJWS2020},
		"id":       did,
		"verificationMethod": []any{map[string]any{
			"id": did, "type": "JsonWebKey2020", "controller": did,
			"publicKeyJwk": k,
		}},
		"assertionMethod": []string{did},
	})
}

// Alpha3 is the participant code of a country (ISO 3166-1 alpha-3, upper
// case), "" for what is no country.
func Alpha3(alpha2 string) string {
	r, err := language.ParseRegion(alpha2)
	if err != nil || len(alpha2) != 2 {
		return ""
	}
	return r.ISO3()
}

// Alpha2 is the country of a participant code, "" for a virtual
// participant (XXA, WHO) or what is no country.
func Alpha2(alpha3 string) string {
	r, err := language.ParseRegion(alpha3)
	if err != nil || len(alpha3) != 3 || !r.IsCountry() {
		return ""
	}
	return r.String()
}
