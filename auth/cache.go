package auth

import (
	"sync"
	"time"
)

// TokenVerifier checks a token (Verifier does).
type TokenVerifier interface {
	Verify(token string) (*Identity, error)
}

// Cache remembers tokens that verified, until they expire, so that a
// client reusing its token does not cost an ECDSA verification per
// request (about 80 µs — under a launch-day crowd that is most of a
// core). Refusals are not cached. At most max tokens are held.
type Cache struct {
	next TokenVerifier
	now  func() time.Time
	max  int

	mu sync.RWMutex
	m  map[string]*Identity
}

// NewCache wraps next with a cache of at most max tokens (10,000 when
// zero) at the clock now (time.Now when nil).
func NewCache(next TokenVerifier, max int, now func() time.Time) *Cache {
	if max <= 0 {
		max = 10000
	}
	if now == nil {
		now = time.Now
	}
	return &Cache{next: next, now: now, max: max, m: map[string]*Identity{}}
}

// Verify returns the cached identity of a token still within its expiry
// (with the verifier's leeway), and otherwise asks the wrapped verifier.
func (c *Cache) Verify(token string) (*Identity, error) {
	now := c.now()
	c.mu.RLock()
	id, ok := c.m[token]
	c.mu.RUnlock()
	if ok && now.Before(id.Expires.Add(leeway)) {
		cp := *id
		return &cp, nil
	}
	id, err := c.next.Verify(token)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if len(c.m) >= c.max {
		c.evict(now)
	}
	c.m[token] = id
	c.mu.Unlock()
	cp := *id
	return &cp, nil
}

// evict drops expired tokens, then arbitrary ones down to half the bound.
func (c *Cache) evict(now time.Time) {
	for k, id := range c.m {
		if !now.Before(id.Expires.Add(leeway)) {
			delete(c.m, k)
		}
	}
	for k := range c.m {
		if len(c.m) < c.max/2 {
			break
		}
		delete(c.m, k)
	}
}

// Len is the number of cached tokens.
func (c *Cache) Len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.m)
}
