package wallet

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"errors"
	"fmt"
	"math/big"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/greenpass-dcc/greenpass/hcert"
	"github.com/greenpass-dcc/greenpass/internal/ferrettest"
	"github.com/greenpass-dcc/greenpass/store"
	"github.com/greenpass-dcc/greenpass/store/bolt"
	"github.com/greenpass-dcc/greenpass/store/mongo"
	"github.com/greenpass-dcc/greenpass/trustlist"
	"github.com/greenpass-dcc/greenpass/verifier"
)

// clock is a settable clock shared by a test, its service and its engine.
type clock struct{ ns atomic.Int64 }

func newClock() *clock {
	c := &clock{}
	c.ns.Store(time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC).UnixNano())
	return c
}
func (c *clock) Now() time.Time          { return time.Unix(0, c.ns.Load()).UTC() }
func (c *clock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

// engines runs f on the embedded engine and on MongoDB (in-process
// FerretDB; a real one with GREENPASS_TEST_MONGODB_URI), each on its own
// clock.
func engines(t *testing.T, f func(t *testing.T, e store.Engine, c *clock)) {
	t.Run("embedded", func(t *testing.T) {
		c := newClock()
		e, err := bolt.Open(t.TempDir(), c.Now)
		if err != nil {
			t.Fatal(err)
		}
		defer e.Close()
		f(t, e, c)
	})
	t.Run("mongodb", func(t *testing.T) {
		if testing.Short() {
			t.Skip("FerretDB: skipped with -short")
		}
		uri := os.Getenv("GREENPASS_TEST_MONGODB_URI")
		if uri == "" {
			uri = ferrettest.Start(t)
		}
		c := newClock()
		e, err := mongo.Open(context.Background(), uri, fmt.Sprintf("wallet_test_%d", time.Now().UnixNano()), c.Now)
		if err != nil {
			t.Fatal(err)
		}
		defer e.Close()
		f(t, e, c)
	})
}

// signer is a test DSC: it signs whole certificates (Deliver) and lab
// hashes (HashSigner).
type signer struct {
	key  *ecdsa.PrivateKey
	cert *x509.Certificate
	kid  []byte
	// signed records the DCCIs it signed for.
	signed []string
}

func newSigner(t *testing.T) *signer {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "DSC", Country: []string{"DE"}},
		NotBefore: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), NotAfter: time.Date(2028, 1, 1, 0, 0, 0, 0, time.UTC)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &signer{key: key, cert: cert, kid: trustlist.KID(der)}
}

func (s *signer) SignTestHash(_ context.Context, partnerID, country, dcci string, digest []byte) ([]byte, error) {
	sig, err := hcert.SignDigest(rand.Reader, s.key, digest)
	if err != nil {
		return nil, err
	}
	s.signed = append(s.signed, dcci)
	return hcert.PartialSign1(s.kid, []byte{}, sig)
}

// testCWT is the CWT of a test certificate with the given UVCI.
func testCWT(t *testing.T, uvci string, now time.Time) []byte {
	t.Helper()
	cert := &hcert.Certificate{Version: "1.3.0", Name: hcert.Name{Family: "Muster", FamilyStandard: "MUSTER"}, DateOfBirth: "1990-01-01",
		Tests: []hcert.Test{{Target: "840539006", TestType: "LP217198-3", Device: "1232", SampledAt: now.Add(-time.Hour).Format(time.RFC3339),
			Result: "260415000", Centre: "Testzentrum", Country: "DE", Issuer: "Lab", ID: uvci}}}
	cwt, err := hcert.EncodeCWT(hcert.Claims{Issuer: "DE", IssuedAt: now, ExpiresAt: now.Add(48 * time.Hour)}, cert)
	if err != nil {
		t.Fatal(err)
	}
	return cwt
}

// verify checks an HC1 text with the test DSC at now.
func (s *signer) verify(t *testing.T, hc1 string, now time.Time) *verifier.Result {
	t.Helper()
	dsc, err := trustlist.NewDSC(s.cert.Raw, "DE")
	if err != nil {
		t.Fatal(err)
	}
	return verifier.New(trustlist.NewList(dsc), verifier.WithClock(func() time.Time { return now })).VerifyText(context.Background(), hc1)
}

