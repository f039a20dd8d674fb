package verifier

import (
	"context"
	"crypto/ecdsa"
	"crypto/sha256"
	"encoding/json"
	"math/big"
	"os"
	"path/filepath"
	"testing"

	"github.com/greenpass-dcc/greenpass/hcert"
	"github.com/greenpass-dcc/greenpass/internal/testdata"
)

// benchVector is an ES256 vector from the EU set that passes every stage.
const benchVector = "AT/2DCode/raw/1.json"

// BenchmarkVerifyHC1 is the whole verification of an HC1 string: prefix,
// Base45, zlib, COSE, signature, CBOR, schema, key usage and expiry.
func BenchmarkVerifyHC1(b *testing.B) {
	v, text := benchSetup(b)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if r := v.VerifyText(ctx, text); !r.Valid {
			b.Fatalf("not valid: %v", r.Reasons)
		}
	}
}

// BenchmarkECDSAVerify is the floor: one bare ecdsa.Verify of the same
// signature with the same key over a precomputed digest.
func BenchmarkECDSAVerify(b *testing.B) {
	v, text := benchSetup(b)
	msg := parseText(b, text)
	dsc := v.trust.ByKID(msg.KID)[0]
	pub := dsc.Certificate.PublicKey.(*ecdsa.PublicKey)
	digest := sha256.Sum256(msg.SigStructure())
	r := new(big.Int).SetBytes(msg.Signature[:32])
	s := new(big.Int).SetBytes(msg.Signature[32:])
	b.ReportAllocs()
	for b.Loop() {
		if !ecdsa.Verify(pub, digest[:], r, s) {
			b.Fatal("signature invalid")
		}
	}
}

func benchSetup(b *testing.B) (*Verifier, string) {
	b.Helper()
	raw, err := os.ReadFile(filepath.Join(testdata.Dir(b, "dgc"), benchVector))
	if err != nil {
		b.Fatal(err)
	}
	var vec vector
	if err := json.Unmarshal(raw, &vec); err != nil {
		b.Fatal(err)
	}
	v := vectorVerifier(b, &vec)
	if r := v.VerifyText(context.Background(), vec.Prefix); !r.Valid {
		b.Fatalf("bench vector not valid: %v", r.Reasons)
	}
	return v, vec.Prefix
}

func parseText(b testing.TB, text string) *hcert.Sign1 {
	b45, _ := hcert.TrimPrefix(text)
	z, _ := hcert.DecodeBase45(b45)
	c, _ := hcert.Decompress(z, 0)
	msg, err := hcert.ParseSign1(c)
	if err != nil {
		b.Fatal(err)
	}
	return msg
}
