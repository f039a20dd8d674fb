package didtrust

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/piprate/json-gold/ld"
)

var now = time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)

// cert makes a certificate for key, issued by parent (self-signed when
// nil).
func cert(t testing.TB, cn string, key *ecdsa.PrivateKey, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) *x509.Certificate {
	t.Helper()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn, Country: []string{"DE"}},
		NotBefore: now.Add(-24 * time.Hour), NotAfter: now.Add(365 * 24 * time.Hour), IsCA: parent == nil, BasicConstraintsValid: true}
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return c
}

func newKey(t testing.TB) *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

const listID = "did:web:trust.example:v2:trustlist:-:DEU:DSC"

func fixture(t testing.TB) (signer Signer, entries []Entry) {
	scaKey, dscKey := newKey(t), newKey(t)
	sca := cert(t, "SCA", scaKey, nil, nil)
	dsc := cert(t, "DSC", dscKey, sca, scaKey)
	signer = Signer{Key: newKey(t), Method: "did:web:trust.example:v2:signer", Nonce: func() string { return "n0nce" }}
	return signer, []Entry{{Chain: []*x509.Certificate{dsc, sca}, Domain: DomainDCC, Participant: "DEU", KeyUsage: UsageDSC}}
}

// resign replaces a document's proof after edit changed it, as a
// publisher writing that shape would sign it.
func resign(t *testing.T, raw []byte, s Signer, edit func(map[string]any)) []byte {
	t.Helper()
	var obj map[string]any
	json.Unmarshal(raw, &obj)
	delete(obj, "proof")
	edit(obj)
	if err := sign(obj, s.Key, s.Method, now, ""); err != nil {
		t.Fatal(err)
	}
	out, _ := json.Marshal(obj)
	return out
}

func TestBuildOpen(t *testing.T) {
	s, entries := fixture(t)
	raw, err := Build(listID, "did:web:trust.example:v2:trustlist:-:DEU", entries, s, now)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Open(raw, s.Key.Public().(*ecdsa.PublicKey), listID)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Entries) != 1 || len(got.Entries[0].Chain) != 2 || !got.Entries[0].Chain[0].Equal(entries[0].Chain[0]) {
		t.Fatalf("entries %+v", got.Entries)
	}
	e := got.Entries[0]
	if e.KID != KIDOf(entries[0].Chain[0]) || e.Domain != DomainDCC || e.Participant != "DEU" || e.KeyUsage != UsageDSC {
		t.Errorf("entry %+v", e)
	}
	var doc map[string]any
	json.Unmarshal(raw, &doc)
	jws := doc["proof"].(map[string]any)["jws"].(string)
	if !strings.HasPrefix(jws, "eyJiNjQiOmZhbHNlLCJjcml0IjpbImI2NCJdLCJhbGciOiJFUzI1NiJ9..") {
		t.Errorf("jws %s", jws)
	}
	if _, err := Open(raw, s.Key.Public().(*ecdsa.PublicKey), listID+":other"); !errors.Is(err, ErrDocument) {
		t.Errorf("fetched as another DID: %v", err)
	}
	if _, err := Open(raw, &newKey(t).PublicKey, listID); !errors.Is(err, ErrProof) {
		t.Errorf("another key: %v", err)
	}
}