var (
	deviceKey     *rsa.PrivateKey
	deviceKeyB64  string
	otherKeyB64   string
	testIDCounter atomic.Int64
)

func init() {
	deviceKey, _ = rsa.GenerateKey(rand.Reader, 3072)
	der, _ := x509.MarshalPKIXPublicKey(deviceKey.Public())
	deviceKeyB64 = base64.StdEncoding.EncodeToString(der)
	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	der, _ = x509.MarshalPKIXPublicKey(other.Public())
	otherKeyB64 = base64.StdEncoding.EncodeToString(der)
}

// newTestGUID is a fresh GUID as the test receipt carries it; its SHA-256
// hex is the test id.
func newTestGUID() string {
	return fmt.Sprintf("guid-%d-%d", time.Now().UnixNano(), testIDCounter.Add(1))
}

func newService(e store.Engine, c *clock, s *signer) *Service {
	return NewService(Config{Now: c.Now, Signer: s, NewDCCI: func(p Partner, now time.Time) (string, error) {
		return fmt.Sprintf("URN:UVCI:01:%s:%s/%d", p.Country, p.ID, testIDCounter.Add(1)), nil
	}}, e)
}

func TestDirectTransferLifecycle(t *testing.T) {
	engines(t, func(t *testing.T, e store.Engine, c *clock) {
		ctx := context.Background()
		sig := newSigner(t)
		svc := newService(e, c, sig)
		guid := newTestGUID()
		testID := hashHex(guid)
		pharmacy := Partner{ID: "apotheke-1", Country: "DE"}

		token, created, err := svc.RegistrationToken(ctx, testID)
		if err != nil || !created || !tokenPattern().MatchString(token) {
			t.Fatalf("token %q, created %v, %v", token, created, err)
		}
		// The token is given once: whoever else knows the test id gets none.
		if again, created, err := svc.RegistrationToken(ctx, testID); !errors.Is(err, ErrAlreadyRegistered) || created || again != "" {
			t.Fatalf("same key again: %q, created %v, %v; want ErrAlreadyRegistered and no token", again, created, err)
		}
		if _, _, err := svc.Pickup(ctx, token, nil); !errors.Is(err, ErrNoKey) {
			t.Fatalf("pickup before the key: %v", err)
		}
		// Nobody's lab announced the test yet: no issuer may deliver.
		if err := svc.Check(ctx, pharmacy.ID, testID); !errors.Is(err, ErrNotYours) {
			t.Fatalf("Check before the announcement: %v", err)
		}
		if err := svc.AnnounceResults(ctx, pharmacy, "LAB1", []TestResult{{ID: guid, Result: ResultQuickNegative}}); err != nil {
			t.Fatal(err)
		}
		if err := svc.Check(ctx, pharmacy.ID, testID); !errors.Is(err, ErrNoKey) {
			t.Fatalf("Check before the key: %v", err)
		}
		if created, err := svc.RegisterKey(ctx, token, deviceKeyB64); err != nil || !created {
			t.Fatalf("RegisterKey: %v, %v", created, err)
		}
		if created, err := svc.RegisterKey(ctx, token, deviceKeyB64); err != nil || created {
			t.Fatalf("same key again: %v, %v; want accepted, not created", created, err)
		}
		if _, err := svc.RegisterKey(ctx, token, otherKeyB64); !errors.Is(err, ErrKeyConflict) {
			t.Fatalf("other key: %v", err)
		}
		if _, _, err := svc.Pickup(ctx, token, nil); !errors.Is(err, ErrPending) {
			t.Fatalf("pickup before delivery: %v", err)
		}

		now := c.Now()
		cose, err := hcert.SignCWT(rand.Reader, sig.key, sig.kid, testCWT(t, "URN:UVCI:01:DE:X/1", now))
		if err != nil {
			t.Fatal(err)
		}
		if err := svc.Check(ctx, pharmacy.ID, testID); err != nil {
			t.Fatalf("Check: %v", err)
		}
		// Another issuer cannot push into this app, and cannot tell this
		// test from one that does not exist.
		for _, id := range []string{testID, hashHex(newTestGUID())} {
			if err := svc.Check(ctx, "stranger", id); !errors.Is(err, ErrNotYours) {
				t.Fatalf("Check by a stranger: %v", err)
			}
			if err := svc.Deliver(ctx, "stranger", id, "URN:UVCI:01:DE:S/1", cose); !errors.Is(err, ErrNotYours) {
				t.Fatalf("Deliver by a stranger: %v", err)
			}
		}
		if err := svc.Deliver(ctx, pharmacy.ID, testID, "URN:UVCI:01:DE:X/1", cose); err != nil {
			t.Fatalf("Deliver: %v", err)
		}
		if err := svc.Deliver(ctx, pharmacy.ID, testID, "URN:UVCI:01:DE:X/1", cose); err != nil {
			t.Fatalf("Deliver again (a retry): %v", err)
		}
		if err := svc.Deliver(ctx, pharmacy.ID, testID, "URN:UVCI:01:DE:X/2", cose); !errors.Is(err, ErrAlreadyStored) {
			t.Fatalf("a second certificate: %v", err)
		}
		if err := svc.Check(ctx, pharmacy.ID, testID); !errors.Is(err, ErrAlreadyStored) {
			t.Fatalf("Check after delivery: %v", err)
		}
		dek, dcc, err := svc.Pickup(ctx, token, nil)
		if err != nil {
			t.Fatal(err)
		}
		// What is stored is ciphertext, not the certificate.
		if msg, _ := hcert.ParseSign1(dcc); msg == nil || string(msg.Payload) == string(testCWT(t, "URN:UVCI:01:DE:X/1", now)) {
			t.Fatal("the stored payload is not encrypted")
		}
		hc1, err := OpenCertificate(deviceKey, dek, dcc)
		if err != nil {
			t.Fatal(err)
		}
		if r := sig.verify(t, hc1, now); !r.Valid {
			t.Fatalf("picked-up certificate invalid: %+v", r.Reasons)
		}
		if _, _, err := svc.Pickup(ctx, "00000000-0000-4000-8000-000000000000", nil); !errors.Is(err, ErrUnknownToken) {
			t.Fatalf("unknown token: %v", err)
		}
		if _, _, err := svc.Pickup(ctx, "not-a-token", nil); !errors.Is(err, ErrBadRequest) {
			t.Fatalf("malformed token: %v", err)
		}
	})
}

