package issuer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/greenpass-dcc/greenpass/hcert"
	"github.com/greenpass-dcc/greenpass/keys"
	"github.com/greenpass-dcc/greenpass/store"
	"github.com/greenpass-dcc/greenpass/store/bolt"
	"github.com/greenpass-dcc/greenpass/trustlist"
	"github.com/greenpass-dcc/greenpass/verifier"
	"github.com/greenpass-dcc/greenpass/wallet"
)

var testNow = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

type fixture struct {
	now    time.Time // the clock of the store and the service
	svc    *Service
	engine store.Engine
	keys   *keys.Set
	trust  *trustlist.List
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	ctx := context.Background()
	set, err := keys.Init(ctx, t.TempDir(), keys.InitOptions{Now: func() time.Time { return testNow.AddDate(0, -1, 0) }})
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{now: testNow, keys: set}
	engine, err := bolt.Open(t.TempDir(), func() time.Time { return f.now })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { engine.Close() })
	signers := map[hcert.Type]DocumentSigner{}
	var dscs []*trustlist.DSC
	for typ, d := range set.DSCs {
		signers[typ] = DocumentSigner{Signer: d.Signer, Certificate: d.Certificate, KID: d.KID}
		dsc, err := trustlist.NewDSC(d.Certificate.Raw, "DE")
		if err != nil {
			t.Fatal(err)
		}
		dscs = append(dscs, dsc)
	}
	f.svc = New(Config{Signers: signers, Now: func() time.Time { return f.now }}, engine)
	f.engine, f.trust = engine, trustlist.NewList(dscs...)
	return f
}

var pharmacy = Issuer{ID: "apotheke-4711", Country: "DE", Name: "Apotheke am Markt"}

func vaccinationRequest() *Request {
	return &Request{
		Name:        NameInput{Family: "Musterfrau-Gößinger", Given: "Gabriele"},
		DateOfBirth: "1998-02-26",
		Vaccinations: []VaccinationInput{{Target: "840539006", Vaccine: "1119349007", Product: "EU/1/20/1528",
			Manufacturer: "ORG-100030215", DoseNumber: 2, TotalDoses: 2, Date: "2026-11-01"}},
	}
}

func testRequest() *Request {
	return &Request{
		Name:        NameInput{Family: "Иванов", Given: "Пётр"},
		DateOfBirth: "1980",
		Tests: []TestInput{{Target: "840539006", TestType: "LP217198-3", Device: "1232",
			SampledAt: "2026-11-23T09:35:00+02:00", Result: "260415000", Centre: "Testzentrum"}},
	}
}

func recoveryRequest() *Request {
	return &Request{
		Name:        NameInput{Family: "Muster"},
		DateOfBirth: "1970-05",
		Recoveries:  []RecoveryInput{{Target: "840539006", FirstPositive: "2026-10-01", ValidFrom: "2026-10-12", ValidUntil: "2027-03-30"}},
	}
}

// Every type issues a certificate that the verifier accepts with the
// development DSCs, carrying what the request and the issuer gave.
func TestIssueVerifies(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	v := verifier.New(f.trust, verifier.WithClock(func() time.Time { return testNow }))
	for _, req := range []*Request{vaccinationRequest(), testRequest(), recoveryRequest()} {
		got, err := f.svc.Issue(ctx, pharmacy, req, "")
		if err != nil {
			t.Fatalf("%s: %v", req.Type(), err)
		}
		res := v.VerifyText(ctx, got.HC1)
		if !res.Valid {
			t.Fatalf("%s: verifier says invalid: %+v", req.Type(), res.Reasons)
		}
		if res.Type != req.Type() || got.Type != req.Type() {
			t.Errorf("type %s / %s, want %s", res.Type, got.Type, req.Type())
		}
		if !ValidUVCIChecksum(got.UVCI) || !strings.HasPrefix(got.UVCI, "URN:UVCI:01:DE:APOTHEKE4711/") {
			t.Errorf("UVCI %s", got.UVCI)
		}
		if res.Certificate.UVCI() != got.UVCI {
			t.Errorf("certificate ci %s, response %s", res.Certificate.UVCI(), got.UVCI)
		}
		if !got.IssuedAt.Equal(testNow) {
			t.Errorf("issuedAt %v", got.IssuedAt)
		}
		a, err := f.svc.Lookup(ctx, pharmacy.ID, got.UVCI)
		if err != nil {
			t.Fatalf("audit record: %v", err)
		}
		if a.Type != string(req.Type()) || a.Issuer != pharmacy.ID || !a.ExpiresAt.Equal(got.ExpiresAt) {
			t.Errorf("audit %+v", a)
		}
	}
}

