package httplimit

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ginlimit/ginlimit/backend"
	"github.com/ginlimit/ginlimit/backend/redis"
)

func TestFallbackPolicy(t *testing.T) {
	tests := []struct {
		name     string
		give     string
		fallback string
		want     string
	}{
		{"none", "100/minute", "", "100/minute"},
		{"stricter, same period", "100/minute", "20/minute", "20/minute"},
		{"looser, same period", "5/minute", "20/minute", "5/minute"},
		{"other period added", "100/minute", "10/second", "100/minute;10/second"},
		{"both", "100/minute;1000/hour", "10/minute;50/day", "10/minute;1000/hour;50/day"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			give, err := backend.ParseLimits(tt.give)
			require.NoError(t, err)
			var fallback []backend.Limit
			if tt.fallback != "" {
				fallback, err = backend.ParseLimits(tt.fallback)
				require.NoError(t, err)
			}
			p := backend.Policy{Strategy: backend.FixedWindow, Limits: give}
			got := fallbackPolicy(p, fallback)
			assert.Equal(t, tt.want, backend.FormatLimits(got.Limits))
			assert.Equal(t, backend.FixedWindow, got.Strategy)
			assert.Equal(t, tt.give, backend.FormatLimits(p.Limits), "the policy itself is not changed")
		})
	}
}

func TestBackoff(t *testing.T) {
	for failures := range 12 {
		want := min(probeBackoffMin<<failures, probeBackoffMax)
		for range 100 {
			got := backoff(failures, 0)
			require.LessOrEqual(t, got, want, "failures %d", failures)
			require.Greater(t, got, want*4/5-1, "failures %d", failures)
		}
	}
	assert.LessOrEqual(t, backoff(1000, 0), probeBackoffMax, "no overflow")
}

func TestBreaker(t *testing.T) {
	var b breaker
	now := time.Unix(1000, 0)
	assert.Equal(t, breakerClosed, b.state().state)
	assert.False(t, b.probeDue(now), "a closed breaker needs no probe")

	require.True(t, b.trip(now, "boom"), "the first failure opens it")
	require.False(t, b.trip(now, "again"), "later failures keep it open")
	st := b.state()
	assert.Equal(t, breakerOpen, st.state)
	assert.Equal(t, now, st.since)
	assert.Equal(t, "again", st.lastErr)

	assert.False(t, b.probeDue(now), "no probe before the backoff")
	later := now.Add(probeBackoffMin)
	require.True(t, b.probeDue(later))
	assert.False(t, b.probeDue(later), "one probe at a time")
	assert.Equal(t, breakerHalfOpen, b.state().state)

	closed, _ := b.probed(later, "still down")
	assert.False(t, closed)
	assert.Greater(t, b.retryIn(later), probeBackoffMin*4/5-1, "the backoff grew")
	assert.False(t, b.probeDue(later.Add(probeBackoffMin)))

	again := later.Add(2 * probeBackoffMin)
	require.True(t, b.probeDue(again))
	closed, down := b.probed(again, "")
	assert.True(t, closed)
	assert.Equal(t, again.Sub(now), down)
	assert.Equal(t, breakerClosed, b.state().state)

	// Failing again soon after closing keeps the backoff growing.
	require.True(t, b.trip(again, "flapping"))
	assert.Greater(t, b.retryIn(again), 2*probeBackoffMin*4/5-1)
}

// TestRetryInOfASlot checks the Retry-After of a 503 under FailClosed: the
// time until the next probe of the key's cluster slot, or of the whole
// backend, and none for a key whose slot is served.
func TestRetryInOfASlot(t *testing.T) {
	now := time.Unix(1000, 0)
	var r remote
	r.slots.trip(redis.Slot("down"), now, "connection refused")
	got := r.retryIn("down", now)
	assert.GreaterOrEqual(t, got, probeBackoffMin*4/5, "the first probe of the slot")
	assert.LessOrEqual(t, got, probeBackoffMin)
	assert.Zero(t, r.retryIn("up", now), "a key of another slot")

	r.breaker.trip(now, "connection refused")
	r.breaker.next = now.Add(7 * time.Second)
	assert.Equal(t, 7*time.Second, r.retryIn("up", now), "the whole backend's probe")
}