// Changes to what the contexts define break the proof; members they do
// not define are not covered (as in every JSON-LD signature) and are not
// used: entries are read from x5c.
func TestOpenRefuses(t *testing.T) {
	s, entries := fixture(t)
	raw, err := Build(listID, "did:web:trust.example:v2:trustlist:-:DEU", entries, s, now)
	if err != nil {
		t.Fatal(err)
	}
	other := cert(t, "other", newKey(t), nil, nil)
	edit := func(f func(map[string]any)) []byte {
		var obj map[string]any
		json.Unmarshal(raw, &obj)
		f(obj)
		b, _ := json.Marshal(obj)
		return b
	}
	firstJWK := func(o map[string]any) map[string]any {
		return o["verificationMethod"].([]any)[0].(map[string]any)["publicKeyJwk"].(map[string]any)
	}
	for _, tc := range []struct {
		name string
		raw  []byte
		want error
	}{
		{"a certificate swapped in x5c", edit(func(o map[string]any) {
			firstJWK(o)["x5c"].([]any)[1] = base64.StdEncoding.EncodeToString(other.Raw)
		}), ErrProof},
		{"an entry removed", edit(func(o map[string]any) { o["verificationMethod"] = []any{} }), ErrProof},
		{"the id changed", edit(func(o map[string]any) { o["controller"] = "did:web:evil.example" }), ErrProof},
		{"the proof's date changed", edit(func(o map[string]any) { o["proof"].(map[string]any)["created"] = "2030-01-01T00:00:00Z" }), ErrProof},
		{"no proof", edit(func(o map[string]any) { delete(o, "proof") }), ErrProof},
		{"an encoded payload", edit(func(o map[string]any) {
			p := o["proof"].(map[string]any)
			_, sig, _ := strings.Cut(p["jws"].(string), "..")
			p["jws"] = base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"ES256"}`)) + ".." + sig
		}), ErrProof},
		{"an unpinned context", edit(func(o map[string]any) { o["@context"] = []any{ContextDID, "https://evil.example/ctx"} }), ErrContext},
		{"an entry without an id", edit(func(o map[string]any) {
			delete(o["verificationMethod"].([]any)[0].(map[string]any), "id")
		}), ErrDocument},
		{"blank nodes to make canonicalisation costly", edit(func(o map[string]any) {
			o["service"] = []any{map[string]any{"type": "x"}, map[string]any{"type": "y"}}
		}), ErrDocument},
		{"two entries with one id and different keys", edit(func(o map[string]any) {
			vm := o["verificationMethod"].([]any)
			second := map[string]any{}
			for k, v := range vm[0].(map[string]any) {
				second[k] = v
			}
			second["publicKeyJwk"] = map[string]any{"kty": "EC", "x5c": []any{base64.StdEncoding.EncodeToString(other.Raw)}}
			o["verificationMethod"] = append(vm, second)
		}), ErrProof}, // and no panic: json-gold's Normalize panics on it
		{"not JSON", []byte("{"), ErrDocument},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Open(tc.raw, s.Key.Public().(*ecdsa.PublicKey), ""); !errors.Is(err, tc.want) {
				t.Fatalf("err %v, want %v", err, tc.want)
			}
		})
	}
}

// What WHO's documents look like in the wild: a DER signature (Java's
// SHA256withECDSA), coordinates with a sign byte or padding, filter values
// as {"code":"#DCC"}, references to other documents.
func TestOpenReadsWHOQuirks(t *testing.T) {
	s, entries := fixture(t)
	raw, err := Build(listID, "did:web:trust.example:v2:trustlist:-:DEU", entries, s, now)
	if err != nil {
		t.Fatal(err)
	}
	quirky := resign(t, raw, s, func(o map[string]any) {
		m := o["verificationMethod"].([]any)[0].(map[string]any)
		k := m["publicKeyJwk"].(map[string]any)
		x, _ := base64.RawURLEncoding.DecodeString(k["x"].(string))
		k["x"] = base64.URLEncoding.EncodeToString(append([]byte{0}, x...)) // 33 bytes, padded
		m["domain"] = map[string]any{"code": "#DCC"}
		o["verificationMethod"] = append(o["verificationMethod"].([]any), "did:web:trust.example:v2:trustlist:DCC:DEU:DSC")
	})
	// The same signature as ASN.1 DER.
	var obj map[string]any
	json.Unmarshal(quirky, &obj)
	p := obj["proof"].(map[string]any)
	h, sig, _ := strings.Cut(p["jws"].(string), "..")
	raw64, _ := base64.RawURLEncoding.DecodeString(sig)
	der := derSig(raw64)
	p["jws"] = h + ".." + base64.RawURLEncoding.EncodeToString(der)
	quirky, _ = json.Marshal(obj)

	got, err := Open(quirky, s.Key.Public().(*ecdsa.PublicKey), listID)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Entries) != 1 || got.Entries[0].Domain != DomainDCC || len(got.Dropped) != 1 {
		t.Fatalf("entries %+v dropped %v", got.Entries, got.Dropped)
	}

	// A JWK that is not x5c[0]'s key is dropped, signed or not.
	wrong := resign(t, raw, s, func(o map[string]any) {
		k := o["verificationMethod"].([]any)[0].(map[string]any)["publicKeyJwk"].(map[string]any)
		k["y"] = k["x"]
	})
	got, err = Open(wrong, s.Key.Public().(*ecdsa.PublicKey), listID)
	if err != nil || len(got.Entries) != 0 || len(got.Dropped) != 1 {
		t.Fatalf("a JWK of another key: %+v %v", got, err)
	}
}

func derSig(rs []byte) []byte {
	type sig struct{ R, S *big.Int }
	b, _ := asn1Marshal(sig{new(big.Int).SetBytes(rs[:32]), new(big.Int).SetBytes(rs[32:])})
	return b
}

func TestDIDs(t *testing.T) {
	for _, tc := range []struct{ url, did string }{
		{"https://tng-cdn.who.int/v2/trustlist/-/DEU/DSC/did.json", "did:web:tng-cdn.who.int:v2:trustlist:-:DEU:DSC"},
		{"http://127.0.0.1:8080/v2/trustlist/did.json", "did:web:127.0.0.1%3A8080:v2:trustlist"},
	} {
		u, _ := url.Parse(tc.url)
		if got := DIDOf(u); got != tc.did {
			t.Errorf("DIDOf(%s) = %s, want %s", tc.url, got, tc.did)
		}
	}
	u, err := URLOf("did:web:raw.githubusercontent.com:WorldHealthOrganization:tng-participants-prod:main:WHO:signing:DID")
	if err != nil || u.String() != "https://raw.githubusercontent.com/WorldHealthOrganization/tng-participants-prod/main/WHO/signing/DID/did.json" {
		t.Errorf("URLOf: %v %v", u, err)
	}
	if _, err := URLOf("did:key:z6Mk"); err == nil {
		t.Error("did:key accepted")
	}
}

func TestSignerDocument(t *testing.T) {
	k := newKey(t)
	raw, err := SignerDocument("did:web:trust.example:v2:signer", &k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := PublicKeyOf(raw)
	if err != nil || !pub.Equal(&k.PublicKey) {
		t.Fatalf("PublicKeyOf: %v", err)
	}
	if _, err := PublicKeyOf([]byte(`{"verificationMethod":[{"publicKeyJwk":{"kty":"EC","crv":"P-256","x":"AA","y":"AA"}}]}`)); err == nil {
		t.Error("a point off the curve accepted")
	}
}

func asn1Marshal(v any) ([]byte, error) { return asn1.Marshal(v) }

func TestCountryCodes(t *testing.T) {
	for _, tc := range []struct{ a2, a3 string }{{"DE", "DEU"}, {"GR", "GRC"}, {"XK", ""}} {
		if got := Alpha3(tc.a2); got != tc.a3 && tc.a3 != "" {
			t.Errorf("Alpha3(%s) = %q, want %q", tc.a2, got, tc.a3)
		}
		if tc.a3 != "" {
			if got := Alpha2(tc.a3); got != tc.a2 {
				t.Errorf("Alpha2(%s) = %q, want %q", tc.a3, got, tc.a2)
			}
		}
	}
	if got := Alpha2("XXA"); got != "" {
		t.Errorf("the virtual participant XXA has the country %q", got)
	}
}

// canonical, an entry at a time, writes what json-gold's Normalize writes
// for the whole document: several entries and a reference to another
// document. (An entry listed twice makes json-gold panic: see
// TestOpenRefuses.)
func TestCanonicalIsJSONGold(t *testing.T) {
	s, entries := fixture(t)
	_, more := fixture(t)
	entries = append(entries, more[0], Entry{Chain: more[0].Chain[1:], KeyUsage: UsageSCA})
	raw, err := Build(listID, "did:web:trust.example:v2:trustlist:-:DEU", entries, s, now)
	if err != nil {
		t.Fatal(err)
	}
	raw = resign(t, raw, s, func(o map[string]any) {
		o["verificationMethod"] = append(o["verificationMethod"].([]any), "did:web:trust.example:v2:trustlist:DCC:DEU:DSC")
	})
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	json.Unmarshal(raw, &doc)
	proof := doc["proof"].(map[string]any)
	delete(proof, "jws")
	proof["@context"] = doc["@context"]
	delete(doc, "proof")
	for name, obj := range map[string]map[string]any{"document": doc, "proof options": proof} {
		got, err := canonical(obj)
		if err != nil {
			t.Fatal(err)
		}
		opts := ld.NewJsonLdOptions("")
		opts.Algorithm, opts.Format, opts.ProcessingMode, opts.DocumentLoader = ld.AlgorithmURDNA2015, "application/n-quads", ld.JsonLd_1_1, pinnedContexts{}
		want, err := ld.NewJsonLdProcessor().Normalize(obj, opts)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != want.(string) || len(got) < 100 {
			t.Errorf("%s:\n%s\nwant\n%s", name, got, want)
		}
	}
}

// A document as WHO's newer key distribution writes it: the TNG context
// and filters as {"code": "#DCC"}. The proof then covers the filters.
func TestTNGContext(t *testing.T) {
	s, entries := fixture(t)
	raw, err := Build(listID, "did:web:trust.example:v2:trustlist:-:DEU", entries, s, now)
	if err != nil {
		t.Fatal(err)
	}
	who := resign(t, raw, s, func(o map[string]any) {
		o["@context"] = []any{ContextDID, ContextJWS2020, ContextTNG}
		m := o["verificationMethod"].([]any)[0].(map[string]any)
		m["domain"] = map[string]any{"code": "#DCC"}
		m["participant"] = map[string]any{"code": "#DEU"}
		m["keyusage"] = map[string]any{"code": "#DSC"}
	})
	got, err := Open(who, s.Key.Public().(*ecdsa.PublicKey), listID)
	if err != nil {
		t.Fatal(err)
	}
	if e := got.Entries[0]; e.Domain != DomainDCC || e.Participant != "DEU" || e.KeyUsage != UsageDSC {
		t.Fatalf("entry %+v", e)
	}
	var obj map[string]any
	json.Unmarshal(who, &obj)
	delete(obj, "proof")
	quads, err := canonical(obj)
	if err != nil || !strings.Contains(string(quads), "<https://smart.who.int/trust/ValueSet-Domains.jsonld> <https://smart.who.int/trust/ValueSet-Domains.jsonld#DCC>") {
		t.Fatalf("the domain is not in the canonical form (%v):\n%s", err, quads)
	}
	// Under the TNG context the filters are signed.
	changed := strings.Replace(string(who), `"#DSC"`, `"#SCA"`, 1)
	if _, err := Open([]byte(changed), s.Key.Public().(*ecdsa.PublicKey), listID); !errors.Is(err, ErrProof) {
		t.Fatalf("a changed key usage: %v", err)
	}
}