func TestIssueFillsServerFields(t *testing.T) {
	f := newFixture(t)
	got, err := f.svc.Issue(context.Background(), pharmacy, vaccinationRequest(), "")
	if err != nil {
		t.Fatal(err)
	}
	c := got.Certificate
	v := c.Vaccinations[0]
	if c.Version != "1.3.0" || v.Country != "DE" || v.Issuer != "Apotheke am Markt" || v.ID != got.UVCI {
		t.Errorf("server fields: ver %q co %q is %q ci %q", c.Version, v.Country, v.Issuer, v.ID)
	}
	if c.Name.FamilyStandard != "MUSTERFRAU<GOESSINGER" || c.Name.GivenStandard != "GABRIELE" {
		t.Errorf("transliteration: %q %q", c.Name.FamilyStandard, c.Name.GivenStandard)
	}
	if err := c.Validate(); err != nil {
		t.Errorf("issued payload fails the schema: %v", err)
	}
	if want := testNow.Add(365 * 24 * time.Hour); !got.ExpiresAt.Equal(want) {
		t.Errorf("exp %v, want %v", got.ExpiresAt, want)
	}
	// A dose given abroad keeps its country of vaccination; is and the
	// UVCI stay the issuer's.
	abroad := vaccinationRequest()
	abroad.Vaccinations[0].Country = "AT"
	got, err = f.svc.Issue(context.Background(), pharmacy, abroad, "")
	if err != nil {
		t.Fatal(err)
	}
	if v := got.Certificate.Vaccinations[0]; v.Country != "AT" || v.Issuer != "Apotheke am Markt" || !strings.HasPrefix(got.UVCI, "URN:UVCI:01:DE:") {
		t.Errorf("dose abroad: co %q is %q uvci %q", v.Country, v.Issuer, got.UVCI)
	}
	noName := pharmacy
	noName.Name = ""
	got, err = f.svc.Issue(context.Background(), noName, vaccinationRequest(), "")
	if err != nil || got.Certificate.Vaccinations[0].Issuer != "greenpass" {
		t.Errorf("default issuer name: %v %+v", err, got)
	}
}

func TestExpiry(t *testing.T) {
	f := newFixture(t)
	dscEnd := f.keys.DSCs[hcert.TypeRecovery].Certificate.NotAfter
	tests := []struct {
		name string
		req  *Request
		want time.Time
	}{
		{"test: 72 h", testRequest(), testNow.Add(72 * time.Hour)},
		{"recovery: end of du", recoveryRequest(), time.Date(2027, 3, 30, 23, 59, 59, 0, time.UTC)},
	}
	for _, tt := range tests {
		got, err := f.svc.Issue(context.Background(), pharmacy, tt.req, "")
		if err != nil {
			t.Fatal(err)
		}
		if !got.ExpiresAt.Equal(tt.want) {
			t.Errorf("%s: exp %v, want %v", tt.name, got.ExpiresAt, tt.want)
		}
	}
	// Never beyond the document signer's validity.
	long := New(Config{Signers: f.svc.cfg.Signers, Now: f.svc.cfg.Now,
		Validity: map[hcert.Type]time.Duration{hcert.TypeVaccination: 100 * 365 * 24 * time.Hour}}, f.engine)
	got, err := long.Issue(context.Background(), pharmacy, vaccinationRequest(), "")
	if err != nil {
		t.Fatal(err)
	}
	if got.ExpiresAt.After(dscEnd) {
		t.Errorf("exp %v after the DSC's notAfter %v", got.ExpiresAt, dscEnd)
	}
	// An expired signer issues nothing.
	late := New(Config{Signers: f.svc.cfg.Signers, Now: func() time.Time { return dscEnd.Add(time.Hour) }}, f.engine)
	if _, err := late.Issue(context.Background(), pharmacy, vaccinationRequest(), ""); !errors.Is(err, ErrNoSigner) {
		t.Errorf("expired DSC: %v, want ErrNoSigner", err)
	}
}

