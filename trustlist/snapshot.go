package trustlist

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Certificate types of trust-list entries, as the gateway names them.
const (
	TypeDSC            = "DSC"
	TypeCSCA           = "CSCA"
	TypeUpload         = "UPLOAD"
	TypeAuthentication = "AUTHENTICATION"
)

// snapshotFormat is the version of the snapshot encoding.
const snapshotFormat = 1

// MaxSnapshotSize bounds a snapshot read from the bucket. The whole EU list
// with CMS signatures is about 10 MB.
const MaxSnapshotSize = 256 << 20

// ErrNoSnapshot: nothing has been published yet.
var ErrNoSnapshot = errors.New("no trust-list snapshot published")

// Snapshot is one published state of the trust data: what a sync accepted
// from upstream plus this service's own DSCs. Once written it never
// changes; it is addressed by the SHA-256 of its encoding.
type Snapshot struct {
	Format int `json:"format"`
	// IssuedAt is when the snapshot was made. Verifiers are told its age
	// instead of a hard expiry: an old list is a warning, not an outage.
	IssuedAt time.Time `json:"issuedAt"`
	// Source says where the upstream entries came from (a URL without
	// credentials, or a file name), for operators.
	Source  string          `json:"source,omitempty"`
	Entries []SnapshotEntry `json:"entries"`
	// Rules, ValueSets and Countries are the business rules, value sets
	// and onboarded countries of the DGCA business-rule service;
	// Revocations the revocation entries imported from upstream.
	Rules       []RuleEntry     `json:"rules,omitempty"`
	ValueSets   []ValueSetEntry `json:"valueSets,omitempty"`
	Countries   []string        `json:"countries,omitempty"`
	Revocations []Revocation    `json:"revocations,omitempty"`
	// Removed are the entries earlier snapshots had and this one has not,
	// with when they went (the DGCA delta's "deleted"), for RemovedKeep.
	Removed []Removal `json:"removed,omitempty"`
}

// Removal is an entry that left the trust list.
type Removal struct {
	Entry
	At time.Time `json:"at"`
}

// RemovedKeep is how long a removal is remembered: a verifier app asking
// for the changes since a point older than this gets the full list again.
const RemovedKeep = 90 * 24 * time.Hour

// SnapshotEntry is a trust-list entry with its sequence number.
type SnapshotEntry struct {
	// ID is the entry's resume token in the DGCA verifier-service API:
	// an entry keeps it across snapshots, new entries get higher ones, so
	// a client resuming from its last token receives only new entries.
	ID int64 `json:"id"`
	Entry
	// Local marks this service's own DSCs, published without upstream.
	Local bool `json:"local,omitempty"`
	// Since is when the entry first appeared in a snapshot (the DGCA
	// delta's "updated" after a point); zero in snapshots from before.
	Since time.Time `json:"since,omitzero"`
}

// NewSnapshot makes a snapshot of entries issued at issuedAt. Entries that
// were in prev (same type and thumbprint) keep their IDs; new ones are
// numbered after prev's highest in a fixed order (country, kid,
// thumbprint), so the same input always gives the same snapshot.
func NewSnapshot(prev *Snapshot, issuedAt time.Time, source string, entries []SnapshotEntry) *Snapshot {
	issuedAt = issuedAt.UTC().Truncate(time.Second)
	known := map[string]SnapshotEntry{}
	var next int64
	if prev != nil {
		for _, e := range prev.Entries {
			known[e.identity()] = e
			next = max(next, e.ID)
		}
	}
	out := make([]SnapshotEntry, 0, len(entries))
	seen := map[string]bool{}
	for _, e := range entries {
		if seen[e.identity()] {
			continue // the same certificate twice (upstream and local)
		}
		seen[e.identity()] = true
		out = append(out, e)
	}
	slices.SortFunc(out, func(a, b SnapshotEntry) int {
		return strings.Compare(a.CertificateType+a.Country+a.KID+a.Thumbprint, b.CertificateType+b.Country+b.KID+b.Thumbprint)
	})
	for i := range out {
		if old, ok := known[out[i].identity()]; ok {
			out[i].ID, out[i].Since = old.ID, old.Since
			if out[i].Since.IsZero() && prev != nil {
				out[i].Since = prev.IssuedAt // listed before history was kept
			}
		} else {
			next++
			out[i].ID, out[i].Since = next, issuedAt
		}
	}
	slices.SortFunc(out, func(a, b SnapshotEntry) int { return cmp.Compare(a.ID, b.ID) })
	snap := &Snapshot{Format: snapshotFormat, IssuedAt: issuedAt, Source: source, Entries: out}
	snap.Removed = removals(prev, seen, issuedAt)
	return snap
}

// removals are prev's removals still remembered and not listed again,
// plus prev's entries this snapshot (whose identities are listed) lacks.
func removals(prev *Snapshot, listed map[string]bool, now time.Time) []Removal {
	if prev == nil {
		return nil
	}
	var out []Removal
	for _, r := range prev.Removed {
		if !listed[r.identity()] && now.Sub(r.At) < RemovedKeep {
			out = append(out, r)
		}
	}
	for _, e := range prev.Entries {
		if !listed[e.identity()] {
			out = append(out, Removal{Entry: e.Entry, At: now})
		}
	}
	return out
}

func (r Removal) identity() string { return SnapshotEntry{Entry: r.Entry}.identity() }

func (e SnapshotEntry) identity() string {
	return e.CertificateType + "/" + strings.ToLower(e.Thumbprint)
}

// OfType returns the entries of one certificate type, in ID order.
func (s *Snapshot) OfType(typ string) []SnapshotEntry {
	var out []SnapshotEntry
	for _, e := range s.Entries {
		if e.CertificateType == typ {
			out = append(out, e)
		}
	}
	return out
}

// Encode returns the snapshot's bytes and their SHA-256 (hex), its address.
func (s *Snapshot) Encode() (data []byte, hash string, err error) {
	data, err = json.Marshal(s)
	if err != nil {
		return nil, "", fmt.Errorf("encode snapshot: %w", err)
	}
	return data, sha256Hex(data), nil
}

// DecodeSnapshot reads a snapshot and checks that its bytes hash to
// wantHash: a truncated or altered snapshot is refused.
func DecodeSnapshot(data []byte, wantHash string) (*Snapshot, error) {
	if len(data) > MaxSnapshotSize {
		return nil, fmt.Errorf("snapshot of %d bytes exceeds %d", len(data), MaxSnapshotSize)
	}
	if got := sha256Hex(data); got != wantHash {
		return nil, fmt.Errorf("snapshot %s: content hashes to %s", short(wantHash), short(got))
	}
	var s Snapshot
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("snapshot %s: %w", short(wantHash), err)
	}
	if s.Format != snapshotFormat {
		return nil, fmt.Errorf("snapshot %s: format %d, this version reads %d", short(wantHash), s.Format, snapshotFormat)
	}
	return &s, nil
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// short is a hash prefix for messages.
func short(hash string) string {
	if len(hash) > 12 {
		return hash[:12]
	}
	return hash
}
