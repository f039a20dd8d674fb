package didtrust

import (
	"crypto/ecdsa"
	"errors"
	"testing"
)

// FuzzOpen: any bytes give a verified list or one of the package's
// errors, never a panic (json-gold panics on some inputs).
func FuzzOpen(f *testing.F) {
	s, entries := fixture(f)
	raw, err := Build(listID, "did:web:trust.example", entries, s, now)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(raw)
	f.Add([]byte(`{"@context":["https://www.w3.org/ns/did/v1"],"id":"did:web:x","verificationMethod":["did:web:y",{"id":"did:web:x#1","publicKeyJwk":{"x5c":["AA=="]}}],"proof":{"type":"JsonWebSignature2020","jws":"a..b"}}`))
	key := s.Key.Public().(*ecdsa.PublicKey)
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := Open(data, key, "")
		if err != nil && !errors.Is(err, ErrDocument) && !errors.Is(err, ErrProof) && !errors.Is(err, ErrContext) {
			t.Fatalf("error outside the package's: %v", err)
		}
		if err == nil && got == nil {
			t.Fatal("no list and no error")
		}
	})
}
