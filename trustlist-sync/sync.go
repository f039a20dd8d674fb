package trustlistsync

import (
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/greenpass-dcc/greenpass/trustlist"
)

// Errors Run returns; in each case the last good snapshot stays current.
var (
	// ErrUpstream: the source could not be read or is not a trust list.
	ErrUpstream = errors.New("upstream trust list unavailable or invalid")
	// ErrTooMuchLoss: the new list lost more of the last good one than
	// allowed; Force publishes it anyway.
	ErrTooMuchLoss = errors.New("new trust list loses too many DSCs of the last good one")
	// ErrBusy: another sync holds the lease.
	ErrBusy = errors.New("another trust-list sync is running")
)

// Lock is the lease that lets one sync (or other publisher) run at a time
// across every instance sharing the store.
type Lock interface {
	// Lock takes the lease; ErrBusy-wrapping when it is held. keep renews
	// it (call before long steps); unlock gives it up.
	Lock(ctx context.Context) (keep func(context.Context) error, unlock func(), err error)
}

// Progress is told what the sync is doing; a terminal draws a bar from it.
type Progress interface {
	Step(name string, done, total int64)
}

// Config configures a sync.
type Config struct {
	Source  Source
	Anchors []*x509.Certificate
	// Snapshots is where the result is published; Bucket receives the
	// mirror files (dsc/<kid>.der, trustlist.json).
	Snapshots *trustlist.Snapshots
	Bucket    trustlist.Bucket
	// Signer is the trust-list key, for the mirrored list's signature.
	Signer crypto.Signer
	// Local are this service's own DSCs, published with the upstream ones.
	Local []trustlist.Entry
	// Rules, when set, delivers business rules, value sets and countries;
	// without it the last good snapshot's are kept. DefaultValueSets are
	// published when no value sets are known at all.
	Rules            RulesSource
	DefaultValueSets []trustlist.ValueSetEntry
	Lock             Lock
	// MaxLoss is the largest share (0–1) of the last good list's upstream
	// DSCs the new list may lack; Force publishes regardless.
	MaxLoss float64
	Force   bool
	// DryRun fetches and checks but publishes nothing.
	DryRun   bool
	Now      func() time.Time
	Log      *slog.Logger
	Progress Progress
}

// Report is what a sync did.
type Report struct {
	Source      string  `json:"source"`
	Fetched     int     `json:"fetched"`  // entries delivered (all types)
	Accepted    int     `json:"accepted"` // DSCs accepted
	CSCAs       int     `json:"cscas"`
	Uploads     int     `json:"uploads"`
	Local       int     `json:"local"`
	Dropped     []Drop  `json:"dropped"`
	Rules       int     `json:"rules"`       // business rules published
	ValueSets   int     `json:"valueSets"`   // value sets published
	Revocations int     `json:"revocations"` // upstream revocation entries published
	Previous    int     `json:"previous"`    // upstream DSCs in the last good snapshot
	Lost        int     `json:"lost"`        // of those, missing now
	LostShare   float64 `json:"lostShare"`
	Published   bool    `json:"published"`
	Snapshot    string  `json:"snapshot,omitempty"`
	// Mirror says what changed in the mirror files.
	Mirror   trustlist.MirrorStats `json:"mirror"`
	DryRun   bool                  `json:"dryRun"`
	Duration time.Duration         `json:"-"`
	// DurationSeconds is Duration for JSON readers.
	DurationSeconds float64 `json:"durationSeconds"`
}

// DroppedBy counts dropped entries by reason.
func (r *Report) DroppedBy() map[Code]int {
	m := map[Code]int{}
	for _, d := range r.Dropped {
		m[d.Code]++
	}
	return m
}