// Retention on both engines: data is gone after pickup and grace, or after
// DataTTL without pickup; the registration and token after TokenTTL; the
// sweeper deletes what expired.
func TestRetention(t *testing.T) {
	engines(t, func(t *testing.T, e store.Engine, c *clock) {
		ctx := context.Background()
		sig := newSigner(t)
		svc := newService(e, c, sig)
		deliver := func() (string, string) {
			t.Helper()
			guid := newTestGUID()
			testID := hashHex(guid)
			token, _, err := svc.RegistrationToken(ctx, testID)
			if err != nil {
				t.Fatal(err)
			}
			if err := svc.AnnounceResults(ctx, Partner{ID: "apotheke-1", Country: "DE"}, "LAB1", []TestResult{{ID: guid, Result: ResultQuickNegative}}); err != nil {
				t.Fatal(err)
			}
			if _, err := svc.RegisterKey(ctx, token, deviceKeyB64); err != nil {
				t.Fatal(err)
			}
			cose, _ := hcert.SignCWT(rand.Reader, sig.key, sig.kid, testCWT(t, "U", c.Now()))
			if err := svc.Deliver(ctx, "apotheke-1", testID, "U", cose); err != nil {
				t.Fatal(err)
			}
			return testID, token
		}
		picked, pickedToken := deliver()
		_, unpicked := deliver()
		if _, _, err := svc.Pickup(ctx, pickedToken, nil); err != nil {
			t.Fatal(err)
		}
		c.Advance(30 * time.Minute)
		if _, _, err := svc.Pickup(ctx, pickedToken, nil); err != nil {
			t.Fatalf("within the grace period: %v", err)
		}
		c.Advance(31 * time.Minute)
		if _, _, err := svc.Pickup(ctx, pickedToken, nil); !errors.Is(err, ErrGone) {
			t.Fatalf("after pickup and grace: %v, want ErrGone", err)
		}
		if _, _, err := svc.Pickup(ctx, unpicked, nil); err != nil {
			t.Fatalf("unpicked, day 0: %v", err)
		}
		c.Advance(4 * 24 * time.Hour)
		if _, _, err := svc.Pickup(ctx, unpicked, nil); !errors.Is(err, ErrGone) {
			t.Fatalf("after 4 days: %v, want ErrGone", err)
		}
		if n, err := e.Sweep(ctx, CollEnvelopes); err != nil || n != 2 {
			t.Fatalf("sweep envelopes: %d, %v; want 2", n, err)
		}
		if _, err := e.Get(ctx, CollEnvelopes, picked); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("envelope still stored: %v", err)
		}
		c.Advance(17 * 24 * time.Hour) // 21 days after registration
		if _, _, err := svc.Pickup(ctx, pickedToken, nil); !errors.Is(err, ErrUnknownToken) {
			t.Fatalf("after 21 days: %v, want ErrUnknownToken", err)
		}
		for _, coll := range []string{CollTransfers, CollTransferTokens} {
			if n, err := e.Sweep(ctx, coll); err != nil || n != 2 {
				t.Fatalf("sweep %s: %d, %v; want 2", coll, n, err)
			}
		}
	})
}

