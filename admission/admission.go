// Package admission keeps an overloaded service answering: a gate bounds
// how much work runs at once and how long excess work may wait for it,
// and per-client token buckets keep one client from taking everyone's
// share. Refusals are cheap and immediate, so that a crowd gets a fast
// "come back later" instead of timeouts, and memory stays bounded.
package admission

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// ErrBusy is a refusal by the gate: all slots were taken and the queue was
// full, or no slot freed up within the queue wait.
var ErrBusy = errors.New("service busy")

// Gate admits at most Slots requests at once; up to Queue more wait, each
// at most Wait, in arrival order.
type Gate struct {
	slots    chan struct{}
	waiting  atomic.Int64
	maxQueue int64
	maxWait  time.Duration
}

// NewGate returns a gate with the given slots, queue length and queue wait.
func NewGate(slots, queue int, wait time.Duration) (*Gate, error) {
	if slots < 1 || queue < 0 || wait < 0 {
		return nil, fmt.Errorf("admission: slots must be ≥ 1, queue and wait ≥ 0 (got %d, %d, %v)", slots, queue, wait)
	}
	return &Gate{slots: make(chan struct{}, slots), maxQueue: int64(queue), maxWait: wait}, nil
}

// Enter waits for a slot and returns the function that frees it. It fails
// with ErrBusy when the queue is full or the wait runs out, and with the
// context's error when ctx ends first.
func (g *Gate) Enter(ctx context.Context) (leave func(), err error) {
	select {
	case g.slots <- struct{}{}:
		return g.leave, nil
	default:
	}
	if g.waiting.Add(1) > g.maxQueue {
		g.waiting.Add(-1)
		return nil, ErrBusy
	}
	defer g.waiting.Add(-1)
	t := time.NewTimer(g.maxWait)
	defer t.Stop()
	select {
	case g.slots <- struct{}{}:
		return g.leave, nil
	case <-t.C:
		return nil, ErrBusy
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (g *Gate) leave() { <-g.slots }

// InFlight is the number of admitted requests; Waiting those queued.
func (g *Gate) InFlight() int { return len(g.slots) }

// Waiting is the number of queued requests.
func (g *Gate) Waiting() int { return int(g.waiting.Load()) }

// Rates holds one token bucket per client: Rate requests per second with
// bursts of Burst. Buckets of idle clients are dropped when the table
// grows past its bound, so memory stays bounded however many clients
// come.
type Rates struct {
	rate  rate.Limit
	burst int
	max   int
	now   func() time.Time

	mu      sync.Mutex
	buckets map[string]*rate.Limiter
}

// NewRates returns per-client limits of perSecond with bursts of burst,
// keeping at most maxClients buckets (10,000 when zero). now is the clock
// (time.Now when nil). perSecond ≤ 0 turns limiting off.
func NewRates(perSecond float64, burst, maxClients int, now func() time.Time) *Rates {
	if maxClients <= 0 {
		maxClients = 10000
	}
	if burst < 1 {
		burst = 1
	}
	if now == nil {
		now = time.Now
	}
	return &Rates{rate: rate.Limit(perSecond), burst: burst, max: maxClients, now: now, buckets: map[string]*rate.Limiter{}}
}

// Allow takes a token from client's bucket and returns the function that
// puts it back (for a request refused later for another reason). When
// there is no token it says how long until there will be.
func (r *Rates) Allow(client string) (ok bool, retryAfter time.Duration, undo func()) {
	if r == nil || r.rate <= 0 {
		return true, 0, func() {}
	}
	now := r.now()
	r.mu.Lock()
	defer r.mu.Unlock()
	b := r.buckets[client]
	if b == nil {
		if len(r.buckets) >= r.max {
			r.evict(now)
		}
		b = rate.NewLimiter(r.rate, r.burst)
		r.buckets[client] = b
	}
	res := b.ReserveN(now, 1)
	if d := res.DelayFrom(now); d > 0 {
		res.CancelAt(now)
		return false, d, nil
	}
	// Cancelling "at" the reservation time restores the token; a later
	// time would count it as already used.
	return true, 0, func() { res.CancelAt(now) }
}

// evict drops the buckets that are full again (their clients have been
// idle long enough that forgetting them changes nothing); if none is,
// it drops an arbitrary half, which at worst grants those clients a fresh
// burst.
func (r *Rates) evict(now time.Time) {
	for k, b := range r.buckets {
		if b.TokensAt(now) >= float64(r.burst) {
			delete(r.buckets, k)
		}
	}
	for k := range r.buckets {
		if len(r.buckets) < r.max/2 {
			break
		}
		delete(r.buckets, k)
	}
}

// Clients is the number of buckets held.
func (r *Rates) Clients() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.buckets)
}