func TestIdempotency(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	first, err := f.svc.Issue(ctx, pharmacy, vaccinationRequest(), "key-1")
	if err != nil {
		t.Fatal(err)
	}
	again, err := f.svc.Issue(ctx, pharmacy, vaccinationRequest(), "key-1")
	if err != nil {
		t.Fatal(err)
	}
	if again.UVCI != first.UVCI || again.HC1 != first.HC1 || !again.Replayed || first.Replayed {
		t.Errorf("retry gave a different certificate: %s vs %s (replayed %v)", again.UVCI, first.UVCI, again.Replayed)
	}
	changed := vaccinationRequest()
	changed.Vaccinations[0].DoseNumber = 1
	if _, err := f.svc.Issue(ctx, pharmacy, changed, "key-1"); !errors.Is(err, ErrConflict) {
		t.Errorf("same key, other body: %v, want ErrConflict", err)
	}
	// Keys are per issuer.
	other := Issuer{ID: "apotheke-0815", Country: "DE"}
	theirs, err := f.svc.Issue(ctx, other, vaccinationRequest(), "key-1")
	if err != nil || theirs.UVCI == first.UVCI {
		t.Errorf("another issuer's key-1: %v, uvci %s", err, theirs.UVCI)
	}
	// Keys expire after 24 h.
	f.now = testNow.Add(25 * time.Hour)
	fresh, err := f.svc.Issue(ctx, pharmacy, changed, "key-1")
	if err != nil || fresh.UVCI == first.UVCI {
		t.Errorf("after 24 h: %v, uvci %s", err, fresh.UVCI)
	}
	if _, err := f.svc.Issue(ctx, pharmacy, vaccinationRequest(), strings.Repeat("k", 256)); !errors.Is(err, ErrBadKey) {
		t.Errorf("long key: %v", err)
	}
	if _, err := f.svc.Issue(ctx, pharmacy, vaccinationRequest(), "a b"); !errors.Is(err, ErrBadKey) {
		t.Errorf("key with space: %v", err)
	}
}

// oneAtATime hides the embedded engine's atomic InsertAll, as the Mongo
// engine lacks it: records are written one after the other.
type oneAtATime struct{ store.Engine }

// Concurrent retries of one keyed request all get the one certificate,
// and the register holds it once: the requests that lost the race left no
// record, whether the store writes both records at once or in turn.
func TestIdempotencyConcurrent(t *testing.T) {
	for _, atomic := range []bool{true, false} {
		t.Run(fmt.Sprintf("atomic=%v", atomic), func(t *testing.T) {
			f := newFixture(t)
			svc := f.svc
			if !atomic {
				svc = New(f.svc.cfg, oneAtATime{f.engine})
			}
			const n = 16
			uvcis := make([]string, n)
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() {
					got, err := svc.Issue(context.Background(), pharmacy, testRequest(), "same")
					if err != nil {
						t.Error(err)
						return
					}
					uvcis[i] = got.UVCI
				})
			}
			wg.Wait()
			for _, u := range uvcis[1:] {
				if u != uvcis[0] {
					t.Fatalf("concurrent retries gave different UVCIs: %v", uvcis)
				}
			}
			audits, err := f.engine.ListAfter(context.Background(), CollCertificates, "", "", 100)
			if err != nil || len(audits) != 1 || audits[0].ID != uvcis[0] {
				t.Fatalf("audit records after %d concurrent retries: %d (%v)", n, len(audits), err)
			}
		})
	}
}

