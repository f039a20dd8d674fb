package issuer

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"testing"
	"time"

	"github.com/greenpass-dcc/greenpass/hcert"
	"github.com/greenpass-dcc/greenpass/trustlist"
	"github.com/greenpass-dcc/greenpass/verifier"
)

// A PS256 test signer issues test certificates that verify; the CWA lab
// hash signing, ES256 by contract, refuses it with ErrNoSigner instead of
// signing under the wrong algorithm.
func TestPS256Signer(t *testing.T) {
	f := newFixture(t)
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "PS256 DSC", Country: []string{"DE"}},
		NotBefore: testNow.AddDate(0, -1, 0), NotAfter: testNow.AddDate(2, 0, 0), KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	sum := sha256.Sum256(der)
	f.svc.cfg.Signers[hcert.TypeTest] = DocumentSigner{Signer: key, Certificate: cert, KID: sum[:8]}

	got, err := f.svc.Issue(context.Background(), pharmacy, testRequest(), "")
	if err != nil {
		t.Fatal(err)
	}
	dsc, err := trustlist.NewDSC(der, "DE")
	if err != nil {
		t.Fatal(err)
	}
	res := verifier.New(trustlist.NewList(dsc), verifier.WithClock(func() time.Time { return testNow })).VerifyText(context.Background(), got.HC1)
	if !res.Valid || res.Alg != "PS256" {
		t.Fatalf("PS256 test certificate: valid %v alg %s reasons %v", res.Valid, res.Alg, res.Reasons)
	}

	digest := hcert.SigStructureDigest(hcert.ProtectedES256, []byte("payload"))
	if _, err := f.svc.SignTestHash(context.Background(), "lab-1", "DE", "URN:UVCI:01:DE:LAB/1#X", digest); !errors.Is(err, ErrNoSigner) {
		t.Fatalf("hash signing with a PS256 signer: %v, want ErrNoSigner", err)
	}
}