func TestLabFlow(t *testing.T) {
	engines(t, func(t *testing.T, e store.Engine, c *clock) {
		ctx := context.Background()
		sig := newSigner(t)
		svc := newService(e, c, sig)
		lab := Partner{ID: "testzentrum-1", Country: "DE"}
		guid := newTestGUID()
		testID := hashHex(guid)

		// The lab announces the negative result; the app registers after.
		if err := svc.AnnounceResults(ctx, lab, "LAB1", []TestResult{{ID: guid, Result: ResultQuickNegative}}); err != nil {
			t.Fatal(err)
		}
		if keys, err := svc.SearchLab(ctx, lab, "LAB1"); err != nil || len(keys) != 0 {
			t.Fatalf("search before the app: %v, %v", keys, err)
		}
		token, _, err := svc.RegistrationToken(ctx, testID)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := svc.RegisterKey(ctx, token, deviceKeyB64); err != nil {
			t.Fatal(err)
		}
		keys, err := svc.SearchLab(ctx, lab, "LAB1")
		if err != nil || len(keys) != 1 || keys[0].TestID != testID || keys[0].PublicKey != deviceKeyB64 || keys[0].DCCI == "" {
			t.Fatalf("search: %+v, %v", keys, err)
		}
		again, _ := svc.SearchLab(ctx, lab, "LAB1")
		if len(again) != 1 || again[0].DCCI != keys[0].DCCI {
			t.Fatal("the DCCI changed between searches")
		}
		if _, err := svc.SearchLab(ctx, Partner{ID: "other", Country: "DE"}, "LAB1"); !errors.Is(err, ErrLabTaken) {
			t.Fatalf("another partner's search: %v", err)
		}

		// The lab builds the certificate with the DCCI, encrypts it for the
		// app's key and uploads it.
		device, _ := ParseDeviceKey(keys[0].PublicKey)
		now := c.Now()
		up, err := SealForLab(rand.Reader, device, testCWT(t, keys[0].DCCI, now))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := svc.UploadFromLab(ctx, Partner{ID: "other", Country: "DE"}, testID, up); !errors.Is(err, ErrLabTaken) {
			t.Fatalf("upload by another partner: %v", err)
		}
		partial, err := svc.UploadFromLab(ctx, lab, testID, up)
		if err != nil {
			t.Fatal(err)
		}
		if len(sig.signed) != 1 || sig.signed[0] != keys[0].DCCI {
			t.Fatalf("signed for %v", sig.signed)
		}
		// The lab completes its own copy from the partial answer.
		rawPartial, _ := base64.StdEncoding.DecodeString(partial)
		labCopy, err := hcert.ReplacePayload(rawPartial, testCWT(t, keys[0].DCCI, now))
		if err != nil {
			t.Fatal(err)
		}
		if r := sig.verify(t, hcert.EncodeText(labCopy), now); !r.Valid {
			t.Fatalf("the lab's copy is invalid: %+v", r.Reasons)
		}
		if _, err := svc.UploadFromLab(ctx, lab, testID, up); !errors.Is(err, ErrAlreadyStored) {
			t.Fatalf("second upload: %v", err)
		}
		if keys, _ := svc.SearchLab(ctx, lab, "LAB1"); len(keys) != 0 {
			t.Fatalf("served test still listed: %+v", keys)
		}
		dek, dcc, err := svc.Pickup(ctx, token, nil)
		if err != nil {
			t.Fatal(err)
		}
		hc1, err := OpenCertificate(deviceKey, dek, dcc)
		if err != nil {
			t.Fatal(err)
		}
		if r := sig.verify(t, hc1, now); !r.Valid {
			t.Fatalf("the app's certificate is invalid: %+v", r.Reasons)
		}

		// A positive test gets no certificate: the key is refused.
		pos := newTestGUID()
		svc.AnnounceResults(ctx, lab, "LAB1", []TestResult{{ID: pos, Result: 7}})
		tok, _, _ := svc.RegistrationToken(ctx, hashHex(pos))
		if _, err := svc.RegisterKey(ctx, tok, deviceKeyB64); !errors.Is(err, ErrNotAllowed) {
			t.Fatalf("key for a positive test: %v", err)
		}
		// Key first, result after: the test appears in the search then.
		late := newTestGUID()
		tok, _, _ = svc.RegistrationToken(ctx, hashHex(late))
		if _, err := svc.RegisterKey(ctx, tok, deviceKeyB64); err != nil {
			t.Fatal(err)
		}
		if err := svc.AnnounceResults(ctx, lab, "LAB1", []TestResult{{ID: late, Result: ResultQuickNegative}}); err != nil {
			t.Fatal(err)
		}
		if keys, _ := svc.SearchLab(ctx, lab, "LAB1"); len(keys) != 1 || keys[0].TestID != hashHex(late) {
			t.Fatalf("key-first test not listed: %+v", keys)
		}
		// Malformed uploads.
		for _, bad := range []LabUpload{
			{DCCHash: "zz", EncryptedDCC: up.EncryptedDCC, DataEncryptionKey: up.DataEncryptionKey},
			{DCCHash: up.DCCHash, EncryptedDCC: "", DataEncryptionKey: up.DataEncryptionKey},
			{DCCHash: up.DCCHash, EncryptedDCC: up.EncryptedDCC, DataEncryptionKey: "!!"},
		} {
			if _, err := svc.UploadFromLab(ctx, lab, hashHex(late), bad); !errors.Is(err, ErrBadRequest) {
				t.Errorf("upload %+v: %v", bad, err)
			}
		}
	})
}