// The audit record holds no personal data and the revocation hashes.
func TestAuditRecord(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	got, err := f.svc.Issue(ctx, pharmacy, vaccinationRequest(), "")
	if err != nil {
		t.Fatal(err)
	}
	rec, err := f.engine.Get(ctx, CollCertificates, got.UVCI)
	if err != nil {
		t.Fatal(err)
	}
	for _, pii := range []string{"Musterfrau", "MUSTERFRAU", "Gabriele", "GABRIELE", "1998-02-26"} {
		if strings.Contains(string(rec.Data), pii) {
			t.Errorf("audit record contains %q", pii)
		}
	}
	var a Audit
	if err := json.Unmarshal(rec.Data, &a); err != nil {
		t.Fatal(err)
	}
	msg, _ := hcert.ParseSign1(got.COSE)
	if a.SignatureSHA256 != sha256Hex(msg.Signature) || a.RevocationSignatureSHA256 != sha256Hex(msg.Signature[:32]) ||
		a.CountryUVCISHA256 != sha256Hex([]byte("DE"+got.UVCI)) || a.UVCISHA256 != sha256Hex([]byte(got.UVCI)) {
		t.Errorf("hashes %+v", a)
	}
	if _, err := f.svc.Lookup(ctx, "someone-else", got.UVCI); !errors.Is(err, ErrNotFound) {
		t.Errorf("other issuer's lookup: %v", err)
	}
	if _, err := f.svc.Lookup(ctx, pharmacy.ID, "URN:UVCI:01:DE:X/Y#Z"); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown UVCI: %v", err)
	}
}

// A refused request stores nothing.
func TestRefusedRequestStoresNothing(t *testing.T) {
	f := newFixture(t)
	bad := vaccinationRequest()
	bad.Vaccinations[0].Product = "Snake-Oil"
	_, err := f.svc.Issue(context.Background(), pharmacy, bad, "k")
	var se hcert.SchemaError
	if !errors.As(err, &se) {
		t.Fatalf("err %v, want SchemaError", err)
	}
	if _, err := f.engine.Get(context.Background(), CollIdempotency, idempotencyID(pharmacy.ID, "k")); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("idempotency record after refusal: %v", err)
	}
}

// transfers is a TransferTarget that records what it was asked and
// refuses with err.
type transfers struct {
	err                error
	checked, delivered []string // issuer/testId
}

func (tr *transfers) Check(_ context.Context, issuerID, testID string) error {
	tr.checked = append(tr.checked, issuerID+"/"+testID)
	return tr.err
}

func (tr *transfers) Deliver(_ context.Context, issuerID, testID, _ string, _ []byte) error {
	tr.delivered = append(tr.delivered, issuerID+"/"+testID)
	return tr.err
}

// A transfer is only for a test certificate, and only where the wallet
// side says this issuer may deliver: otherwise nothing is signed, stored
// or delivered.
func TestTransferRefusals(t *testing.T) {
	const testID = "3f2a9c1e00000000000000000000000000000000000000000000000000000000"
	for _, tc := range []struct {
		name      string
		req       func() *Request
		walletErr error
		want      error
	}{
		{"a vaccination certificate", vaccinationRequest, nil, ErrTransferNotTest},
		{"a test of another issuer", testRequest, wallet.ErrNotYours, wallet.ErrNotYours},
		{"the issuer's own test", testRequest, nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			tr := &transfers{err: tc.walletErr}
			f.svc.cfg.Transfers = tr
			req := tc.req()
			req.Transfer = &TransferInput{TestID: testID}
			_, err := f.svc.Issue(context.Background(), pharmacy, req, "k")
			if !errors.Is(err, tc.want) {
				t.Fatalf("Issue: %v, want %v", err, tc.want)
			}
			audits, _ := f.engine.ListAfter(context.Background(), CollCertificates, "", "", 10)
			if tc.want != nil && (len(audits) != 0 || len(tr.delivered) != 0) {
				t.Fatalf("refused, yet %d audit records and deliveries %v", len(audits), tr.delivered)
			}
			if tc.want == nil && (len(audits) != 1 || len(tr.delivered) != 1 || tr.delivered[0] != pharmacy.ID+"/"+testID) {
				t.Fatalf("issued: %d audit records, deliveries %v", len(audits), tr.delivered)
			}
		})
	}
}
