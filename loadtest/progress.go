package loadtest

import (
	"fmt"
	"io"
	"net/http"
	"sync/atomic"
	"time"
)

// liveCounters are what the progress line shows while the test runs.
type liveCounters struct {
	requests, created, limited, busy, other, errors atomic.Uint64
}

func (c *liveCounters) count(status int) {
	c.requests.Add(1)
	switch status {
	case http.StatusCreated:
		c.created.Add(1)
	case http.StatusTooManyRequests:
		c.limited.Add(1)
	case http.StatusServiceUnavailable:
		c.busy.Add(1)
	default:
		c.other.Add(1)
	}
}

// report writes a line every interval until stop is closed.
func (c *liveCounters) report(w io.Writer, every time.Duration, start time.Time, stop <-chan struct{}) {
	t := time.NewTicker(every)
	defer t.Stop()
	var last uint64
	for {
		select {
		case <-stop:
			return
		case now := <-t.C:
			n := c.requests.Load()
			fmt.Fprintf(w, "%6.1fs  %7.0f req/s  201 %d  429 %d  503 %d  other %d  errors %d\n",
				now.Sub(start).Seconds(), float64(n-last)/every.Seconds(),
				c.created.Load(), c.limited.Load(), c.busy.Load(), c.other.Load(), c.errors.Load())
			last = n
		}
	}
}
