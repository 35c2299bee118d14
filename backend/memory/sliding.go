package memory

import (
	"math"
	"time"

	"github.com/ginlimit/ginlimit/backend"
)

// A sliding window counts units in windows aligned to multiples of Period since
// the Unix epoch: counter.at is the current window's index (now/Period),
// counter.curr its count and counter.prev the previous window's. The previous
// count is weighted by how much of it a window of one Period ending now still
// overlaps.

// slide moves c to the window holding now. It changes no decision, so decide
// runs it before anything else.
func (c *counter) slide(l backend.Limit, now int64) {
	idx := now / int64(l.Period)
	if c.at >= idx {
		// c.at > idx means the clock went back; keep the counts rather than
		// forget them.
		return
	}
	if c.at == idx-1 {
		c.prev = c.curr
	} else {
		c.prev = 0
	}
	c.at, c.curr = idx, 0
}

// elapsed returns the time since the start of c's window, which slide has
// moved to now's. It is never negative, even if the clock went back.
func (c *counter) elapsed(l backend.Limit, now int64) int64 {
	return max(0, now-c.at*int64(l.Period))
}

func (c *counter) slidingWait(l backend.Limit, now, cost int64) int64 {
	// The estimate is at most prev+curr, so a cost that fits beside both
	// whole counts fits; most requests do, and need no float arithmetic.
	if int64(c.prev)+int64(c.curr)+cost <= l.Count {
		return 0
	}
	w := slidingWindow{
		prev:    int64(c.prev),
		curr:    int64(c.curr),
		elapsed: c.elapsed(l, now),
		period:  int64(l.Period),
		limit:   l.Count,
		cost:    cost,
	}
	if w.admitsAfter(0) {
		return 0
	}
	return w.wait()
}

func (c *counter) slidingConsume(cost int64) {
	c.curr = int32(int64(c.curr) + cost)
}

func (c *counter) slidingState(l backend.Limit, now int64) (backend.LimitState, int64) {
	period := int64(l.Period)
	elapsed := c.elapsed(l, now)
	remaining := math.Floor(float64(l.Count) - estimate(int64(c.prev), int64(c.curr), period, elapsed))
	var expiry int64
	switch {
	case c.curr > 0:
		expiry = (c.at + 2) * period // curr still weighs in the next window
	case c.prev > 0:
		expiry = (c.at + 1) * period
	}
	return backend.LimitState{
		Remaining: int64(max(0, remaining)),
		Reset:     time.Duration(period - elapsed),
	}, expiry
}

// estimate returns the weighted count elapsed nanoseconds into a window.
func estimate(prev, curr, period, elapsed int64) float64 {
	return float64(prev)*float64(period-elapsed)/float64(period) + float64(curr)
}

// slidingWindow is a denied request's view of a sliding window, from which
// its wait is worked out. cost is at most limit.
type slidingWindow struct {
	prev, curr      int64
	elapsed, period int64
	limit, cost     int64
}

// admitsAfter reports whether the request would be admitted d nanoseconds
// from now, if nothing is consumed in between.
func (w slidingWindow) admitsAfter(d int64) bool {
	prev, curr, elapsed := w.prev, w.curr, w.elapsed+d
	switch {
	case elapsed >= 2*w.period:
		return true // both counts have slid out, and cost <= limit
	case elapsed >= w.period:
		prev, curr, elapsed = curr, 0, elapsed-w.period
	}
	return estimate(prev, curr, w.period, elapsed)+float64(w.cost) <= float64(w.limit)
}

// wait returns the least d > 0 for which admitsAfter(d) holds. The estimate
// only falls as time passes, so such a d is where the closed form says, up to
// float rounding; the result is checked against admitsAfter itself, and found
// by bisection if the closed form misses.
func (w slidingWindow) wait() int64 {
	if d := w.closedFormWait(); d >= 1 && w.admitsAfter(d) && !w.admitsAfter(d-1) {
		return d
	}
	lo, hi := int64(0), 2*w.period-w.elapsed // admitsAfter(lo) is false, admitsAfter(hi) true
	for hi-lo > 1 {
		mid := lo + (hi-lo)/2
		if w.admitsAfter(mid) {
			hi = mid
		} else {
			lo = mid
		}
	}
	return hi
}

// closedFormWait solves estimate+cost <= limit for the wait, or returns 0.
func (w slidingWindow) closedFormWait() int64 {
	period := float64(w.period)
	room := w.limit - w.cost // the most the estimate may be for cost to fit
	var d float64
	switch {
	case w.curr <= room && w.prev > 0:
		// In this window, once prev*(period-e)/period <= room-curr.
		d = math.Ceil(period-float64(room-w.curr)*period/float64(w.prev)) - float64(w.elapsed)
	case w.curr > 0:
		// In the next window, where curr becomes the previous count.
		d = float64(w.period-w.elapsed) + math.Ceil(period-float64(room)*period/float64(w.curr))
	}
	if !(d >= 1 && d <= float64(2*w.period)) {
		return 0
	}
	return int64(d)
}
