package trustlist

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// snapEntry makes a consistent snapshot entry for a DER certificate.
func snapEntry(typ, country string, der []byte) SnapshotEntry {
	e := entryFor(der, country)
	e.CertificateType, e.Timestamp = typ, "2026-11-01T00:00:00Z"
	return SnapshotEntry{Entry: e}
}

func TestSnapshotIDsAreStable(t *testing.T) {
	a, b, c := snapEntry(TypeDSC, "DE", selfSigned(t, "DE")), snapEntry(TypeDSC, "AT", selfSigned(t, "AT")), snapEntry(TypeCSCA, "DE", selfSigned(t, "DE"))
	t0 := time.Date(2026, 11, 1, 3, 0, 0, 0, time.UTC)
	first := NewSnapshot(nil, t0, "test", []SnapshotEntry{a, b, c, a})
	if len(first.Entries) != 3 {
		t.Fatalf("%d entries, want 3 (the duplicate dropped)", len(first.Entries))
	}
	ids := map[string]int64{}
	for i, e := range first.Entries {
		if e.ID != int64(i+1) {
			t.Fatalf("entry %d has id %d, want %d (ID order)", i, e.ID, i+1)
		}
		ids[e.Thumbprint] = e.ID
	}
	// b is gone, d is new: a and c keep their IDs, d comes after all of them.
	d := snapEntry(TypeDSC, "FR", selfSigned(t, "FR"))
	second := NewSnapshot(first, t0.Add(24*time.Hour), "test", []SnapshotEntry{d, c, a})
	for _, e := range second.Entries {
		switch e.Thumbprint {
		case a.Thumbprint, c.Thumbprint:
			if e.ID != ids[e.Thumbprint] {
				t.Errorf("kept entry changed id %d → %d", ids[e.Thumbprint], e.ID)
			}
		case d.Thumbprint:
			if e.ID != 4 {
				t.Errorf("new entry id %d, want 4", e.ID)
			}
		default:
			t.Errorf("unexpected entry %s", e.Thumbprint)
		}
	}
	// Same input, same bytes.
	x, hx, _ := NewSnapshot(first, t0, "test", []SnapshotEntry{d, c, a}).Encode()
	y, hy, _ := NewSnapshot(first, t0, "test", []SnapshotEntry{a, c, d}).Encode()
	if hx != hy || !bytes.Equal(x, y) {
		t.Fatal("the same entries in another order gave another snapshot")
	}
}

func TestDecodeSnapshotChecksContent(t *testing.T) {
	snap := NewSnapshot(nil, time.Now(), "test", []SnapshotEntry{snapEntry(TypeDSC, "DE", selfSigned(t, "DE"))})
	data, hash, err := snap.Encode()
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeSnapshot(data, hash)
	if err != nil || len(got.Entries) != 1 || got.Entries[0].Thumbprint != snap.Entries[0].Thumbprint {
		t.Fatalf("round trip: %+v, %v", got, err)
	}
	for name, bad := range map[string][]byte{
		"truncated": data[:len(data)/2],
		"altered":   bytes.Replace(data, []byte(`"DE"`), []byte(`"FR"`), 1),
	} {
		if _, err := DecodeSnapshot(bad, hash); err == nil {
			t.Errorf("%s snapshot accepted", name)
		}
	}
	future := bytes.Replace(data, []byte(`"format":1`), []byte(`"format":9`), 1)
	if _, err := DecodeSnapshot(future, sha256Hex(future)); err == nil || !strings.Contains(err.Error(), "format 9") {
		t.Errorf("unknown format: %v", err)
	}
}

func newKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestPublishSwapsPointerAndKeepsHistory(t *testing.T) {
	ctx := context.Background()
	b := NewMemBucket()
	s := NewSnapshots(b, 2)
	if _, _, err := s.Current(ctx); !errors.Is(err, ErrNoSnapshot) {
		t.Fatalf("empty bucket: %v, want ErrNoSnapshot", err)
	}
	var hashes []string
	for i := range 4 {
		snap := NewSnapshot(nil, time.Date(2026, 11, i+1, 3, 0, 0, 0, time.UTC), fmt.Sprint("sync ", i),
			[]SnapshotEntry{snapEntry(TypeDSC, "DE", selfSigned(t, "DE"))})
		h, err := s.Publish(ctx, snap)
		if err != nil {
			t.Fatal(err)
		}
		hashes = append(hashes, h)
		cur, ch, err := s.Current(ctx)
		if err != nil || ch != h || cur.Source != snap.Source {
			t.Fatalf("after publish %d: current %s (%v), want %s", i, ch, err, h)
		}
	}
	p, _ := s.Pointer(ctx)
	if strings.Join(p.History, ",") != hashes[3]+","+hashes[2] {
		t.Fatalf("history %v, want the last two", p.History)
	}
	for i, h := range hashes {
		_, err := s.Load(ctx, h)
		if kept := i >= 2; kept != (err == nil) {
			t.Errorf("snapshot %d: load error %v, kept=%v", i, err, kept)
		}
	}
	// Publishing the current snapshot again changes nothing.
	snap, _ := s.Load(ctx, hashes[3])
	if h, err := s.Publish(ctx, snap); err != nil || h != hashes[3] {
		t.Fatalf("republish: %s, %v", h, err)
	}
	if p2, _ := s.Pointer(ctx); len(p2.History) != 2 {
		t.Fatalf("republish changed history to %v", p2.History)
	}
}

