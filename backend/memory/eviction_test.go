package memory_test

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ginlimit/ginlimit/backend"
	"github.com/ginlimit/ginlimit/backend/backendtest"
	"github.com/ginlimit/ginlimit/backend/memory"
)

var start = time.Date(2026, time.January, 1, 0, 0, 17, 250*int(time.Millisecond), time.UTC)

func TestMaxKeysBoundsAFlood(t *testing.T) {
	const (
		maxKeys    = 1000
		keys       = 100_000
		goroutines = 8
	)
	clock := backendtest.NewClock(start)
	s := newStore(t, memory.WithMaxKeys(maxKeys), memory.WithClock(clock.Now))
	p := policy(t, backend.FixedWindow, "1/hour")

	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := g; i < keys; i += goroutines {
				r, err := s.Allow(context.Background(), "flood:"+strconv.Itoa(i), p, 1)
				if !assert.NoError(t, err) || !assert.True(t, r.Allowed, "key %d", i) {
					return
				}
				if i%997 == 0 {
					assert.LessOrEqual(t, s.Len(), maxKeys, "Len during the flood")
				}
			}
		})
	}
	wg.Wait()

	// Every shard fills up, and nothing expires while the clock stands still.
	assert.Equal(t, maxKeys, s.Len(), "Len after the flood")
	assert.Equal(t, uint64(keys-maxKeys), s.Evictions(), "Evictions after the flood")
}

// TestEvictsExpiredBeforeLeastRecentlyUsed uses a store small enough to have
// one shard, so that its eviction order is the store's.
func TestEvictsExpiredBeforeLeastRecentlyUsed(t *testing.T) {
	clock := backendtest.NewClock(start)
	s := newStore(t, memory.WithMaxKeys(4), memory.WithClock(clock.Now), memory.WithSweepInterval(time.Hour))
	hourly := policy(t, backend.FixedWindow, "1/hour")
	brief := policy(t, backend.FixedWindow, "1/second")
	allow := func(key string, p backend.Policy) bool {
		t.Helper()
		r, err := s.Allow(context.Background(), key, p, 1)
		require.NoError(t, err)
		return r.Allowed
	}

	require.True(t, allow("a", hourly))
	require.True(t, allow("b", hourly))
	require.True(t, allow("brief", brief))
	require.True(t, allow("c", hourly))
	require.False(t, allow("a", hourly), "a is held") // a becomes the most recently used
	require.Equal(t, 4, s.Len())

	// Least recently used first: b, brief, c, a. brief has expired, so it
	// goes before b.
	clock.Advance(2 * time.Second)
	require.True(t, allow("d", hourly))
	assert.Equal(t, 4, s.Len())
	assert.Zero(t, s.Evictions(), "Evictions after dropping an expired key")

	// Now b, c, a, d, none expired: b goes.
	require.True(t, allow("e", hourly))
	assert.Equal(t, uint64(1), s.Evictions(), "Evictions after evicting b")
	for _, key := range []string{"c", "a", "d", "e"} {
		require.False(t, allow(key, hourly), "%s is held", key)
	}
	require.True(t, allow("b", hourly), "b was evicted, so it starts afresh")
	assert.Equal(t, uint64(2), s.Evictions())
	assert.Equal(t, 4, s.Len())
}

func TestSweeperRemovesExpiredKeys(t *testing.T) {
	clock := backendtest.NewClock(start)
	s := newStore(t, memory.WithClock(clock.Now), memory.WithSweepInterval(time.Millisecond))
	for _, strategy := range strategies {
		brief, hourly := policy(t, strategy, "1/second"), policy(t, strategy, "1/hour")
		for i := range 100 {
			_, err := s.Allow(context.Background(), strategy.String()+":brief:"+strconv.Itoa(i), brief, 1)
			require.NoError(t, err)
		}
		for i := range 10 {
			_, err := s.Allow(context.Background(), strategy.String()+":hourly:"+strconv.Itoa(i), hourly, 1)
			require.NoError(t, err)
		}
	}
	require.Equal(t, 330, s.Len())

	// A sliding window remembers the previous window for one more period.
	clock.Advance(3 * time.Second)
	require.Eventually(t, func() bool { return s.Len() == 30 }, 10*time.Second, time.Millisecond,
		"Len never fell to the 30 unexpired keys")
	assert.Zero(t, s.Evictions(), "expired keys counted as evictions")

	for _, strategy := range strategies {
		r, err := s.Allow(context.Background(), strategy.String()+":hourly:0", policy(t, strategy, "1/hour"), 1)
		require.NoError(t, err)
		assert.False(t, r.Allowed, "%v: unexpired key was swept", strategy)
	}
}

// TestKeyIsCopied checks that the store never keeps the caller's key, whose
// buffer the caller may reuse.
func TestKeyIsCopied(t *testing.T) {
	s := newStore(t)
	p := policy(t, backend.FixedWindow, "1/hour")

	buf := []byte("key-one")
	_, err := s.Allow(context.Background(), unsafe.String(&buf[0], len(buf)), p, 1)
	require.NoError(t, err)
	copy(buf, "key-two")

	r, err := s.Allow(context.Background(), "key-one", p, 1)
	require.NoError(t, err)
	assert.False(t, r.Allowed, "key-one is held under its own name")
	r, err = s.Allow(context.Background(), "key-two", p, 1)
	require.NoError(t, err)
	assert.True(t, r.Allowed, "key-two is new")
}

// TestWideCountersSurviveChurn cycles keys with policies of many limits,
// whose counters live outside the entry, and of one limit, through a full
// store, and checks that each key keeps counts of its own: a counter slot
// shared or lost as entries are evicted and reused would show here.
func TestWideCountersSurviveChurn(t *testing.T) {
	const maxKeys = 16
	clock := backendtest.NewClock(start)
	s := newStore(t, memory.WithMaxKeys(maxKeys), memory.WithClock(clock.Now))
	wide := policy(t, backend.FixedWindow, "2/hour;3/day;4/month")
	narrow := policy(t, backend.FixedWindow, "2/hour")
	allow := func(key string, p backend.Policy) bool {
		t.Helper()
		r, err := s.Allow(context.Background(), key, p, 1)
		require.NoError(t, err)
		return r.Allowed
	}

	for i := range 10 * maxKeys {
		key := "key:" + strconv.Itoa(i)
		p := wide
		if i%3 == 0 {
			p = narrow
		}
		require.True(t, allow(key, p), "%s is new", key)
	}
	for i := 9 * maxKeys; i < 10*maxKeys; i++ {
		key := "key:" + strconv.Itoa(i)
		p := wide
		if i%3 == 0 {
			p = narrow
		}
		assert.True(t, allow(key, p), "%s: second request", key)
		assert.False(t, allow(key, p), "%s: third request", key)
	}
	assert.Equal(t, maxKeys, s.Len())
}
