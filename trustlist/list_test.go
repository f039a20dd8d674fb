package trustlist

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"strings"
	"testing"
	"time"
)

func selfSigned(t *testing.T, country string) []byte {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "DSC", Country: []string{country}},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func TestParseCertificateFormats(t *testing.T) {
	der := selfSigned(t, "DE")
	b64 := base64.StdEncoding.EncodeToString(der)
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	tests := []struct {
		name string
		in   []byte
		ok   bool
	}{
		{"DER", der, true},
		{"PEM", pemBytes, true},
		{"Base64", []byte(b64 + "\n"), true},
		{"Base64 wrapped at 64", []byte(b64[:64] + "\n" + b64[64:]), true},
		{"PEM private key", pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: []byte{1}}), false},
		{"garbage", []byte("not a certificate!"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseCertificate(tt.in)
			if tt.ok != (err == nil) || tt.ok && !bytes.Equal(got, der) {
				t.Fatalf("ParseCertificate: %v", err)
			}
		})
	}
}

func TestNewDSC(t *testing.T) {
	der := selfSigned(t, "AT")
	d, err := NewDSC(der, "")
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(der)
	if !bytes.Equal(d.KID, sum[:8]) || d.Country != "AT" || d.Key == nil || d.KeyErr != nil {
		t.Fatalf("DSC = kid %x country %q key %v err %v", d.KID, d.Country, d.Key, d.KeyErr)
	}
	if d, _ := NewDSC(der, "LI"); d.Country != "LI" {
		t.Fatalf("explicit country ignored: %q", d.Country)
	}
	if _, err := NewDSC([]byte{0x30, 0x00}, ""); err == nil {
		t.Fatal("NewDSC accepted an empty SEQUENCE")
	}
}

func TestListByKID(t *testing.T) {
	a, _ := NewDSC(selfSigned(t, "DE"), "")
	b, _ := NewDSC(selfSigned(t, "FR"), "")
	twin := *b
	twin.KID = a.KID
	l := NewList(a, b, &twin)
	if got := l.ByKID(a.KID); len(got) != 2 || got[0] != a || got[1] != &twin {
		t.Fatalf("ByKID(a) = %v, want a and its kid twin", got)
	}
	if got := l.ByKID([]byte("unknown!")); got != nil {
		t.Fatalf("ByKID(unknown) = %v", got)
	}
	if l.Len() != 3 || len(l.All()) != 3 {
		t.Fatalf("Len = %d", l.Len())
	}
}

func entryFor(der []byte, country string) Entry {
	sum := sha256.Sum256(der)
	return Entry{CertificateType: "DSC", Country: country, RawData: base64.StdEncoding.EncodeToString(der),
		KID: base64.StdEncoding.EncodeToString(sum[:8]), Thumbprint: hex.EncodeToString(sum[:])}
}

func TestParseDocument(t *testing.T) {
	der1, der2 := selfSigned(t, "DE"), selfSigned(t, "FR")
	good := entryFor(der1, "DE")
	badKID := entryFor(der2, "FR")
	badKID.KID = "AAAAAAAAAAA="
	badThumb := entryFor(der2, "FR")
	badThumb.Thumbprint = strings.Repeat("00", 32)
	badRaw := entryFor(der2, "FR")
	badRaw.RawData = "!!"
	body, _ := json.Marshal(map[string]any{"certificates": []Entry{good, badKID, badThumb, badRaw}})
	sig := base64.StdEncoding.EncodeToString(make([]byte, 64))

	for name, in := range map[string][]byte{"with signature line": []byte(sig + "\n" + string(body)), "JSON only": body} {
		t.Run(name, func(t *testing.T) {
			doc, err := ParseDocument(in)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(doc.JSON, body) {
				t.Fatal("JSON part differs from the signed bytes")
			}
			if (name == "JSON only") != (doc.Signature == nil) {
				t.Fatalf("signature = %x", doc.Signature)
			}
			dscs, errs := doc.DSCs()
			if len(dscs) != 1 || dscs[0].Country != "DE" || len(errs) != 3 {
				t.Fatalf("%d DSCs, errors %v; want the one good entry and three errors", len(dscs), errs)
			}
		})
	}
	for name, in := range map[string]string{
		"no JSON":             "abc",
		"bad signature line":  "%%%\n{}",
		"certificates object": `{"certificates": {}}`,
	} {
		if _, err := ParseDocument([]byte(in)); err == nil {
			t.Errorf("%s: ParseDocument accepted %q", name, in)
		}
	}
}
