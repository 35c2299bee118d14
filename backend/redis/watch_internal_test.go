package redis

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/ginlimit/ginlimit/backend"
)

// TestWatchAt checks how a cached denial's Result moves on with time: the
// wait and every Reset count down, a sliding window's Reset wraps into the
// next window, and a fixed window that ended shows a fresh one.
func TestWatchAt(t *testing.T) {
	sent := time.Unix(1000, 0)
	limits := []backend.Limit{{Count: 5, Period: time.Second}, {Count: 100, Period: time.Minute}}
	res := backend.Result{RetryAfter: 40 * time.Second, Now: sent.Add(time.Millisecond)}
	res.States[0] = backend.LimitState{Remaining: 3, Reset: 300 * time.Millisecond}
	res.States[1] = backend.LimitState{Remaining: 0, Reset: 40 * time.Second}

	tests := []struct {
		strategy backend.Strategy
		want     backend.LimitState // of the one-second limit, 500ms later
	}{
		{backend.SlidingWindow, backend.LimitState{Remaining: 3, Reset: 800 * time.Millisecond}},
		{backend.FixedWindow, backend.LimitState{Remaining: 5, Reset: time.Second}},
		{backend.TokenBucket, backend.LimitState{Remaining: 3, Reset: 0}},
	}
	for _, tt := range tests {
		t.Run(tt.strategy.String(), func(t *testing.T) {
			w := &watch{sent: sent, received: sent, until: sent.Add(res.RetryAfter), result: res,
				policy: backend.Policy{Strategy: tt.strategy, Limits: limits}}
			got := w.at(sent.Add(500 * time.Millisecond))
			assert.Equal(t, 39500*time.Millisecond, got.RetryAfter)
			assert.Equal(t, res.Now.Add(500*time.Millisecond), got.Now)
			assert.Equal(t, tt.want, got.States[0])
			assert.Equal(t, backend.LimitState{Remaining: 0, Reset: 39500 * time.Millisecond}, got.States[1])
		})
	}
}

// TestWatchCountsFromTheReply checks the two clocks of a watch: it stops
// denying RetryAfter after the call was sent (never past the server's own
// retry time), while the Results it gives count from the reply, so that
// their RetryAfter is never shorter than the server's.
func TestWatchCountsFromTheReply(t *testing.T) {
	sent := time.Unix(1000, 0)
	received := sent.Add(30 * time.Millisecond) // the call took 30ms
	res := backend.Result{RetryAfter: time.Second, Now: sent.Add(10 * time.Millisecond)}
	res.States[0] = backend.LimitState{Remaining: 0, Reset: time.Second}
	w := &watch{sent: sent, received: received, until: sent.Add(res.RetryAfter), result: res,
		policy: backend.Policy{Strategy: backend.FixedWindow, Limits: []backend.Limit{{Count: 1, Period: time.Second}}}}

	got := w.at(received.Add(500 * time.Millisecond))
	assert.Equal(t, 500*time.Millisecond, got.RetryAfter)
	assert.Equal(t, 500*time.Millisecond, got.States[0].Reset)
	assert.Equal(t, res.Now.Add(500*time.Millisecond), got.Now)
	assert.Equal(t, sent.Add(time.Second), w.until, "the watch ends by the send time")
}
