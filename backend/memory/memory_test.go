package memory_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/ginlimit/ginlimit/backend"
	"github.com/ginlimit/ginlimit/backend/backendtest"
	"github.com/ginlimit/ginlimit/backend/memory"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// newStore returns a Store that is closed when t ends.
func newStore(t testing.TB, opts ...memory.Option) *memory.Store {
	t.Helper()
	s, err := memory.New(opts...)
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, s.Close()) })
	return s
}

// policy returns a valid policy, failing t otherwise.
func policy(t testing.TB, strategy backend.Strategy, limits string) backend.Policy {
	t.Helper()
	parsed, err := backend.ParseLimits(limits)
	require.NoError(t, err)
	p := backend.Policy{Strategy: strategy, Limits: parsed}
	require.NoError(t, p.Validate())
	return p
}

var strategies = []backend.Strategy{backend.FixedWindow, backend.SlidingWindow, backend.TokenBucket}

func TestConformance(t *testing.T) {
	backendtest.Run(t, func(t *testing.T, now func() time.Time) backend.Backend {
		return newStore(t, memory.WithClock(now))
	})
}

func TestNewRejectsBadOptions(t *testing.T) {
	tests := []struct {
		name string
		give memory.Option
		want string
	}{
		{name: "ZeroMaxKeys", give: memory.WithMaxKeys(0), want: "memory: WithMaxKeys(0): "},
		{name: "NegativeMaxKeys", give: memory.WithMaxKeys(-3), want: "memory: WithMaxKeys(-3): "},
		{name: "ZeroSweepInterval", give: memory.WithSweepInterval(0), want: "memory: WithSweepInterval(0s): "},
		{name: "NegativeSweepInterval", give: memory.WithSweepInterval(-time.Second), want: "memory: WithSweepInterval(-1s): "},
		{name: "NilClock", give: memory.WithClock(nil), want: "memory: WithClock(nil): "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := memory.New(tt.give)
			require.Error(t, err)
			assert.Nil(t, s)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

func TestNewWithOptions(t *testing.T) {
	s := newStore(t, memory.WithMaxKeys(1), memory.WithSweepInterval(time.Hour), memory.WithClock(time.Now))
	assert.Equal(t, "memory", s.Name())
	assert.Zero(t, s.Len())
	assert.Zero(t, s.Evictions())

	p := policy(t, backend.FixedWindow, "1/minute")
	for _, key := range []string{"a", "b", "c"} {
		r, err := s.Allow(context.Background(), key, p, 1)
		require.NoError(t, err)
		require.True(t, r.Allowed, "key %s", key)
		require.Equal(t, 1, s.Len(), "Len after %s", key)
	}
	assert.Equal(t, uint64(2), s.Evictions())
}

func TestCloseIsIdempotent(t *testing.T) {
	s, err := memory.New()
	require.NoError(t, err)
	p := policy(t, backend.SlidingWindow, "1/minute")
	_, err = s.Allow(context.Background(), "k", p, 1)
	require.NoError(t, err)

	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() { assert.NoError(t, s.Close()) })
	}
	wg.Wait()
	require.NoError(t, s.Close())

	_, err = s.Allow(context.Background(), "k", p, 1)
	require.ErrorIs(t, err, backend.ErrClosed)
}

// TestAllowRejectsBrokenCalls checks that calls breaking the contract of
// backend.Backend get an error, not a panic.
func TestAllowRejectsBrokenCalls(t *testing.T) {
	valid := []backend.Limit{{Count: 10, Period: time.Minute}}
	tests := []struct {
		name     string
		give     backend.Policy
		giveCost int64
	}{
		{name: "NegativeCost", give: backend.Policy{Limits: valid}, giveCost: -1},
		{name: "UnknownStrategy", give: backend.Policy{Strategy: 7, Limits: valid}, giveCost: 1},
		{name: "NoLimits", give: backend.Policy{}, giveCost: 1},
		{name: "TooManyLimits", give: backend.Policy{Limits: make([]backend.Limit, backend.MaxLimits+1)}, giveCost: 1},
		{name: "ZeroCount", give: backend.Policy{Limits: []backend.Limit{{Period: time.Minute}}}, giveCost: 1},
		{name: "ZeroPeriod", give: backend.Policy{Limits: []backend.Limit{{Count: 1}}}, giveCost: 1},
		{name: "PeriodBelowCount", give: backend.Policy{Strategy: backend.TokenBucket, Limits: []backend.Limit{{Count: 10, Period: 9}}}, giveCost: 1},
		{name: "CountAboveMax", give: backend.Policy{Limits: []backend.Limit{{Count: backend.MaxCount + 1, Period: time.Hour}}}, giveCost: 1},
	}
	s := newStore(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.Allow(context.Background(), "k", tt.give, tt.giveCost)
			require.Error(t, err)
			assert.Contains(t, err.Error(), "memory: ")
		})
	}
	assert.Zero(t, s.Len(), "keys added by rejected calls")
}

// TestCountsUpToMaxCount checks that a limit of backend.MaxCount can be used
// up by one request of that cost, which the store counts in 32 bits.
func TestCountsUpToMaxCount(t *testing.T) {
	for _, strategy := range strategies {
		t.Run(strategy.String(), func(t *testing.T) {
			s := newStore(t, memory.WithClock(backendtest.NewClock(start).Now))
			p := backend.Policy{Strategy: strategy, Limits: []backend.Limit{{Count: backend.MaxCount, Period: time.Hour}}}
			r, err := s.Allow(context.Background(), "k", p, backend.MaxCount)
			require.NoError(t, err)
			assert.True(t, r.Allowed, "a cost of MaxCount")
			assert.Zero(t, r.States[0].Remaining)
			r, err = s.Allow(context.Background(), "k", p, 1)
			require.NoError(t, err)
			assert.False(t, r.Allowed, "one more unit")
		})
	}
}
