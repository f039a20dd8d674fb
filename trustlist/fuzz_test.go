package trustlist

import (
	"bytes"
	"encoding/json"
	"testing"
)

func FuzzParseDocument(f *testing.F) {
	f.Add([]byte(`{"certificates":[]}`))
	f.Add([]byte("AAAA\n" + `{"certificates":[{"kid":"AAAAAAAAAAA=","rawData":"MAA=","country":"DE"}]}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		doc, err := ParseDocument(in)
		if err != nil {
			return
		}
		if !json.Valid(doc.JSON) || !bytes.Contains(in, doc.JSON) {
			t.Fatal("JSON part is not the input's JSON")
		}
		dscs, errs := doc.DSCs()
		if len(dscs)+len(errs) != len(doc.Entries) {
			t.Fatalf("%d DSCs + %d errors for %d entries", len(dscs), len(errs), len(doc.Entries))
		}
	})
}

func FuzzParseCertificate(f *testing.F) {
	f.Add([]byte("-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n"))
	f.Add([]byte("MAA="))
	f.Add([]byte{0x30, 0x00})
	f.Fuzz(func(t *testing.T, in []byte) {
		if der, err := ParseCertificate(in); err == nil {
			_, _ = NewDSC(der, "") // must not panic on any DER
		}
	})
}

func FuzzDecodeSnapshot(f *testing.F) {
	f.Add([]byte(`{"format":1,"issuedAt":"2026-11-30T03:00:00Z","entries":[{"id":1,"certificateType":"DSC","kid":"AAAAAAAAAAA=","rawData":"MAA="}]}`))
	f.Add([]byte(`{"format":2}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		snap, err := DecodeSnapshot(in, sha256Hex(in))
		if err != nil {
			return
		}
		// Whatever decodes renders without panicking.
		NewView(snap, sha256Hex(in), fuzzSigner)
	})
}

func FuzzParsePublicKey(f *testing.F) {
	pemKey, _ := PublicKeyPEM(fuzzSigner.Public())
	f.Add(pemKey)
	f.Add([]byte("MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE"))
	f.Fuzz(func(t *testing.T, in []byte) {
		ParsePublicKey(in)
	})
}

func FuzzParseRevocationDoc(f *testing.F) {
	f.Add([]byte(`{"kid":"AAAAAAAAAAA=","issuedAt":"2026-11-30T00:00:00Z","hashes":{"UCI":["AAAAAAAAAAAAAAAAAAAAAA=="]}}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		entries, err := ParseRevocationDoc(in)
		if err != nil {
			return
		}
		for _, e := range entries {
			if e.Type != HashSignature && e.Type != HashUCI && e.Type != HashCountryUCI {
				t.Fatalf("unknown hash type %q accepted", e.Type)
			}
		}
	})
}
