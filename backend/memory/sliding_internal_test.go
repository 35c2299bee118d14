package memory

import (
	"math/rand/v2"
	"testing"
	"time"
)

// TestSlidingWaitIsLeast checks, over random denied windows, that the wait is
// the least one after which the request is admitted, whether the closed form
// or bisection found it.
func TestSlidingWaitIsLeast(t *testing.T) {
	periods := []time.Duration{time.Second, time.Minute, time.Hour, 24 * time.Hour, 3600 * 24 * 360 * 10 * time.Second}
	rng := rand.New(rand.NewPCG(1, 2))
	var checked, closedForm int
	for range 200_000 {
		period := int64(periods[rng.IntN(len(periods))])
		limit := 1 + rng.Int64N(min(1_000_000_000, period))
		if rng.IntN(2) == 0 {
			limit = 1 + rng.Int64N(20)
		}
		w := slidingWindow{
			prev:    rng.Int64N(limit + 1),
			curr:    rng.Int64N(limit + 1),
			elapsed: rng.Int64N(period),
			period:  period,
			limit:   limit,
			cost:    1 + rng.Int64N(limit),
		}
		if w.admitsAfter(0) {
			continue
		}
		checked++
		d := w.wait()
		if !w.admitsAfter(d) || !(d == 1 || !w.admitsAfter(d-1)) {
			t.Fatalf("%+v: wait %d is not the least", w, d)
		}
		if w.closedFormWait() == d {
			closedForm++
		}
	}
	t.Logf("%d denied windows, closed form exact for %d", checked, closedForm)
}
