package memory

import (
	"time"

	"github.com/ginlimit/ginlimit/backend"
)

// A fixed window starts at the first admitted request (counter.at) and counts
// the units admitted (counter.curr) until at+Period. Once it is over, or if
// nothing was counted, the next admitted request starts a new one.

// fixedUsed returns the units counted in the window open at now, or zero if
// none is open.
func (c *counter) fixedUsed(now int64) int64 {
	if c.curr == 0 || now >= c.at+int64(c.limit.Period) {
		return 0
	}
	return c.curr
}

func (c *counter) fixedWait(now, cost int64) int64 {
	if c.fixedUsed(now)+cost <= c.limit.Count {
		return 0
	}
	// cost alone fits (decide checked), so a window is open until at+Period.
	return c.at + int64(c.limit.Period) - now
}

func (c *counter) fixedConsume(now, cost int64) {
	if c.fixedUsed(now) == 0 {
		c.at, c.curr = now, cost
		return
	}
	c.curr += cost
}

func (c *counter) fixedState(now int64) (backend.LimitState, int64) {
	used := c.fixedUsed(now)
	if used == 0 {
		return backend.LimitState{Remaining: c.limit.Count, Reset: c.limit.Period}, 0
	}
	end := c.at + int64(c.limit.Period)
	return backend.LimitState{Remaining: c.limit.Count - used, Reset: time.Duration(end - now)}, end
}
