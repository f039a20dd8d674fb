package verifier_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"math/big"
	"path/filepath"
	"testing"

	"github.com/greenpass-dcc/greenpass/hcert"
	"github.com/greenpass-dcc/greenpass/internal/tdcheck"
	"github.com/greenpass-dcc/greenpass/internal/testdata"
	"github.com/greenpass-dcc/greenpass/verifier"
)

// benchVector is an ES256 vector from the EU set that passes every stage.
const benchVector = "AT/2DCode/raw/1.json"

// BenchmarkVerifyHC1 is the whole verification of an HC1 string: prefix,
// Base45, zlib, COSE, signature, CBOR, schema, key usage and expiry.
func BenchmarkVerifyHC1(b *testing.B) {
	v, vec := benchSetup(b)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if r := v.VerifyText(ctx, vec.Prefix); !r.Valid {
			b.Fatalf("not valid: %v", r.Reasons)
		}
	}
}

// BenchmarkECDSAVerify is the floor: one bare ecdsa.Verify of the same
// signature with the same key over a precomputed digest.
func BenchmarkECDSAVerify(b *testing.B) {
	pub, digest, sig := floorSetup(b)
	r := new(big.Int).SetBytes(sig[:32])
	s := new(big.Int).SetBytes(sig[32:])
	b.ReportAllocs()
	for b.Loop() {
		if !ecdsa.Verify(pub, digest, r, s) {
			b.Fatal("signature invalid")
		}
	}
}

// BenchmarkECDSAVerifyASN1 is the lowest floor crypto/ecdsa offers: the
// same signature, DER-encoded once outside the loop, checked with
// ecdsa.VerifyASN1 (ecdsa.Verify converts its big.Ints to that DER on every
// call, and the verifier hands ecdsa.VerifyASN1 the DER it builds).
func BenchmarkECDSAVerifyASN1(b *testing.B) {
	pub, digest, sig := floorSetup(b)
	asn1Sig, err := asn1.Marshal(struct{ R, S *big.Int }{
		new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:]),
	})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if !ecdsa.VerifyASN1(pub, digest, asn1Sig) {
			b.Fatal("signature invalid")
		}
	}
}

// floorSetup returns the bench vector's signer key, the digest of its
// Sig_structure and its raw r‖s signature.
func floorSetup(b *testing.B) (*ecdsa.PublicKey, []byte, []byte) {
	_, vec := benchSetup(b)
	u, err := hcert.Decode(vec.Prefix)
	if err != nil {
		b.Fatal(err)
	}
	der, _ := base64.StdEncoding.DecodeString(vec.TestCtx.Certificate)
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		b.Fatal(err)
	}
	digest := sha256.Sum256(u.Sign1.SigStructure())
	return cert.PublicKey.(*ecdsa.PublicKey), digest[:], u.Sign1.Signature
}

func benchSetup(b *testing.B) (*verifier.Verifier, *tdcheck.Vector) {
	b.Helper()
	vec, err := tdcheck.Load(filepath.Join(testdata.Dir(b, "dgc"), benchVector))
	if err != nil {
		b.Fatal(err)
	}
	v, err := tdcheck.Verifier(vec)
	if err != nil {
		b.Fatal(err)
	}
	if r := v.VerifyText(context.Background(), vec.Prefix); !r.Valid {
		b.Fatalf("bench vector not valid: %v", r.Reasons)
	}
	return v, vec
}
