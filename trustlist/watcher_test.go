package trustlist

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"testing"
	"time"
)

// The revocation watcher renders local revocations stamped with its clock,
// and renders again only when the set changes.
func TestRevocationWatcherClock(t *testing.T) {
	ctx := context.Background()
	snaps := NewSnapshots(NewMemBucket(), 2)
	key := newKey(t)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	local := []Revocation{{KID: "AAAAAAAAAAA=", Type: HashUCI, Hash: RevocationHash{}, Expires: time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)}}
	clock := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	w := NewRevocationWatcher(NewWatcher(snaps, key, log), func(context.Context) ([]Revocation, error) { return local, nil }, key, log)
	w.Now = func() time.Time { return clock }
	issuedAt := func() time.Time {
		var idx RevocationIndex
		if err := json.Unmarshal(w.View().Index.Body, &idx); err != nil {
			t.Fatal(err)
		}
		return idx.IssuedAt
	}
	if err := w.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if w.View().List().Len() != 1 || !issuedAt().Equal(clock) {
		t.Fatalf("view: %d entries, issued %v; want 1, %v", w.View().List().Len(), issuedAt(), clock)
	}
	first := clock
	clock = clock.Add(time.Hour)
	if err := w.Refresh(ctx); err != nil || !issuedAt().Equal(first) {
		t.Fatalf("unchanged set re-rendered: issued %v, %v", issuedAt(), err)
	}
	local = append(local, Revocation{KID: "AAAAAAAAAAA=", Type: HashUCI, Hash: RevocationHash{1}, Expires: first.AddDate(1, 0, 0)})
	if err := w.Refresh(ctx); err != nil || w.View().List().Len() != 2 || !issuedAt().Equal(clock) {
		t.Fatalf("new revocation: %d entries, issued %v, %v", w.View().List().Len(), issuedAt(), err)
	}
}
