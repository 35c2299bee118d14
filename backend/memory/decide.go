package memory

import (
	"time"

	"github.com/ginlimit/ginlimit/backend"
)

// counter is one limit's state. Its fields mean what the entry's strategy says
// (see fixed.go, sliding.go and bucket.go); all times are Unix nanoseconds.
type counter struct {
	limit backend.Limit // the limit the counter is kept for
	at    int64         // fixed: window start; sliding: window index; token bucket: TAT
	curr  int64         // fixed: units in the window; sliding: units in the current window
	prev  int64         // sliding: units in the previous window
}

// decide checks every limit, consumes cost from all of them only if all admit
// it, and returns the result. The caller holds the entry's shard lock.
func (e *entry) decide(limits []backend.Limit, now, cost int64) backend.Result {
	counters := e.counters[:len(limits)]
	for i, l := range limits {
		c := &counters[i]
		// A counter kept for another limit says nothing about this one.
		if c.limit != l {
			*c = counter{limit: l}
		}
		if e.strategy == backend.SlidingWindow {
			c.slide(now)
		}
	}

	var r backend.Result
	if cost > 0 {
		var wait int64
		for i := range counters {
			wait = max(wait, e.wait(&counters[i], now, cost))
		}
		if wait == 0 {
			for i := range counters {
				e.consume(&counters[i], now, cost)
			}
		}
		r.RetryAfter = time.Duration(wait)
	}
	r.Allowed = r.RetryAfter == 0

	e.expiry = 0
	for i := range counters {
		var expiry int64
		r.States[i], expiry = e.state(&counters[i], now)
		e.expiry = max(e.expiry, expiry)
	}
	return r
}

// wait returns how long until c's limit would admit cost more units, or zero
// if it admits them now. A cost above the limit's Count is never admitted; its
// wait is the limit's Period, as backend.Result documents.
func (e *entry) wait(c *counter, now, cost int64) int64 {
	if cost > c.limit.Count {
		return int64(c.limit.Period)
	}
	switch e.strategy {
	case backend.FixedWindow:
		return c.fixedWait(now, cost)
	case backend.TokenBucket:
		return c.bucketWait(now, cost)
	default:
		return c.slidingWait(now, cost)
	}
}

// consume records cost units. The caller has checked that c's limit admits
// them.
func (e *entry) consume(c *counter, now, cost int64) {
	switch e.strategy {
	case backend.FixedWindow:
		c.fixedConsume(now, cost)
	case backend.TokenBucket:
		c.bucketConsume(now, cost)
	default:
		c.slidingConsume(cost)
	}
}

// state describes c's limit at now, and returns the time from which c says
// nothing a fresh counter would not.
func (e *entry) state(c *counter, now int64) (backend.LimitState, int64) {
	switch e.strategy {
	case backend.FixedWindow:
		return c.fixedState(now)
	case backend.TokenBucket:
		return c.bucketState(now)
	default:
		return c.slidingState(now)
	}
}
