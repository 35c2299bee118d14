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
func (c *counter) fixedUsed(l backend.Limit, now int64) int64 {
	if c.curr == 0 || now >= c.at+int64(l.Period) {
		return 0
	}
	return int64(c.curr)
}

func (c *counter) fixedWait(l backend.Limit, now, cost int64) int64 {
	if c.fixedUsed(l, now)+cost <= l.Count {
		return 0
	}
	// cost alone fits (decide checked), so a window is open until at+Period.
	return c.at + int64(l.Period) - now
}

func (c *counter) fixedConsume(l backend.Limit, now, cost int64) {
	if c.fixedUsed(l, now) == 0 {
		c.at, c.curr = now, int32(cost)
		return
	}
	c.curr = int32(int64(c.curr) + cost)
}

func (c *counter) fixedState(l backend.Limit, now int64) (backend.LimitState, int64) {
	used := c.fixedUsed(l, now)
	if used == 0 {
		return backend.LimitState{Remaining: l.Count, Reset: l.Period}, 0
	}
	end := c.at + int64(l.Period)
	return backend.LimitState{Remaining: l.Count - used, Reset: time.Duration(end - now)}, end
}