func TestLabClaims(t *testing.T) {
	engines(t, func(t *testing.T, e store.Engine, c *clock) {
		ctx := context.Background()
		svc := NewService(Config{Now: c.Now, LabQuota: 2}, e)
		a, b := Partner{ID: "a"}, Partner{ID: "b"}
		if left, err := svc.ClaimLab(ctx, a, "L1"); err != nil || left != 1 {
			t.Fatalf("first claim: %d, %v", left, err)
		}
		if left, err := svc.ClaimLab(ctx, a, "L1"); err != nil || left != 1 {
			t.Fatalf("claim again: %d, %v", left, err)
		}
		if left, err := svc.ClaimLab(ctx, a, "L2"); err != nil || left != 0 {
			t.Fatalf("second lab: %d, %v", left, err)
		}
		if _, err := svc.ClaimLab(ctx, a, "L3"); !errors.Is(err, ErrLabQuota) {
			t.Fatalf("over quota: %v", err)
		}
		if _, err := svc.ClaimLab(ctx, b, "L1"); !errors.Is(err, ErrLabTaken) {
			t.Fatalf("another partner's lab: %v", err)
		}
		if _, err := svc.ClaimLab(ctx, a, "bad lab!"); !errors.Is(err, ErrBadRequest) {
			t.Fatalf("malformed lab id: %v", err)
		}
		// Claims lapse 30 days after their last use.
		c.Advance(20 * 24 * time.Hour)
		svc.ClaimLab(ctx, a, "L1")
		c.Advance(11 * 24 * time.Hour)
		if _, err := svc.ClaimLab(ctx, b, "L2"); err != nil {
			t.Fatalf("L2 after its claim lapsed: %v", err)
		}
		if _, err := svc.ClaimLab(ctx, b, "L1"); !errors.Is(err, ErrLabTaken) {
			t.Fatalf("L1 was used 11 days ago: %v", err)
		}
	})
}
