package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Errors of leases.
var (
	// ErrLeaseHeld: another holder has the lease and it has not expired.
	ErrLeaseHeld = errors.New("lease held by another holder")
	// ErrLeaseLost: the lease expired (or was taken over) since it was
	// acquired or last renewed.
	ErrLeaseLost = errors.New("lease lost")
)

// Lease is a named lock held by one holder at a time among all processes
// that share an engine, e.g. the trust-list sync across every instance of a
// scaled deployment. It expires after its TTL unless renewed, so a holder
// that crashed blocks the others only until then.
type Lease struct {
	e       Engine
	name    string
	token   string
	version int64
	ttl     time.Duration
	now     func() time.Time
}

type leaseRecord struct {
	Holder     string    `json:"holder"`
	Token      string    `json:"token"`
	AcquiredAt time.Time `json:"acquiredAt"`
}

// AcquireLease takes the lease name for ttl on behalf of holder (a
// description for operators: host, process). ErrLeaseHeld when someone
// else holds it. now is the clock (time.Now when nil).
func AcquireLease(ctx context.Context, e Engine, name, holder string, ttl time.Duration, now func() time.Time) (*Lease, error) {
	if ttl <= 0 {
		return nil, fmt.Errorf("lease %s: ttl must be positive", name)
	}
	if now == nil {
		now = time.Now
	}
	var t [16]byte
	rand.Read(t[:])
	l := &Lease{e: e, name: name, token: hex.EncodeToString(t[:]), ttl: ttl, now: now}
	data, err := json.Marshal(leaseRecord{Holder: holder, Token: l.token, AcquiredAt: now().UTC()})
	if err != nil {
		return nil, err
	}
	r, err := e.Insert(ctx, Leases, name, now().Add(ttl), data)
	switch {
	case errors.Is(err, ErrExists):
		if cur, gerr := e.Get(ctx, Leases, name); gerr == nil {
			var rec leaseRecord
			if json.Unmarshal(cur.Data, &rec) == nil {
				return nil, fmt.Errorf("lease %s: %w (%s, until %s)", name, ErrLeaseHeld, rec.Holder, cur.ExpiresAt.Format(time.RFC3339))
			}
		}
		return nil, fmt.Errorf("lease %s: %w", name, ErrLeaseHeld)
	case err != nil:
		return nil, fmt.Errorf("lease %s: %w", name, err)
	}
	l.version = r.Version
	return l, nil
}

// Renew extends the lease by its TTL from now; ErrLeaseLost if it is no
// longer this holder's.
func (l *Lease) Renew(ctx context.Context) error {
	return l.update(ctx, l.now().Add(l.ttl))
}

// Release gives the lease up at once; a lease already lost is not an
// error.
func (l *Lease) Release(ctx context.Context) error {
	err := l.update(ctx, l.now())
	if errors.Is(err, ErrLeaseLost) {
		return nil
	}
	return err
}

// update sets the expiry if the record is still the one this holder
// wrote: same token, same version. Versions grow across expired
// re-inserts, so a successor's record never matches.
func (l *Lease) update(ctx context.Context, expiresAt time.Time) error {
	cur, err := l.e.Get(ctx, Leases, l.name)
	if errors.Is(err, ErrNotFound) {
		return fmt.Errorf("lease %s: %w", l.name, ErrLeaseLost)
	}
	if err != nil {
		return fmt.Errorf("lease %s: %w", l.name, err)
	}
	var rec leaseRecord
	if err := json.Unmarshal(cur.Data, &rec); err != nil || rec.Token != l.token || cur.Version != l.version {
		return fmt.Errorf("lease %s: %w", l.name, ErrLeaseLost)
	}
	r, err := l.e.Update(ctx, Leases, l.name, l.version, expiresAt, cur.Data)
	if errors.Is(err, ErrConflict) || errors.Is(err, ErrNotFound) {
		return fmt.Errorf("lease %s: %w", l.name, ErrLeaseLost)
	}
	if err != nil {
		return fmt.Errorf("lease %s: %w", l.name, err)
	}
	l.version = r.Version
	return nil
}
