package redis_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ginlimit/ginlimit/backend"
	"github.com/ginlimit/ginlimit/backend/redis"
	"github.com/ginlimit/ginlimit/internal/redistest"
)

// calibrated returns a Store that follows srv's clock, once it has.
func calibrated(t *testing.T, srv *redistest.Server, opts ...redis.Option) *redis.Store {
	t.Helper()
	s := newStore(t, newClient(t, srv.URL(), true), opts...)
	_, err := s.Allow(context.Background(), "clock:start", policy(t, backend.FixedWindow, "1000/hour"), 1)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		_, ok := s.ServerClockBound()
		return ok
	}, 5*time.Second, time.Millisecond, "the Store calibrates its clock")
	return s
}

// serverTime reads srv's clock.
func serverTime(t *testing.T, srv *redistest.Server) time.Time {
	t.Helper()
	reply, err := srv.Do(t, "EVAL", "local t = redis.call('TIME') return t[1] * 1000000 + t[2]", "0")
	require.NoError(t, err)
	us, err := strconv.ParseInt(reply, 10, 64)
	require.NoError(t, err)
	return time.UnixMicro(us)
}

// TestServerClockIsFollowed checks that, once calibrated, a Store decides at
// the server's time to within its bound, and sends it instead of having the
// script read TIME.
func TestServerClockIsFollowed(t *testing.T) {
	srv := redistest.Start(t)
	// The instance's own clock is an hour off: it must not matter.
	s := calibrated(t, srv, redis.WithLocalClock(func() time.Time { return time.Now().Add(time.Hour) }))
	bound, _ := s.ServerClockBound()
	t.Logf("calibrated to within %v", bound)
	// Drift since the calibration, at most a few milliseconds here.
	const drift = 5 * time.Millisecond
	p := policy(t, backend.FixedWindow, "1000000/hour")
	srv.ResetStats(t)
	const decisions = 100
	for i := range decisions {
		before := serverTime(t, srv)
		r, err := s.Allow(context.Background(), "clock:"+strconv.Itoa(i), p, 1)
		after := serverTime(t, srv)
		require.NoError(t, err)
		require.True(t, r.Allowed)
		assert.False(t, r.Now.Before(before.Add(-bound-drift)), "decision %d at %v, before the server's %v", i, r.Now, before)
		assert.False(t, r.Now.After(after.Add(bound+drift)), "decision %d at %v, after the server's %v", i, r.Now, after)
	}
	// Each serverTime runs TIME once; the script, no more.
	calls := srv.CommandCalls(t)
	assert.LessOrEqual(t, calls["time"], int64(2*decisions+3), "TIME calls: the script read the server's clock itself")
}

// TestInstancesWithDisagreeingClocksShareOneLimit checks that two instances
// whose clocks are two hours apart, each following the server's, enforce
// one limit together, exactly, for every strategy.
func TestInstancesWithDisagreeingClocksShareOneLimit(t *testing.T) {
	srv := redistest.Start(t)
	ahead := calibrated(t, srv, redis.WithLocalClock(func() time.Time { return time.Now().Add(time.Hour) }))
	behind := calibrated(t, srv, redis.WithLocalClock(func() time.Time { return time.Now().Add(-time.Hour) }))
	for _, strategy := range strategies {
		t.Run(strategy.String(), func(t *testing.T) {
			p := policy(t, strategy, "10/minute")
			key := "clock:shared:" + strategy.String()
			admitted := 0
			var last [2]time.Time
			for i := range 30 {
				s := ahead
				if i%2 == 1 {
					s = behind
				}
				r, err := s.Allow(context.Background(), key, p, 1)
				require.NoError(t, err)
				if r.Allowed {
					admitted++
				}
				last[i%2] = r.Now
			}
			assert.Equal(t, 10, admitted, "admitted by the two instances together")
			assert.InDelta(t, 0, last[0].Sub(last[1]).Seconds(), 0.1, "the two instances' times: %v and %v", last[0], last[1])
		})
	}
}
