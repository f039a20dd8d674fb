package issuer

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestIssuedListsOwnCertificatesByTime(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	start := f.now
	var uvcis []string
	for i := range 5 {
		f.now = start.Add(time.Duration(i) * time.Minute)
		got, err := f.svc.Issue(ctx, pharmacy, vaccinationRequest(), "")
		if err != nil {
			t.Fatal(err)
		}
		uvcis = append(uvcis, got.UVCI)
	}
	// Another issuer whose id has the same letters and digits, between ours.
	f.now = start.Add(90 * time.Second)
	twin := Issuer{ID: "apotheke4711", Country: "DE", Name: "Twin"}
	if _, err := f.svc.Issue(ctx, twin, vaccinationRequest(), ""); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.svc.Revoke(ctx, pharmacy.ID, uvcis[1]); err != nil {
		t.Fatal(err)
	}
	list := func(from, to time.Time, cursor string, limit int) Page {
		t.Helper()
		p, err := f.svc.Issued(ctx, pharmacy.ID, "DE", from, to, cursor, limit)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	ids := func(p Page) []string {
		var out []string
		for _, a := range p.Certificates {
			if a.Issuer != pharmacy.ID {
				t.Errorf("another issuer's certificate listed: %s", a.Issuer)
			}
			out = append(out, a.UVCI)
		}
		return out
	}
	equal := func(got, want []string) bool {
		if len(got) != len(want) {
			return false
		}
		for i := range got {
			if got[i] != want[i] {
				return false
			}
		}
		return true
	}
	end := start.Add(4 * time.Minute)
	if got := ids(list(start, end, "", 0)); !equal(got, uvcis) {
		t.Fatalf("whole window: %v, want %v", got, uvcis)
	}
	// Both ends inclusive, to the millisecond.
	if got := ids(list(start.Add(time.Minute), start.Add(3*time.Minute), "", 0)); !equal(got, uvcis[1:4]) {
		t.Fatalf("minutes 1-3: %v, want %v", got, uvcis[1:4])
	}
	if got := ids(list(start.Add(time.Minute+time.Millisecond), start.Add(3*time.Minute-time.Millisecond), "", 0)); !equal(got, uvcis[2:3]) {
		t.Fatalf("inside minutes 1-3: %v, want %v", got, uvcis[2:3])
	}
	// Pages of two, by cursor.
	var paged []string
	cursor := ""
	for range 4 {
		p := list(start, end, cursor, 2)
		paged = append(paged, ids(p)...)
		if cursor = p.Next; cursor == "" {
			break
		}
	}
	if !equal(paged, uvcis) || cursor != "" {
		t.Fatalf("pages: %v (cursor %q), want %v", paged, cursor, uvcis)
	}
	p := list(start, end, "", 0)
	if p.Certificates[1].RevokedAt == nil || p.Certificates[0].RevokedAt != nil {
		t.Fatalf("revokedAt: %+v", p.Certificates[:2])
	}
	// The twin sees only its own.
	tp, err := f.svc.Issued(ctx, twin.ID, "DE", start, end, "", 0)
	if err != nil || len(tp.Certificates) != 1 || tp.Certificates[0].Issuer != twin.ID {
		t.Fatalf("twin's listing: %+v, %v", tp, err)
	}
	for _, tc := range []struct {
		name     string
		from, to time.Time
		cursor   string
		limit    int
		want     error
	}{
		{"reversed window", end, start, "", 0, ErrBadWindow},
		{"no from", time.Time{}, end, "", 0, ErrBadWindow},
		{"limit too large", start, end, "", MaxPageSize + 1, ErrMalformed},
		{"another listing's cursor", start, end, "URN:UVCI:01:DE:OTHER/0", 0, ErrMalformed},
	} {
		if _, err := f.svc.Issued(ctx, pharmacy.ID, "DE", tc.from, tc.to, tc.cursor, tc.limit); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
}
