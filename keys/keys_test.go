package keys

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/greenpass-dcc/greenpass/hcert"
	"github.com/greenpass-dcc/greenpass/trustlist"
	"github.com/greenpass-dcc/greenpass/verifier"
)

func keeperURL() string {
	k := make([]byte, 32)
	rand.Read(k)
	return "base64key://" + base64.URLEncoding.EncodeToString(k)
}

func TestInitAndLoad(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "keys")
	if Exists(dir) {
		t.Fatal("empty dir reported as holding keys")
	}
	set, err := Init(ctx, dir, InitOptions{Country: "AT"})
	if err != nil {
		t.Fatal(err)
	}
	if !Exists(dir) {
		t.Fatal("Exists false after Init")
	}
	if _, err := Init(ctx, dir, InitOptions{}); err == nil {
		t.Fatal("Init overwrote an existing key set")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 15 {
		t.Fatalf("%d files, want 15 (CSCA, 3 DSCs, upload certificate, trust anchor, token key, trust-list key and its public part)", len(entries))
	}
	for _, e := range entries {
		info, _ := e.Info()
		if info.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v, want 0600", e.Name(), info.Mode().Perm())
		}
	}
	loaded, err := Load(ctx, dir, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, typ := range Types {
		a, b := set.DSCs[typ], loaded.DSCs[typ]
		if !bytes.Equal(a.KID, b.KID) || !b.Certificate.Equal(a.Certificate) {
			t.Fatalf("%s: loaded DSC differs", typ)
		}
		if err := b.Certificate.CheckSignatureFrom(loaded.CSCA); err != nil {
			t.Fatalf("%s: DSC not signed by the CSCA: %v", typ, err)
		}
		if b.Certificate.Subject.Country[0] != "AT" {
			t.Fatalf("%s: country %v", typ, b.Certificate.Subject.Country)
		}
	}
	if loaded.Upload == nil || loaded.Anchor == nil || !loaded.Upload.Certificate.Equal(set.Upload.Certificate) ||
		!loaded.Anchor.Certificate.IsCA || loaded.Upload.Certificate.Subject.Country[0] != "AT" {
		t.Fatalf("upload certificate and trust anchor: %+v %+v", loaded.Upload, loaded.Anchor)
	}
	pubPEM, err := os.ReadFile(filepath.Join(dir, TrustListPublicKey))
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(pubPEM)
	pub, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil || !loaded.TrustList.Public().(*ecdsa.PublicKey).Equal(pub) {
		t.Fatalf("%s is not the trust-list key's public part: %v", TrustListPublicKey, err)
	}
	if _, err := Load(ctx, t.TempDir(), ""); err == nil || !strings.Contains(err.Error(), "no keys") {
		t.Fatalf("Load of an empty dir: %v", err)
	}
}

