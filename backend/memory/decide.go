package memory

import (
	"math"
	"time"

	"github.com/ginlimit/ginlimit/backend"
)

// counter is one limit's state. Its fields mean what the entry's strategy says
// (see fixed.go, sliding.go and bucket.go); all times are Unix nanoseconds.
//
// Counts are stored in 32 bits, which keeps an entry in one cache line, and
// worked on in 64: a count is never more than its limit's Count, at most
// backend.MaxCount (checkCall), as no cost above the Count is ever consumed.
type counter struct {
	at   int64 // fixed: window start; sliding: window index; token bucket: TAT
	curr int32 // fixed: units in the window; sliding: units in the current window
	prev int32 // sliding: units in the previous window
}

// A count of backend.MaxCount must fit a counter's int32.
const _ uint32 = math.MaxInt32 - backend.MaxCount

// decide checks every limit, consumes cost from all of them only if all admit
// it, and records the outcome in r, which is zero. counters[i] is limits[i]'s
// state. The caller holds the shard lock. r is the caller's to fill in place:
// a Result is large, and returning it would copy it.
func (e *entry) decide(r *backend.Result, counters []counter, limits []backend.Limit, now, cost int64) {
	counters = counters[:len(limits)]
	if e.strategy == backend.SlidingWindow {
		for i, l := range limits {
			counters[i].slide(l, now)
		}
	}

	if cost > 0 {
		var wait int64
		for i, l := range limits {
			wait = max(wait, e.wait(&counters[i], l, now, cost))
		}
		if wait == 0 {
			for i, l := range limits {
				e.consume(&counters[i], l, now, cost)
			}
		}
		r.RetryAfter = time.Duration(wait)
	}
	r.Allowed = r.RetryAfter == 0

	e.expiry = 0
	for i, l := range limits {
		var expiry int64
		r.States[i], expiry = e.state(&counters[i], l, now)
		e.expiry = max(e.expiry, expiry)
	}
}

// wait returns how long until l would admit cost more units, or zero if it
// admits them now. A cost above l's Count is never admitted; its wait is l's
// Period, as backend.Result documents.
func (e *entry) wait(c *counter, l backend.Limit, now, cost int64) int64 {
	if cost > l.Count {
		return int64(l.Period)
	}
	switch e.strategy {
	case backend.FixedWindow:
		return c.fixedWait(l, now, cost)
	case backend.TokenBucket:
		return c.bucketWait(l, now, cost)
	default:
		return c.slidingWait(l, now, cost)
	}
}

// consume records cost units. The caller has checked that l admits them.
func (e *entry) consume(c *counter, l backend.Limit, now, cost int64) {
	switch e.strategy {
	case backend.FixedWindow:
		c.fixedConsume(l, now, cost)
	case backend.TokenBucket:
		c.bucketConsume(l, now, cost)
	default:
		c.slidingConsume(cost)
	}
}

// state describes l at now, and returns the time from which c says nothing a
// fresh counter would not.
func (e *entry) state(c *counter, l backend.Limit, now int64) (backend.LimitState, int64) {
	switch e.strategy {
	case backend.FixedWindow:
		return c.fixedState(l, now)
	case backend.TokenBucket:
		return c.bucketState(l, now)
	default:
		return c.slidingState(l, now)
	}
}
