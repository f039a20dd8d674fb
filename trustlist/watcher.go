package trustlist

import (
	"context"
	"crypto"
	"errors"
	"log/slog"
	"sync/atomic"
	"time"
)

// Watcher keeps the current snapshot of a bucket rendered in memory. It
// reads only the small pointer on each refresh and loads a snapshot only
// when the pointer names another one; a snapshot that fails to load leaves
// the previous view in place.
type Watcher struct {
	snaps   *Snapshots
	signer  crypto.Signer
	log     *slog.Logger
	current atomic.Pointer[View]
}

// NewWatcher watches snaps; views are signed with signer.
func NewWatcher(snaps *Snapshots, signer crypto.Signer, log *slog.Logger) *Watcher {
	return &Watcher{snaps: snaps, signer: signer, log: log}
}

// Current is the current view; nil before any snapshot was published.
func (w *Watcher) Current() *View { return w.current.Load() }

// Refresh loads the current snapshot if it changed. ErrNoSnapshot when
// nothing has been published yet.
func (w *Watcher) Refresh(ctx context.Context) error {
	p, err := w.snaps.Pointer(ctx)
	if err != nil {
		return err
	}
	if cur := w.current.Load(); cur != nil && cur.Hash == p.Snapshot {
		return nil
	}
	snap, err := w.snaps.Load(ctx, p.Snapshot)
	if err != nil {
		return err
	}
	v, errs := NewView(snap, p.Snapshot, w.signer)
	for _, e := range errs {
		w.log.Warn("trust list: entry left out", "error", e)
	}
	w.current.Store(v)
	w.log.Info("trust list loaded", "snapshot", short(v.Hash), "issued_at", v.IssuedAt, "dscs", v.list.Len(), "source", v.Source)
	return nil
}

// Run refreshes every interval until ctx ends. Failures are logged and the
// current view stays.
func (w *Watcher) Run(ctx context.Context, interval time.Duration) {
	every(ctx, interval, nil, func() {
		if err := w.Refresh(ctx); err != nil && !errors.Is(err, ErrNoSnapshot) && ctx.Err() == nil {
			w.log.Warn("trust list refresh failed; serving the previous one", "error", err)
		}
	})
}

// every calls f each interval, and whenever poke delivers, until ctx ends.
func every(ctx context.Context, interval time.Duration, poke <-chan struct{}, f func()) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-poke:
		}
		f()
	}
}

// RevocationWatcher keeps the revocation view: the current snapshot's
// upstream entries plus local ones (this service's issuers' revocations),
// re-rendered whenever the set changes.
type RevocationWatcher struct {
	// Now stamps each rendered view (time.Now when nil).
	Now    func() time.Time
	trust  *Watcher
	local  func(ctx context.Context) ([]Revocation, error)
	signer crypto.Signer
	log    *slog.Logger
	view   atomic.Pointer[RevocationView]
	poke   chan struct{}
}

// NewRevocationWatcher combines trust's upstream revocations with local.
func NewRevocationWatcher(trust *Watcher, local func(ctx context.Context) ([]Revocation, error), signer crypto.Signer, log *slog.Logger) *RevocationWatcher {
	return &RevocationWatcher{trust: trust, local: local, signer: signer, log: log, poke: make(chan struct{}, 1)}
}

// View is the current revocation view, nil before the first Refresh.
func (r *RevocationWatcher) View() *RevocationView { return r.view.Load() }

// Poke asks Run for a refresh now (a revocation was just stored).
func (r *RevocationWatcher) Poke() {
	select {
	case r.poke <- struct{}{}:
	default:
	}
}

// Refresh re-reads the entries and renders them if they changed.
func (r *RevocationWatcher) Refresh(ctx context.Context) error {
	var entries []Revocation
	if v := r.trust.Current(); v != nil {
		entries = append(entries, v.UpstreamRevocations()...)
	}
	if r.local != nil {
		own, err := r.local(ctx)
		if err != nil {
			return err
		}
		entries = append(entries, own...)
	}
	if cur := r.view.Load(); cur != nil && cur.Fingerprint == RevocationFingerprint(entries) {
		return nil
	}
	now := time.Now
	if r.Now != nil {
		now = r.Now
	}
	v, err := NewRevocationView(entries, now(), r.signer)
	if err != nil {
		return err
	}
	r.view.Store(v)
	r.log.Info("revocation list rendered", "entries", v.List().Len())
	return nil
}

// Run refreshes every interval and when poked, until ctx ends.
func (r *RevocationWatcher) Run(ctx context.Context, interval time.Duration) {
	every(ctx, interval, r.poke, func() {
		if err := r.Refresh(ctx); err != nil && ctx.Err() == nil {
			r.log.Warn("revocation list refresh failed; serving the previous one", "error", err)
		}
	})
}