// A write of the snapshot that fails leaves the previous snapshot current.
func TestPublishFailureKeepsLastGood(t *testing.T) {
	ctx := context.Background()
	mem := NewMemBucket()
	s := NewSnapshots(mem, 3)
	good, err := s.Publish(ctx, NewSnapshot(nil, time.Now(), "good", []SnapshotEntry{snapEntry(TypeDSC, "DE", selfSigned(t, "DE"))}))
	if err != nil {
		t.Fatal(err)
	}
	failing := NewSnapshots(&failingBucket{Bucket: mem, failPrefix: snapshotPrefix}, 3)
	if _, err := failing.Publish(ctx, NewSnapshot(nil, time.Now(), "bad", nil)); err == nil {
		t.Fatal("publish with a failing snapshot write succeeded")
	}
	if _, h, err := s.Current(ctx); err != nil || h != good {
		t.Fatalf("current = %s, %v; want the last good %s", h, err, good)
	}
	// A pointer to a damaged snapshot: Current refuses it, the watcher keeps
	// its view.
	w := NewWatcher(s, newKey(t), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err := w.Refresh(ctx); err != nil || w.Current().Hash != good {
		t.Fatalf("watcher: %v", err)
	}
	badHash := strings.Repeat("ab", 32)
	mem.WriteAll(ctx, snapshotKey(badHash), []byte(`{"format":1}`), "")
	ptr, _ := json.Marshal(Pointer{Snapshot: badHash, History: []string{badHash}})
	mem.WriteAll(ctx, pointerKey, ptr, "")
	if _, _, err := s.Current(ctx); err == nil {
		t.Fatal("a snapshot that does not hash to its name was loaded")
	}
	if err := w.Refresh(ctx); err == nil || w.Current().Hash != good {
		t.Fatalf("watcher after a damaged snapshot: %v, view %s", err, w.Current().Hash)
	}
}

type failingBucket struct {
	Bucket
	failPrefix string
}

func (f *failingBucket) WriteAll(ctx context.Context, key string, data []byte, contentType string) error {
	if strings.HasPrefix(key, f.failPrefix) {
		return errors.New("disk full")
	}
	return f.Bucket.WriteAll(ctx, key, data, contentType)
}

// fuzzSigner signs in fuzz targets (made once: key generation per input
// would dominate).
var fuzzSigner = func() *ecdsa.PrivateKey {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	return k
}()

// A snapshot remembers when each entry came and which went, for the DGCA
// delta: a removal is kept for RemovedKeep, and an entry listed again is
// no longer removed.
func TestSnapshotHistory(t *testing.T) {
	a, b := snapEntry(TypeDSC, "DE", selfSigned(t, "DE")), snapEntry(TypeDSC, "AT", selfSigned(t, "AT"))
	t0 := time.Date(2026, 11, 1, 3, 0, 0, 0, time.UTC)
	s1 := NewSnapshot(nil, t0, "test", []SnapshotEntry{a, b})
	s2 := NewSnapshot(s1, t0.Add(time.Hour), "test", []SnapshotEntry{a})
	if len(s2.Removed) != 1 || s2.Removed[0].KID != b.KID || !s2.Removed[0].At.Equal(t0.Add(time.Hour)) || !s2.Entries[0].Since.Equal(t0) {
		t.Fatalf("after b left: removed %+v, a since %v", s2.Removed, s2.Entries[0].Since)
	}
	s3 := NewSnapshot(s2, t0.Add(2*time.Hour), "test", []SnapshotEntry{a})
	if len(s3.Removed) != 1 {
		t.Fatalf("the removal is forgotten a snapshot later: %+v", s3.Removed)
	}
	s4 := NewSnapshot(s3, t0.Add(RemovedKeep+2*time.Hour), "test", []SnapshotEntry{a})
	if len(s4.Removed) != 0 {
		t.Fatalf("a removal older than RemovedKeep is kept: %+v", s4.Removed)
	}
	back := NewSnapshot(s3, t0.Add(3*time.Hour), "test", []SnapshotEntry{a, b})
	if len(back.Removed) != 0 || !back.Entries[1].Since.Equal(t0.Add(3*time.Hour)) {
		t.Fatalf("b listed again: removed %+v, entries %+v", back.Removed, back.Entries)
	}
}
