package issuer

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// An operator stops a rogue issuer: at once here, after a refresh on
// another instance sharing the store; lifting lets it issue again; every
// action is in the admin log.
func TestSuspension(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	other := New(Config{Signers: f.svc.cfg.Signers, Now: func() time.Time { return f.now }}, f.engine) // a second instance
	if _, err := f.svc.Issue(ctx, pharmacy, vaccinationRequest(), ""); err != nil {
		t.Fatal(err)
	}
	sus, created, err := f.svc.Suspend(ctx, "operator-1", pharmacy.ID, "fake pharmacy reported")
	if err != nil || !created || sus.By != "operator-1" {
		t.Fatalf("Suspend = %+v, %v, %v", sus, created, err)
	}
	if _, err := f.svc.Issue(ctx, pharmacy, vaccinationRequest(), ""); !errors.Is(err, ErrSuspended) {
		t.Fatalf("issue while suspended, same instance: %v", err)
	}
	if other.Suspended(pharmacy.ID) {
		t.Fatal("the other instance knew before its refresh (test set-up broken)")
	}
	if err := other.RefreshSuspensions(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := other.Issue(ctx, pharmacy, vaccinationRequest(), ""); !errors.Is(err, ErrSuspended) {
		t.Fatalf("issue while suspended, other instance: %v", err)
	}
	if _, err := f.svc.Issue(ctx, Issuer{ID: "apotheke-ehrlich", Country: "DE"}, vaccinationRequest(), ""); err != nil {
		t.Fatalf("another issuer is not stopped: %v", err)
	}
	if again, created, err := f.svc.Suspend(ctx, "operator-2", pharmacy.ID, "again"); err != nil || created || again.By != "operator-1" {
		t.Fatalf("Suspend again = %+v, %v, %v; want the first suspension", again, created, err)
	}
	f.now = f.now.Add(time.Minute) // the admin log is ordered by time
	if lifted, err := other.Lift(ctx, "operator-1", pharmacy.ID); err != nil || !lifted {
		t.Fatalf("Lift = %v, %v", lifted, err)
	}
	if lifted, err := other.Lift(ctx, "operator-1", pharmacy.ID); err != nil || lifted {
		t.Fatalf("Lift again = %v, %v", lifted, err)
	}
	if err := f.svc.RefreshSuspensions(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Issue(ctx, pharmacy, vaccinationRequest(), ""); err != nil {
		t.Fatalf("issue after lifting: %v", err)
	}
	if _, _, err := f.svc.Suspend(ctx, "operator-1", "", "x"); !errors.Is(err, ErrMalformed) {
		t.Fatalf("empty issuer id: %v", err)
	}
	log, err := f.svc.AdminLog(ctx, 10)
	if err != nil || len(log) != 2 || log[0].Action != "suspend" || log[1].Action != "lift" || log[0].Reason != "fake pharmacy reported" {
		t.Fatalf("admin log = %+v, %v", log, err)
	}
}

// A window revocation revokes exactly the issuer's certificates made in
// the window, across countries, and publishes once; a second call revokes
// nothing new.
func TestRevokeWindow(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	published := 0
	f.svc.cfg.OnRevoke = func() { published++ }
	start := f.now
	issueAt := func(who Issuer, at time.Time) string {
		t.Helper()
		f.now = at
		got, err := f.svc.Issue(ctx, who, vaccinationRequest(), "")
		if err != nil {
			t.Fatal(err)
		}
		return got.UVCI
	}
	before := issueAt(pharmacy, start)
	inDE := issueAt(pharmacy, start.Add(time.Hour))
	inAT := issueAt(Issuer{ID: pharmacy.ID, Country: "AT"}, start.Add(2*time.Hour))
	twin := issueAt(Issuer{ID: "APOTHEKE4711", Country: "DE"}, start.Add(2*time.Hour)) // same UVCI part, another issuer
	after := issueAt(pharmacy, start.Add(5*time.Hour))
	// An id longer than fits into a UVCI is cut there, and still found.
	long := Issuer{ID: strings.Repeat("apotheke", 8), Country: "DE"}
	longOne := issueAt(long, start.Add(time.Hour))

	res, err := f.svc.RevokeWindow(ctx, "operator-1", pharmacy.ID, start.Add(30*time.Minute), start.Add(4*time.Hour))
	if err != nil || res.Revoked != 2 || res.Previous != 0 || published != 1 {
		t.Fatalf("RevokeWindow = %+v, %v; published %d times", res, err, published)
	}
	for uvci, want := range map[string]bool{before: false, inDE: true, inAT: true, twin: false, after: false} {
		_, err := f.svc.Revoked(ctx, uvci)
		if got := err == nil; got != want {
			t.Errorf("%s revoked: %v, want %v (%v)", uvci, got, want, err)
		}
	}
	res, err = f.svc.RevokeWindow(ctx, "operator-1", pharmacy.ID, start.Add(30*time.Minute), start.Add(4*time.Hour))
	if err != nil || res.Revoked != 0 || res.Previous != 2 || published != 1 {
		t.Fatalf("second RevokeWindow = %+v, %v; published %d times", res, err, published)
	}
	if res, err := f.svc.RevokeWindow(ctx, "operator-1", long.ID, start, start.Add(2*time.Hour)); err != nil || res.Revoked != 1 {
		t.Fatalf("long issuer id: %+v, %v", res, err)
	}
	if _, err := f.svc.Revoked(ctx, longOne); err != nil {
		t.Fatalf("long issuer's certificate: %v", err)
	}
	// iat is whole seconds; the UVCI has the millisecond: a certificate of
	// 03:00:00.700 was issued (iat) at 03:00:00, inside a window to 03:00:00.500.
	edge := issueAt(pharmacy, start.Add(3*time.Hour+700*time.Millisecond))
	if res, err := f.svc.RevokeWindow(ctx, "operator-1", pharmacy.ID, start.Add(3*time.Hour), start.Add(3*time.Hour+500*time.Millisecond)); err != nil || res.Revoked != 1 {
		t.Fatalf("window ending inside the second of issuing: %+v, %v", res, err)
	}
	if _, err := f.svc.Revoked(ctx, edge); err != nil {
		t.Fatalf("the certificate of 03:00:00.700: %v", err)
	}
	for _, w := range [][2]time.Time{{start, start}, {start.Add(time.Hour), start}, {time.Time{}, start}} {
		if _, err := f.svc.RevokeWindow(ctx, "operator-1", pharmacy.ID, w[0], w[1]); !errors.Is(err, ErrBadWindow) {
			t.Errorf("window %v: %v", w, err)
		}
	}
}