// The development DSCs sign certificates our verifier accepts, each only
// for its own type.
func TestDSCsSignVerifiableCertificates(t *testing.T) {
	set, err := Init(context.Background(), t.TempDir(), InitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var dscs []*trustlist.DSC
	for _, d := range set.DSCs {
		td, err := trustlist.NewDSC(d.Certificate.Raw, "")
		if err != nil {
			t.Fatal(err)
		}
		dscs = append(dscs, td)
	}
	v := verifier.New(trustlist.NewList(dscs...))
	now := time.Now()
	claims := hcert.Claims{Issuer: "DE", IssuedAt: now, ExpiresAt: now.AddDate(0, 6, 0)}
	cert := &hcert.Certificate{
		Version: "1.3.0", Name: hcert.Name{FamilyStandard: "MUSTER", GivenStandard: "ERIKA"}, DateOfBirth: "1964-08-12",
		Vaccinations: []hcert.Vaccination{{Target: "840539006", Vaccine: "1119349007", Product: "EU/1/20/1528",
			Manufacturer: "ORG-100030215", DoseNumber: 2, TotalDoses: 2, Date: "2021-05-29", Country: "DE", Issuer: "RKI", ID: "URN:UVCI:01:DE:X#1"}},
	}
	for _, typ := range Types {
		d := set.DSCs[typ]
		msg, err := hcert.Sign(rand.Reader, d.Signer, d.KID, claims, cert)
		if err != nil {
			t.Fatal(err)
		}
		r := v.VerifyText(context.Background(), hcert.EncodeText(msg))
		wantValid := typ == hcert.TypeVaccination
		if r.Valid != wantValid || r.Stages.Get(verifier.StageSignature) != verifier.Pass {
			t.Fatalf("vaccination signed by the %s DSC: valid=%v, reasons %v", typ, r.Valid, r.Reasons)
		}
		if !wantValid && r.Stages.Get(verifier.StageKeyUsage) != verifier.Fail {
			t.Fatalf("the %s DSC signed a vaccination and keyUsage did not fail", typ)
		}
	}
}

func TestEncryptedAtRest(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	url := keeperURL()
	if _, err := Init(ctx, dir, InitOptions{KeeperURL: url}); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{cscaKey, dscKeyFile(hcert.TypeTest), issuerTokenKey} {
		data, _ := os.ReadFile(filepath.Join(dir, name))
		if !bytes.Contains(data, []byte(blockEncryptedKey)) || bytes.Contains(data, []byte("BEGIN PRIVATE KEY")) {
			t.Fatalf("%s is not encrypted:\n%s", name, data)
		}
	}
	if _, err := Load(ctx, dir, ""); err == nil || !strings.Contains(err.Error(), "encrypted") {
		t.Fatalf("Load without the keeper: %v", err)
	}
	if _, err := Load(ctx, dir, keeperURL()); err == nil {
		t.Fatal("Load with another keeper succeeded")
	}
	set, err := Load(ctx, dir, url)
	if err != nil {
		t.Fatal(err)
	}
	if set.IssuerToken == nil || len(set.DSCs) != 3 {
		t.Fatalf("loaded %+v", set)
	}
}

func TestLoadRejectsMismatchedKey(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	Init(ctx, dir, InitOptions{})
	// Swap the test DSC's key for the vaccination DSC's.
	v, _ := os.ReadFile(filepath.Join(dir, dscKeyFile(hcert.TypeVaccination)))
	os.WriteFile(filepath.Join(dir, dscKeyFile(hcert.TypeTest)), v, 0o600)
	if _, err := Load(ctx, dir, ""); err == nil || !strings.Contains(err.Error(), "does not belong") {
		t.Fatalf("Load with a swapped key: %v", err)
	}
}

// A key set from before the upload certificate and the trust anchor gets
// them from Complete, once.
func TestCompleteAddsTheNetworkParties(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	if _, err := Init(ctx, dir, InitOptions{Country: "AT"}); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{uploadCert, uploadKey, AnchorCert, anchorKey} {
		if err := os.Remove(filepath.Join(dir, f)); err != nil {
			t.Fatal(err)
		}
	}
	old, err := Load(ctx, dir, "")
	if err != nil || old.Upload != nil || old.Anchor != nil {
		t.Fatalf("old key set: %+v, %v", old, err)
	}
	if err := old.Complete(ctx, dir, ""); err != nil || old.Upload == nil || old.Anchor == nil || old.Upload.Certificate.Subject.Country[0] != "AT" {
		t.Fatalf("Complete: %+v, %v", old, err)
	}
	again, err := Load(ctx, dir, "")
	if err != nil || !again.Anchor.Certificate.Equal(old.Anchor.Certificate) {
		t.Fatalf("the completed set does not load as it was made: %v", err)
	}
	if err := again.Complete(ctx, dir, ""); err != nil || !again.Anchor.Certificate.Equal(old.Anchor.Certificate) {
		t.Fatalf("a second Complete made new parties: %v", err)
	}
}
