package hcert

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"testing"
)

// Decode stops at COSE: the claims come out through Verify with the right
// key only, or through Unchecked by name.
func TestDecodeUnverified(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	text := EncodeText(mustSign(t, key))
	u, err := Decode(text)
	if err != nil {
		t.Fatal(err)
	}
	good, _ := NewKey(key.Public())
	bad, _ := NewKey(other.Public())
	if _, _, err := u.Verify(bad); !errors.Is(err, ErrSignature) {
		t.Fatalf("Verify with another key: %v, want ErrSignature", err)
	}
	claims, cert, err := u.Verify(good)
	if err != nil || claims.Issuer != "DE" || cert.Name.Family != "Muster" {
		t.Fatalf("Verify = %+v, %+v, %v", claims, cert, err)
	}
	if _, cert, err := u.Unchecked(); err != nil || cert.UVCI() != testCertificate().UVCI() {
		t.Fatalf("Unchecked = %+v, %v", cert, err)
	}
	if !IsDCCText(text) {
		t.Fatal("IsDCCText(a DCC) = false")
	}
	for _, tc := range []struct {
		text string
		err  error
	}{
		{"https://example.org/menu", ErrNoPrefix},
		{"HC2:ABC", ErrUnsupportedPrefix},
		{"HC1:%%%", ErrBase45},
		{"HC1:" + EncodeBase45([]byte("not zlib")), ErrNotCompressed},
		{"HC1:" + EncodeBase45(Compress([]byte{0x01})), ErrCOSE},
	} {
		if _, err := Decode(tc.text); !errors.Is(err, tc.err) {
			t.Errorf("Decode(%.20q) = %v, want %v", tc.text, err, tc.err)
		}
		if IsDCCText(tc.text) {
			t.Errorf("IsDCCText(%.20q) = true", tc.text)
		}
	}
}
