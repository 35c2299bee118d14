package memory

import (
	"time"

	"github.com/ginlimit/ginlimit/backend"
)

// A token bucket is GCRA. Each unit moves the theoretical arrival time
// (counter.at, the TAT) on by the emission interval T = Period/Count; a request
// is admitted if the TAT it would leave is at most Count*T, the burst
// tolerance, ahead of now. A TAT in the past is a full bucket.

// emission returns T. Allow has checked that it is at least 1ns, and
// Count*T <= Period keeps every product below in range.
func emission(l backend.Limit) int64 { return int64(l.Period) / l.Count }

func (c *counter) bucketWait(l backend.Limit, now, cost int64) int64 {
	t := emission(l)
	tat := max(c.at, now) + cost*t
	return max(0, tat-l.Count*t-now)
}

func (c *counter) bucketConsume(l backend.Limit, now, cost int64) {
	c.at = max(c.at, now) + cost*emission(l)
}

func (c *counter) bucketState(l backend.Limit, now int64) (backend.LimitState, int64) {
	t := emission(l)
	tat := max(c.at, now)
	remaining := min(max((now+l.Count*t-tat)/t, 0), l.Count)
	return backend.LimitState{Remaining: remaining, Reset: time.Duration(tat - now)}, c.at
}
