package redis

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/ginlimit/ginlimit/backend"
)

// TestWatchAt checks how a cached denial's Result moves on with time, as the
// server's would: the wait and every Reset count down, a sliding window
// slides its counts into the next window, a fixed window that ended shows a
// fresh one, a token bucket refills, and a cost above a limit's count keeps
// that limit's Period as its wait.
func TestWatchAt(t *testing.T) {
	sent := time.Unix(1000, 0)
	limits := []backend.Limit{{Count: 5, Period: time.Second}, {Count: 100, Period: time.Minute}}
	state := func(remaining int64, reset time.Duration) backend.LimitState {
		return backend.LimitState{Remaining: remaining, Reset: reset}
	}
	tests := []struct {
		name     string
		strategy backend.Strategy
		cost     int64
		wait     time.Duration
		give     [2]backend.LimitState
		windows  windows // sliding windows: previous and current counts
		want     [2]backend.LimitState
		wantWait time.Duration // 500ms later
	}{
		{
			// 4 of the previous window and 1 of the current: 4*0.3+1 used
			// of 5; 500ms later, the 1 is the previous window's: 1*0.8.
			name: "sliding", strategy: backend.SlidingWindow, cost: 1, wait: 40 * time.Second,
			give:     [2]backend.LimitState{state(2, 300*time.Millisecond), state(0, 40*time.Second)},
			windows:  windows{{4, 1}, {0, 100}},
			want:     [2]backend.LimitState{state(4, 800*time.Millisecond), state(0, 39500*time.Millisecond)},
			wantWait: 39500 * time.Millisecond,
		},
		{
			name: "fixed", strategy: backend.FixedWindow, cost: 1, wait: 40 * time.Second,
			give:     [2]backend.LimitState{state(3, 300*time.Millisecond), state(0, 40*time.Second)},
			want:     [2]backend.LimitState{state(5, time.Second), state(0, 39500*time.Millisecond)},
			wantWait: 39500 * time.Millisecond,
		},
		{
			name: "fixed, a window not started", strategy: backend.FixedWindow, cost: 1, wait: 40 * time.Second,
			give:     [2]backend.LimitState{state(5, time.Second), state(0, 40*time.Second)},
			want:     [2]backend.LimitState{state(5, time.Second), state(0, 39500*time.Millisecond)},
			wantWait: 39500 * time.Millisecond,
		},
		{
			// A token every 200ms and every 600ms.
			name: "token bucket", strategy: backend.TokenBucket, cost: 1, wait: 600 * time.Millisecond,
			give:     [2]backend.LimitState{state(3, 300*time.Millisecond), state(0, time.Minute)},
			want:     [2]backend.LimitState{state(5, 0), state(0, 59500*time.Millisecond)},
			wantWait: 100 * time.Millisecond,
		},
		{
			name: "cost above a count", strategy: backend.FixedWindow, cost: 6, wait: time.Second,
			give:     [2]backend.LimitState{state(5, time.Second), state(99, 40*time.Second)},
			want:     [2]backend.LimitState{state(5, time.Second), state(99, 39500*time.Millisecond)},
			wantWait: time.Second,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := backend.Result{RetryAfter: tt.wait, Now: sent.Add(time.Millisecond)}
			res.States[0], res.States[1] = tt.give[0], tt.give[1]
			w := &watch{cost: tt.cost, sent: sent, received: sent, until: sent.Add(res.RetryAfter), result: res,
				windows: tt.windows, policy: backend.Policy{Strategy: tt.strategy, Limits: limits}}
			got := w.at(sent.Add(500 * time.Millisecond))
			assert.Equal(t, tt.wantWait, got.RetryAfter)
			assert.Equal(t, res.Now.Add(500*time.Millisecond), got.Now)
			assert.Equal(t, tt.want, [2]backend.LimitState{got.States[0], got.States[1]})
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
		cost: 1, policy: backend.Policy{Strategy: backend.FixedWindow, Limits: []backend.Limit{{Count: 1, Period: time.Second}}}}

	got := w.at(received.Add(500 * time.Millisecond))
	assert.Equal(t, 500*time.Millisecond, got.RetryAfter)
	assert.Equal(t, 500*time.Millisecond, got.States[0].Reset)
	assert.Equal(t, res.Now.Add(500*time.Millisecond), got.Now)
	assert.Equal(t, sent.Add(time.Second), w.until, "the watch ends by the send time")
}
