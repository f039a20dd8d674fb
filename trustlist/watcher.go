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
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := w.Refresh(ctx); err != nil && !errors.Is(err, ErrNoSnapshot) && ctx.Err() == nil {
			w.log.Warn("trust list refresh failed; serving the previous one", "error", err)
		}
	}
}
