package admission

import (
	"math"
	"math/rand/v2"
	"sync"
	"time"
)

// Counter reports the requests a gate admitted and refused so far (Gate).
type Counter interface {
	Counts() (admitted, refused uint64)
}

// Backoff advises refused clients how long to stay away (Retry-After).
//
// A crowd told "1 to 3 seconds" comes back within 3 seconds however large
// it is: at ten times the capacity most of what the server answers is
// refusals, each costing the CPU a fraction of a certificate. Backoff
// spreads the returns over a window that follows the refusals: it aims at
// refused requests being at most a tenth of the admitted ones. Refused
// clients that come back once per mean wait make refusals inversely
// proportional to that wait, so the mean wait is scaled by refusals ÷
// (a tenth of admissions) once per mean wait (2 to 15.5 seconds), by
// at most a factor of two each time; a quiet spell halves it for every
// window that passed. The advice is a whole number of seconds, uniform
// from 1 to the spread, which stays between 3 and 30 seconds.
type Backoff struct {
	src  Counter
	now  func() time.Time
	intn func(int) int

	mu                sync.Mutex
	spread            float64 // seconds
	at                time.Time
	admitted, refused uint64
}

// Bounds of the spread and the share of refusals it aims at.
const (
	MinSpread    = 3
	MaxSpread    = 30
	refusedShare = 0.1
)

// NewBackoff returns advice following src's refusals. now is the clock
// (time.Now when nil); intn draws from [0, n) (math/rand/v2's IntN when
// nil).
func NewBackoff(src Counter, now func() time.Time, intn func(int) int) *Backoff {
	if now == nil {
		now = time.Now
	}
	if intn == nil {
		intn = rand.IntN
	}
	return &Backoff{src: src, now: now, intn: intn, spread: MinSpread}
}

// RetryAfter is the number of seconds the client just refused should
// wait: 1 to Spread.
func (b *Backoff) RetryAfter() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.update()
	return 1 + b.intn(b.whole())
}

// Spread is the longest wait advised now, in seconds.
func (b *Backoff) Spread() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.update()
	return b.whole()
}

func (b *Backoff) whole() int { return int(math.Round(b.spread)) }

// update moves the spread when a window has passed; b.mu is held.
func (b *Backoff) update() {
	now := b.now()
	if b.at.IsZero() {
		b.at = now
		b.admitted, b.refused = b.src.Counts()
		return
	}
	window := (1 + b.spread) / 2 // the mean wait, in seconds, of a uniform 1..spread
	elapsed := now.Sub(b.at).Seconds()
	if elapsed < window {
		return // the gate's counts are read once a window, not per refusal
	}
	admitted, refused := b.src.Counts()
	da, dr := float64(admitted-b.admitted), float64(refused-b.refused)
	b.at, b.admitted, b.refused = now, admitted, refused
	factor := 2.0
	if da > 0 {
		factor = dr / (refusedShare * da)
	} else if dr == 0 {
		factor = 0
	}
	factor = min(max(factor, math.Pow(0.5, elapsed/window)), 2)
	b.spread = min(max(2*window*factor-1, MinSpread), MaxSpread)
}