// Run performs one sync. It returns the report so far with an error that
// wraps ErrUpstream, ErrTooMuchLoss or ErrBusy, or another error (storage,
// lease lost) — in every case nothing was published, except that a mirror
// failure comes after publication (Report.Published tells).
func Run(ctx context.Context, cfg Config) (*Report, error) {
	start := time.Now()
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	step := func(name string, done, total int64) {
		if cfg.Progress != nil {
			cfg.Progress.Step(name, done, total)
		}
	}
	rep := &Report{Source: cfg.Source.String(), DryRun: cfg.DryRun, Dropped: []Drop{}}
	defer func() {
		rep.Duration = time.Since(start)
		rep.DurationSeconds = rep.Duration.Seconds()
	}()
	if v, ok := cfg.Source.(Vouching); len(cfg.Anchors) == 0 && (!ok || !v.Vouches()) {
		return rep, errors.New("no trust anchor configured")
	}

	keep, unlock := func(context.Context) error { return nil }, func() {}
	if cfg.Lock != nil && !cfg.DryRun {
		var err error
		keep, unlock, err = cfg.Lock.Lock(ctx)
		if err != nil {
			return rep, err
		}
		defer unlock()
	}

	prev, _, err := cfg.Snapshots.Current(ctx)
	if err != nil && !errors.Is(err, trustlist.ErrNoSnapshot) {
		return rep, fmt.Errorf("read the last good snapshot: %w", err)
	}

	step("fetch", 0, 0)
	up, err := cfg.Source.Fetch(ctx, func(n int64) { step("fetch", n, 0) })
	if err != nil {
		return rep, fmt.Errorf("%w: %w", ErrUpstream, err)
	}
	rep.Fetched = len(up.CSCAs) + len(up.Uploads) + len(up.DSCs) + up.Other
	if len(up.DSCs) == 0 {
		return rep, fmt.Errorf("%w: %s lists no DSCs", ErrUpstream, cfg.Source)
	}

	now := cfg.Now()
	checked := Check(up, cfg.Anchors, now, func(done, total int) { step("verify", int64(done), int64(total)) })
	rep.Dropped = append(rep.Dropped, checked.Dropped...)
	rep.Accepted, rep.CSCAs, rep.Uploads, rep.Local = len(checked.DSCs), len(checked.CSCAs), len(checked.Uploads), len(cfg.Local)
	for _, d := range checked.Dropped {
		cfg.Log.Warn("trust list: entry dropped", "type", d.Type, "country", d.Country, "kid", d.KID, "code", d.Code, "detail", d.Detail)
	}

	if len(checked.DSCs) == 0 {
		return rep, fmt.Errorf("%w: none of the %d DSCs of %s verified (wrong trust anchor?)", ErrUpstream, len(up.DSCs), cfg.Source)
	}

	// The loss guard compares upstream DSCs only: our own come and go
	// with our keys.
	accepted := map[string]bool{}
	for _, e := range checked.DSCs {
		accepted[strings.ToLower(e.Thumbprint)] = true
	}
	if prev != nil {
		for _, e := range prev.OfType(trustlist.TypeDSC) {
			if e.Local {
				continue
			}
			rep.Previous++
			if !accepted[strings.ToLower(e.Thumbprint)] {
				rep.Lost++
			}
		}
	}
	if rep.Previous > 0 {
		rep.LostShare = float64(rep.Lost) / float64(rep.Previous)
	}
	if rep.LostShare > cfg.MaxLoss && !cfg.Force {
		return rep, fmt.Errorf("%w: %d of %d (%.1f %%, allowed %.1f %%); publish anyway with --force",
			ErrTooMuchLoss, rep.Lost, rep.Previous, 100*rep.LostShare, 100*cfg.MaxLoss)
	}

	var entries []trustlist.SnapshotEntry
	for _, group := range [][]trustlist.Entry{checked.CSCAs, checked.Uploads, checked.DSCs} {
		for _, e := range group {
			entries = append(entries, trustlist.SnapshotEntry{Entry: e})
		}
	}
	for _, e := range cfg.Local {
		entries = append(entries, trustlist.SnapshotEntry{Entry: e, Local: true})
	}
	snap := trustlist.NewSnapshot(prev, now, cfg.Source.String(), entries)

	if rs, ok := cfg.Source.(revocationSource); ok {
		step("revocation", 0, 0)
		batches, err := rs.FetchRevocations(ctx)
		if err != nil {
			return rep, fmt.Errorf("%w: revocation list: %w", ErrUpstream, err)
		}
		revs, drops := checkBatches(batches, checked.Uploads, now)
		snap.Revocations = revs
		rep.Dropped = append(rep.Dropped, drops...)
	} else if prev != nil {
		snap.Revocations = prev.Revocations
	}
	if cfg.Rules != nil {
		step("rules", 0, 0)
		b, err := cfg.Rules.FetchRules(ctx)
		if err != nil {
			return rep, fmt.Errorf("%w: business rules: %w", ErrUpstream, err)
		}
		snap.Rules, snap.ValueSets, snap.Countries = b.Rules, b.ValueSets, b.Countries
		rep.Dropped = append(rep.Dropped, b.Dropped...)
	}
	trustlist.KeepBusinessData(snap, prev, cfg.DefaultValueSets)
	rep.Rules, rep.ValueSets, rep.Revocations = len(snap.Rules), len(snap.ValueSets), len(snap.Revocations)
	for _, d := range rep.Dropped[len(checked.Dropped):] {
		cfg.Log.Warn("trust list: entry dropped", "type", d.Type, "country", d.Country, "id", d.KID, "code", d.Code, "detail", d.Detail)
	}
	if cfg.DryRun {
		return rep, nil
	}

	step("publish", 0, 0)
	if err := keep(ctx); err != nil {
		return rep, fmt.Errorf("before publishing: %w", err)
	}
	hash, err := cfg.Snapshots.Publish(ctx, snap)
	if err != nil {
		return rep, err
	}
	rep.Published, rep.Snapshot = true, hash
	cfg.Log.Info("trust list published", "snapshot", hash[:12], "dscs", len(checked.DSCs), "local", len(cfg.Local),
		"dropped", len(rep.Dropped), "lost", rep.Lost)

	if cfg.Bucket != nil && cfg.Signer != nil {
		step("mirror", 0, 0)
		if rep.Mirror, err = trustlist.Mirror(ctx, cfg.Bucket, snap, cfg.Signer); err != nil {
			return rep, fmt.Errorf("published, but the mirror files failed: %w", err)
		}
	}
	return rep, nil
}
