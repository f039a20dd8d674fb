package trustlist

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"time"
)

// Keys in the bucket.
const (
	pointerKey     = "trustlist/current.json"
	snapshotPrefix = "trustlist/snapshots/"
)

// DefaultKeep is how many snapshots are kept when not configured.
const DefaultKeep = 7

// Pointer names the current snapshot and the ones kept before it.
type Pointer struct {
	Snapshot string    `json:"snapshot"`
	IssuedAt time.Time `json:"issuedAt"`
	// History lists the kept snapshots, newest first, the current one
	// included.
	History []string `json:"history"`
}

// Snapshots keeps trust-list snapshots in a bucket. Publishing writes the
// immutable snapshot first and swaps the pointer after, so a reader never
// sees a half-written one; the last Keep snapshots stay. Callers serialise
// publishers (a lease in the store): the pointer swap is last-writer-wins.
type Snapshots struct {
	b    Bucket
	keep int
}

// NewSnapshots keeps snapshots in b, the last keep of them (DefaultKeep
// when keep < 1).
func NewSnapshots(b Bucket, keep int) *Snapshots {
	if keep < 1 {
		keep = DefaultKeep
	}
	return &Snapshots{b: b, keep: keep}
}

func snapshotKey(hash string) string { return snapshotPrefix + hash + ".json" }

// Pointer reads the current pointer; ErrNoSnapshot before the first
// publication.
func (s *Snapshots) Pointer(ctx context.Context) (*Pointer, error) {
	data, err := s.b.ReadAll(ctx, pointerKey)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ErrNoSnapshot
	}
	if err != nil {
		return nil, fmt.Errorf("read trust-list pointer: %w", err)
	}
	var p Pointer
	if err := json.Unmarshal(data, &p); err != nil || len(p.Snapshot) != 64 {
		return nil, fmt.Errorf("trust-list pointer is damaged")
	}
	return &p, nil
}

// Load reads the snapshot with the given hash and checks its content.
func (s *Snapshots) Load(ctx context.Context, hash string) (*Snapshot, error) {
	data, err := s.b.ReadAll(ctx, snapshotKey(hash))
	if err != nil {
		return nil, fmt.Errorf("read snapshot %s: %w", short(hash), err)
	}
	return DecodeSnapshot(data, hash)
}

// Current reads the current snapshot and its hash; ErrNoSnapshot before
// the first publication.
func (s *Snapshots) Current(ctx context.Context) (*Snapshot, string, error) {
	p, err := s.Pointer(ctx)
	if err != nil {
		return nil, "", err
	}
	snap, err := s.Load(ctx, p.Snapshot)
	if err != nil {
		return nil, "", err
	}
	return snap, p.Snapshot, nil
}

// Publish makes snap the current snapshot and returns its hash. A failure
// before the pointer swap leaves the previous snapshot current; snapshots
// beyond the kept number are deleted after it.
func (s *Snapshots) Publish(ctx context.Context, snap *Snapshot) (string, error) {
	data, hash, err := snap.Encode()
	if err != nil {
		return "", err
	}
	prev, err := s.Pointer(ctx)
	if err != nil && !errors.Is(err, ErrNoSnapshot) {
		return "", err
	}
	if err := s.b.WriteAll(ctx, snapshotKey(hash), data, "application/json"); err != nil {
		return "", fmt.Errorf("write snapshot %s: %w", short(hash), err)
	}
	next := Pointer{Snapshot: hash, IssuedAt: snap.IssuedAt, History: []string{hash}}
	var dropped []string
	if prev != nil {
		for _, h := range prev.History {
			switch {
			case h == hash:
			case len(next.History) < s.keep:
				next.History = append(next.History, h)
			default:
				dropped = append(dropped, h)
			}
		}
	}
	pdata, err := json.Marshal(next)
	if err != nil {
		return "", err
	}
	if err := s.b.WriteAll(ctx, pointerKey, pdata, "application/json"); err != nil {
		return "", fmt.Errorf("swap trust-list pointer: %w", err)
	}
	for _, h := range dropped {
		if slices.Contains(next.History, h) {
			continue
		}
		if err := s.b.Delete(ctx, snapshotKey(h)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return hash, fmt.Errorf("delete old snapshot %s: %w", short(h), err)
		}
	}
	return hash, nil
}
