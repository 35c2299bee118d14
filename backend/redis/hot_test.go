package redis_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ginlimit/ginlimit/backend"
	"github.com/ginlimit/ginlimit/backend/redis"
	"github.com/ginlimit/ginlimit/internal/redistest"
)

// hammer sends goroutines × each requests of cost 1 for key, spread over
// the stores, and returns the Results of the admitted ones.
func hammer(t *testing.T, stores []*redis.Store, key string, p backend.Policy, goroutines, each int) []backend.Result {
	t.Helper()
	var mu sync.Mutex
	var admitted []backend.Result
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			s := stores[g%len(stores)]
			for range each {
				r, err := s.Allow(context.Background(), key, p, 1)
				if !assert.NoError(t, err) {
					return
				}
				if r.Allowed {
					mu.Lock()
					admitted = append(admitted, r)
					mu.Unlock()
				} else {
					assert.Positive(t, r.RetryAfter, "a denial says when to retry")
				}
			}
		})
	}
	wg.Wait()
	return admitted
}

// TestHotKeyIsExact sends 64 requests at once, over and over, for one key,
// from two instances: each Store coalesces them, and still exactly the
// limit is admitted, each admission with the Remaining it would have had
// alone: every value from count-1 down to 0, once.
func TestHotKeyIsExact(t *testing.T) {
	srv := redistest.Start(t)
	clock := func() time.Time { return time.Date(2026, 1, 1, 12, 30, 0, 0, time.UTC) }
	stores := []*redis.Store{
		newStore(t, newClient(t, srv.URL(), true), redis.WithClock(clock)),
		newStore(t, newClient(t, srv.URL(), true), redis.WithClock(clock)),
	}
	tests := []struct {
		name   string
		policy backend.Policy
	}{
		{"fixed", policy(t, backend.FixedWindow, "1000/hour")},
		{"sliding", policy(t, backend.SlidingWindow, "1000/hour")},
		{"token", policy(t, backend.TokenBucket, "1000/hour")},
		{"several limits", policy(t, backend.SlidingWindow, "1000/hour;5000/day")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv.ResetStats(t)
			admitted := hammer(t, stores, "hot:"+tt.name, tt.policy, 64, 40)
			require.Len(t, admitted, 1000, "admitted by the two instances together")
			remaining := make([]int64, 0, len(admitted))
			for _, r := range admitted {
				remaining = append(remaining, r.States[0].Remaining)
			}
			slices.Sort(remaining)
			for i, got := range remaining {
				require.EqualValues(t, i, got, "the Remaining of the admissions, sorted")
			}
			calls := srv.CommandCalls(t)
			runs := calls["evalsha"] + calls["eval"]
			t.Logf("%d script runs for %d decisions", runs, 64*40)
			assert.Less(t, runs, int64(64*40/2), "concurrent decisions of one key are coalesced")
		})
	}
}

// TestHotKeyBatchThatPartlyFits checks a batch with room for some of its
// requests only: those are admitted, the others denied, and nothing more is
// consumed.
func TestHotKeyBatchThatPartlyFits(t *testing.T) {
	srv := redistest.Start(t)
	clock := func() time.Time { return time.Date(2026, 1, 1, 12, 30, 0, 0, time.UTC) }
	for _, strategy := range strategies {
		t.Run(strategy.String(), func(t *testing.T) {
			s := newStore(t, newClient(t, srv.URL(), true), redis.WithClock(clock))
			p := policy(t, strategy, "10/hour")
			key := "partly:" + strategy.String()
			for range 7 {
				r, err := s.Allow(context.Background(), key, p, 1)
				require.NoError(t, err)
				require.True(t, r.Allowed)
			}
			admitted := hammer(t, []*redis.Store{s}, key, p, 16, 4)
			assert.Len(t, admitted, 3, "the room left")
			r, err := s.Allow(context.Background(), key, p, 1)
			require.NoError(t, err)
			assert.False(t, r.Allowed)
		})
	}
}

// TestHotKeyBatchIsOneCall holds the server while a decision is in flight
// and nine more requests for the key come: they wait, and go in one call.
func TestHotKeyBatchIsOneCall(t *testing.T) {
	srv := redistest.Start(t)
	clock := func() time.Time { return time.Date(2026, 1, 1, 12, 30, 0, 0, time.UTC) }
	s := newStore(t, newClient(t, srv.URL(), true), redis.WithClock(clock))
	p := policy(t, backend.TokenBucket, "100/hour")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := s.Allow(ctx, "warm", p, 1) // the script is loaded
	require.NoError(t, err)
	srv.ResetStats(t)

	srv.Freeze(t)
	results := make(chan backend.Result, 10)
	var wg sync.WaitGroup
	send := func() {
		wg.Go(func() {
			r, err := s.Allow(ctx, "one-call", p, 1)
			assert.NoError(t, err)
			results <- r
		})
	}
	send()
	require.Eventually(t, func() bool { return s.InFlight("one-call", p) }, 5*time.Second, time.Millisecond, "the first request's call is in flight")
	for range 9 {
		send()
	}
	require.Eventually(t, func() bool { return s.Waiting("one-call", p) == 9 }, 5*time.Second, time.Millisecond, "nine requests wait")
	srv.Thaw(t)
	wg.Wait()
	close(results)

	var remaining, resets []int64
	for r := range results {
		require.True(t, r.Allowed)
		remaining = append(remaining, r.States[0].Remaining)
		resets = append(resets, int64(r.States[0].Reset/time.Second))
	}
	slices.Sort(remaining)
	assert.Equal(t, []int64{90, 91, 92, 93, 94, 95, 96, 97, 98, 99}, remaining, "each as if alone, in turn")
	slices.Sort(resets)
	assert.Equal(t, []int64{36, 72, 108, 144, 180, 216, 252, 288, 324, 360}, resets, "a token bucket's reset grows with each unit taken")
	calls := srv.CommandCalls(t)
	assert.Equal(t, int64(2), calls["evalsha"]+calls["eval"], "the first request's call, and the batch's")
}
