// Package admission keeps an overloaded service answering: a gate bounds
// how much work runs at once and how long excess work may wait for it,
// and per-client token buckets keep one client from taking everyone's
// share; a governor moves the gate's limit with the CPU's load, so work
// does not queue where no gate sees it. Refusals are cheap and immediate,
// so that a crowd gets a fast "come back later" instead of timeouts, and
// memory stays bounded; a backoff spreads the crowd's return over a
// window that grows with it.
package admission

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// ErrBusy is a refusal by the gate: all slots were taken and the queue was
// full, or no slot freed up within the queue wait.
var ErrBusy = errors.New("service busy")

// Gate admits at most Limit requests at once; up to Queue more wait, each
// at most Wait, in arrival order. The limit may be moved at run time
// (SetLimit, a Governor) between 1 and the number of slots it was made
// with.
type Gate struct {
	maxQueue int
	maxWait  time.Duration
	max      int

	mu       sync.Mutex
	limit    int
	inFlight int
	queue    list.List // of *waiter, oldest first
	admitted uint64
	refused  uint64 // ErrBusy only
}

type waiter struct {
	ready   chan struct{}
	granted bool // under Gate.mu
}

// NewGate returns a gate with the given slots, queue length and queue wait.
func NewGate(slots, queue int, wait time.Duration) (*Gate, error) {
	if slots < 1 || queue < 0 || wait < 0 {
		return nil, fmt.Errorf("admission: slots must be ≥ 1, queue and wait ≥ 0 (got %d, %d, %v)", slots, queue, wait)
	}
	return &Gate{max: slots, limit: slots, maxQueue: queue, maxWait: wait}, nil
}

// Enter waits for a slot and returns the function that frees it. It fails
// with ErrBusy when the queue is full or the wait runs out, and with the
// context's error when ctx ends first.
func (g *Gate) Enter(ctx context.Context) (leave func(), err error) {
	g.mu.Lock()
	if g.inFlight < g.limit && g.queue.Len() == 0 {
		g.inFlight++
		g.admitted++
		g.mu.Unlock()
		return g.leave, nil
	}
	if g.queue.Len() >= g.maxQueue {
		g.refused++
		g.mu.Unlock()
		return nil, ErrBusy
	}
	w := &waiter{ready: make(chan struct{})}
	e := g.queue.PushBack(w)
	g.mu.Unlock()

	t := time.NewTimer(g.maxWait)
	defer t.Stop()
	select {
	case <-w.ready:
		return g.leave, nil
	case <-t.C:
		err = ErrBusy
	case <-ctx.Done():
		err = ctx.Err()
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if w.granted { // a slot came at the same moment: it is ours to free
		g.admitted--
		g.inFlight--
		g.grant()
	} else {
		g.queue.Remove(e)
	}
	if err == ErrBusy {
		g.refused++
	}
	return nil, err
}

func (g *Gate) leave() {
	g.mu.Lock()
	g.inFlight--
	g.grant()
	g.mu.Unlock()
}

// grant hands free slots to the oldest waiters; g.mu is held.
func (g *Gate) grant() {
	for g.inFlight < g.limit && g.queue.Len() > 0 {
		w := g.queue.Remove(g.queue.Front()).(*waiter)
		w.granted = true
		g.inFlight++
		g.admitted++
		close(w.ready)
	}
}

// SetLimit moves the number of requests admitted at once, within 1 and
// the gate's slots. Requests in flight above a lowered limit finish;
// new ones wait until the count is under it.
func (g *Gate) SetLimit(n int) {
	n = min(max(n, 1), g.max)
	g.mu.Lock()
	g.limit = n
	g.grant()
	g.mu.Unlock()
}

// Limit is the number of requests admitted at once now; Slots the most it
// can be.
func (g *Gate) Limit() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.limit
}

// Counts are the requests admitted and refused as busy so far.
func (g *Gate) Counts() (admitted, refused uint64) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.admitted, g.refused
}

// Slots is the limit the gate was made with.
func (g *Gate) Slots() int { return g.max }

// InFlight is the number of admitted requests.
func (g *Gate) InFlight() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.inFlight
}

// Waiting is the number of queued requests.
func (g *Gate) Waiting() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.queue.Len()
}

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
