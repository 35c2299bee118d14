package redis_test

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/rueidis"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/ginlimit/ginlimit/backend"
	"github.com/ginlimit/ginlimit/backend/backendtest"
	"github.com/ginlimit/ginlimit/backend/redis"
	"github.com/ginlimit/ginlimit/internal/redistest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, redistest.LeakOptions()...)
}

// newClient returns a client for url, closed when t ends, built the way a
// limiter builds it: no retries, a short dial timeout, a small cache.
func newClient(t testing.TB, url string, cache bool) rueidis.Client {
	t.Helper()
	opt, err := rueidis.ParseURL(url)
	require.NoError(t, err)
	opt.DisableCache = !cache
	opt.DisableRetry = true
	opt.Dialer.Timeout = time.Second
	opt.CacheSizeEachConn = 1 << 20
	c, err := rueidis.NewClient(opt)
	require.NoError(t, err)
	t.Cleanup(c.Close)
	return c
}

// newTrackedStore returns a Store with client-side caching over a client of
// its own, whose invalidations a Tracker carries to the Store.
func newTrackedStore(t testing.TB, url string, opts ...redis.Option) *redis.Store {
	t.Helper()
	tracker := redis.NewTracker()
	opt, err := rueidis.ParseURL(url)
	require.NoError(t, err)
	opt.DisableCache, opt.DisableRetry = false, true
	opt.OnInvalidations = tracker.Invalidated
	c, err := rueidis.NewClient(opt)
	require.NoError(t, err)
	t.Cleanup(c.Close)
	return newStore(t, c, append(opts, redis.WithTracker(tracker))...)
}

// cachingModes are the two ways a Store with client-side caching learns that
// a watched key changed.
var cachingModes = []struct {
	name     string
	newStore func(t testing.TB, url string, opts ...redis.Option) *redis.Store
}{
	{"read-through-cache", func(t testing.TB, url string, opts ...redis.Option) *redis.Store {
		return newStore(t, newClient(t, url, true), opts...)
	}},
	{"tracker", newTrackedStore},
}

// newStore returns a Store over client, closed when t ends.
func newStore(t testing.TB, client rueidis.Client, opts ...redis.Option) *redis.Store {
	t.Helper()
	s, err := redis.New(client, opts...)
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, s.Close()) })
	return s
}

// do runs an admin command and returns its reply as text.
func do(t testing.TB, srv *redistest.Server, args ...string) string {
	t.Helper()
	reply, err := srv.Do(t, args...)
	require.NoError(t, err, "%v", args)
	return reply
}

func policy(t testing.TB, strategy backend.Strategy, limits string) backend.Policy {
	t.Helper()
	parsed, err := backend.ParseLimits(limits)
	require.NoError(t, err)
	return backend.Policy{Strategy: strategy, Limits: parsed}
}

func TestConformance(t *testing.T) {
	srv := redistest.Start(t)
	cached := newClient(t, srv.URL(), true)
	scriptOnly := newClient(t, srv.URL(), false)
	t.Run("client-cache", func(t *testing.T) {
		backendtest.Run(t, func(t *testing.T, now func() time.Time) backend.Backend {
			return newStore(t, cached, redis.WithClock(now))
		})
	})
	t.Run("client-cache-tracker", func(t *testing.T) {
		backendtest.Run(t, func(t *testing.T, now func() time.Time) backend.Backend {
			return newTrackedStore(t, srv.URL(), redis.WithClock(now))
		})
	})
	t.Run("script-only", func(t *testing.T) {
		backendtest.Run(t, func(t *testing.T, now func() time.Time) backend.Backend {
			return newStore(t, scriptOnly, redis.WithClientCache(false), redis.WithClock(now))
		})
	})
}

func TestConformanceCluster(t *testing.T) {
	cluster := redistest.StartCluster(t)
	client := newClient(t, cluster.URL(), true)
	backendtest.Run(t, func(t *testing.T, now func() time.Time) backend.Backend {
		return newStore(t, client, redis.WithClock(now))
	})
}

func TestKey(t *testing.T) {
	sliding := policy(t, backend.SlidingWindow, "100/minute")
	tests := []struct {
		name string
		give string
		p    backend.Policy
		want string
	}{
		{"ip", "ginlimit:default:203.0.113.7", sliding, "{ginlimit:default:203.0.113.7}:s:60"},
		{"fixed, two limits", "k", policy(t, backend.FixedWindow, "10/second;1000/hour"), "{k}:f:1,3600"},
		{"token bucket", "k", policy(t, backend.TokenBucket, "5/minute"), "{k}:t:60"},
		{"braces", "a{b}c", sliding, "{a%7Bb%7Dc}:s:60"},
		{"space, newline, percent", "a b\nc%", sliding, "{a%20b%0Ac%25}:s:60"},
		{"non-ASCII", "é", sliding, "{%C3%A9}:s:60"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, redis.Key(tt.give, tt.p))
		})
	}
	// Escaping is injective: a key that looks escaped stays apart.
	assert.NotEqual(t, redis.Key("a{", sliding), redis.Key("a%7B", sliding))
}

func TestCheckPolicy(t *testing.T) {
	require.NoError(t, redis.CheckPolicy(policy(t, backend.TokenBucket, "1000000/second")))
	err := redis.CheckPolicy(policy(t, backend.TokenBucket, "1000001/second"))
	require.ErrorIs(t, err, backend.ErrInvalidPolicy)
	require.NoError(t, redis.CheckPolicy(policy(t, backend.FixedWindow, "1000001/second")))
}

// TestInstancesShareOneLimit runs two Stores, each with its own client, on
// one server, and checks that a concurrent burst through both is admitted
// exactly up to the limit, with the server's clock.
func TestInstancesShareOneLimit(t *testing.T) {
	srv := redistest.Start(t)
	stores := []*redis.Store{
		newStore(t, newClient(t, srv.URL(), true)),
		newStore(t, newClient(t, srv.URL(), true)),
	}
	for _, strategy := range []backend.Strategy{backend.FixedWindow, backend.SlidingWindow, backend.TokenBucket} {
		t.Run(strategy.String(), func(t *testing.T) {
			p := policy(t, strategy, "100/hour")
			var admitted atomic.Int64
			var wg sync.WaitGroup
			for g := range 50 {
				wg.Go(func() {
					s := stores[g%2]
					for range 10 {
						r, err := s.Allow(context.Background(), "burst", p, 1)
						if !assert.NoError(t, err) {
							return
						}
						if r.Allowed {
							admitted.Add(1)
						}
					}
				})
			}
			wg.Wait()
			assert.EqualValues(t, 100, admitted.Load())
		})
	}
}

// TestDenialWritesNothing checks that a denied decision leaves the hash as it
// was, which is what keeps other clients' cached copies valid.
func TestDenialWritesNothing(t *testing.T) {
	srv := redistest.Start(t)
	s := newStore(t, newClient(t, srv.URL(), false), redis.WithClientCache(false))
	p := policy(t, backend.SlidingWindow, "2/minute")
	ctx := context.Background()
	for range 2 {
		r, err := s.Allow(ctx, "k", p, 1)
		require.NoError(t, err)
		require.True(t, r.Allowed)
	}
	key := redis.Key("k", p)
	before := do(t, srv, "HGETALL", key)
	for range 5 {
		r, err := s.Allow(ctx, "k", p, 1)
		require.NoError(t, err)
		require.False(t, r.Allowed)
	}
	assert.Equal(t, before, do(t, srv, "HGETALL", key))
}

// decisions returns the Redis commands that decide or watch: the script
// runs and the version reads.
func decisions(calls map[string]int64) int64 {
	return calls["evalsha"] + calls["eval"] + calls["hget"]
}

// flood sends n requests for one key from 8 goroutines and returns how many
// were admitted.
func flood(t *testing.T, s *redis.Store, key string, p backend.Policy, n int) int64 {
	t.Helper()
	var admitted atomic.Int64
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range n / 8 {
				r, err := s.Allow(context.Background(), key, p, 1)
				if !assert.NoError(t, err) {
					return
				}
				if r.Allowed {
					admitted.Add(1)
				}
			}
		})
	}
	wg.Wait()
	return admitted.Load()
}

func TestDeniedKeyIsServedFromCache(t *testing.T) {
	srv := redistest.Start(t)
	for _, mode := range cachingModes {
		t.Run(mode.name, func(t *testing.T) {
			s := mode.newStore(t, srv.URL())
			require.True(t, s.ClientCache())
			p := policy(t, backend.FixedWindow, "3/minute")
			key := "over-" + mode.name
			require.EqualValues(t, 3, flood(t, s, key, p, 8))

			srv.ResetStats(t)
			const n = 2000
			require.Zero(t, flood(t, s, key, p, n))
			sent := decisions(srv.CommandCalls(t))
			assert.LessOrEqual(t, sent, int64(n/20), "commands for %d denied requests: want at most 5%%", n)
		})
	}
}

func TestExpiredWindowAdmitsAgain(t *testing.T) {
	srv := redistest.Start(t)
	for _, mode := range cachingModes {
		t.Run(mode.name, func(t *testing.T) {
			s := mode.newStore(t, srv.URL())
			p := policy(t, backend.FixedWindow, "2/second")
			ctx := context.Background()
			require.EqualValues(t, 2, flood(t, s, mode.name, p, 16))
			r, err := s.Allow(ctx, mode.name, p, 1)
			require.NoError(t, err)
			require.False(t, r.Allowed)
			time.Sleep(r.RetryAfter + 10*time.Millisecond)
			r, err = s.Allow(ctx, mode.name, p, 1)
			require.NoError(t, err)
			assert.True(t, r.Allowed, "after the window ended")
		})
	}
}

// TestAdminDeleteAdmitsAgain checks that deleting a watched key in Redis
// reaches the instance that watches it, and also an instance that does not.
func TestAdminDeleteAdmitsAgain(t *testing.T) {
	srv := redistest.Start(t)
	for _, mode := range cachingModes {
		t.Run(mode.name, func(t *testing.T) {
			a := mode.newStore(t, srv.URL())
			b := mode.newStore(t, srv.URL())
			p := policy(t, backend.FixedWindow, "5/hour")
			key := "del-" + mode.name
			require.EqualValues(t, 5, flood(t, a, key, p, 16))
			require.Zero(t, flood(t, b, key, p, 16), "the second instance sees the first's count")

			srv.ResetStats(t)
			require.Zero(t, flood(t, a, key, p, 400))
			require.Zero(t, flood(t, b, key, p, 400))
			assert.LessOrEqual(t, decisions(srv.CommandCalls(t)), int64(40), "both instances deny locally")

			do(t, srv, "DEL", redis.Key(key, p))
			for _, s := range []*redis.Store{a, b} {
				require.Eventually(t, func() bool {
					r, err := s.Allow(context.Background(), key, p, 1)
					return err == nil && r.Allowed
				}, 2*time.Second, 5*time.Millisecond, "admitted again after DEL")
			}
		})
	}
}

// TestAllowLocal checks that a Store with a Tracker decides a watched
// denial without I/O, with the Result Allow gives, and stops once the key
// changes; a Store without one never decides locally.
func TestAllowLocal(t *testing.T) {
	srv := redistest.Start(t)
	p := policy(t, backend.FixedWindow, "1/hour")
	ctx := context.Background()

	polled := newStore(t, newClient(t, srv.URL(), true))
	tracked := newTrackedStore(t, srv.URL())
	for _, s := range []*redis.Store{polled, tracked} {
		_, ok := s.AllowLocal("local", p, 1)
		assert.False(t, ok, "nothing watched yet")
	}
	r, err := tracked.Allow(ctx, "local", p, 1)
	require.NoError(t, err)
	require.True(t, r.Allowed)
	denied, err := tracked.Allow(ctx, "local", p, 1)
	require.NoError(t, err)
	require.False(t, denied.Allowed)
	_, err = polled.Allow(ctx, "local", p, 1)
	require.NoError(t, err)

	local, ok := tracked.AllowLocal("local", p, 1)
	require.True(t, ok, "the denial is watched")
	assert.False(t, local.Allowed)
	assert.True(t, local.Local, "decided without I/O")
	assert.False(t, denied.Local, "the server's denial")
	if testing.CoverMode() == "" && !raceEnabled {
		// The Redis key of a watched denial is built on the stack.
		assert.Zero(t, testing.AllocsPerRun(100, func() { tracked.Allow(ctx, "local", p, 1) }))
	}
	assert.InDelta(t, float64(denied.RetryAfter), float64(local.RetryAfter), float64(time.Second))
	_, ok = tracked.AllowLocal("local", p, 2)
	assert.False(t, ok, "another cost is the server's to decide")
	_, ok = polled.AllowLocal("local", p, 1)
	assert.False(t, ok, "without a Tracker a check may need a round trip")

	do(t, srv, "DEL", redis.Key("local", p))
	require.Eventually(t, func() bool {
		_, ok := tracked.AllowLocal("local", p, 1)
		return !ok
	}, 2*time.Second, time.Millisecond, "the invalidation drops the watch")
}

func TestTrackerServesOneStore(t *testing.T) {
	srv := redistest.Start(t)
	client := newClient(t, srv.URL(), true)
	tracker := redis.NewTracker()
	newStore(t, client, redis.WithTracker(tracker))
	_, err := redis.New(client, redis.WithTracker(tracker))
	assert.EqualError(t, err, "redis: WithTracker: the tracker serves another Store")
	_, err = redis.New(client, redis.WithTracker(nil))
	assert.EqualError(t, err, "redis: WithTracker(nil): the tracker is nil")
}

// TestScriptOnly runs on a user that may not use CLIENT commands, as on
// servers without client-side caching: the client must be built without a
// cache, and the Store decides every request in the script.
func TestScriptOnly(t *testing.T) {
	srv := redistest.Start(t, redistest.ACLUser("limiter", "s3cret", "on", "~*", "+@all", "-client"))
	url := srv.URLFor("limiter", "s3cret")

	opt, err := rueidis.ParseURL(url)
	require.NoError(t, err)
	opt.DisableCache = false
	_, err = rueidis.NewClient(opt)
	require.True(t, errors.Is(err, rueidis.ErrNoCache), "NewClient with caching: %v", err)

	s := newStore(t, newClient(t, url, false), redis.WithClientCache(false))
	require.False(t, s.ClientCache())
	p := policy(t, backend.FixedWindow, "3/minute")
	require.EqualValues(t, 3, flood(t, s, "k", p, 16))
	srv.ResetStats(t)
	require.Zero(t, flood(t, s, "k", p, 80))
	calls := srv.CommandCalls(t)
	assert.LessOrEqual(t, calls["evalsha"]+calls["eval"], int64(80), "at most one script run per request (concurrent ones are coalesced)")
	assert.Zero(t, calls["hget"])
}

func TestClosedStore(t *testing.T) {
	srv := redistest.Start(t)
	s, err := redis.New(newClient(t, srv.URL(), true))
	require.NoError(t, err)
	require.NoError(t, s.Close())
	require.NoError(t, s.Close(), "idempotent")
	_, err = s.Allow(context.Background(), "k", policy(t, backend.FixedWindow, "1/minute"), 1)
	require.ErrorIs(t, err, backend.ErrClosed)
}

// TestWatchedKeysAreBounded denies more keys than the bound: the Store
// watches at most that many, and the ones it dropped are decided by the
// server, still denied.
func TestWatchedKeysAreBounded(t *testing.T) {
	srv := redistest.Start(t)
	s := newStore(t, newClient(t, srv.URL(), true), redis.WithMaxWatched(3))
	p := policy(t, backend.FixedWindow, "1/hour")
	ctx := context.Background()
	for i := range 10 {
		key := "k" + strconv.Itoa(i)
		for range 3 {
			_, err := s.Allow(ctx, key, p, 1)
			require.NoError(t, err)
		}
		assert.LessOrEqual(t, s.Watched(), 3)
	}
	assert.Equal(t, 3, s.Watched())
	for i := range 10 {
		r, err := s.Allow(ctx, "k"+strconv.Itoa(i), p, 1)
		require.NoError(t, err)
		assert.False(t, r.Allowed)
	}
	_, err := redis.New(newClient(t, srv.URL(), true), redis.WithMaxWatched(0))
	assert.EqualError(t, err, "redis: WithMaxWatched(0): the bound must be at least 1")
}

// TestClientWithoutCacheIsFoundOut gives the Store a client built without a
// cache, as a caller may: the first denial finds it out, and from then on
// nothing is watched, so each denial costs the one script run and no more.
func TestClientWithoutCacheIsFoundOut(t *testing.T) {
	srv := redistest.Start(t)
	s := newStore(t, newClient(t, srv.URL(), false))
	require.True(t, s.ClientCache(), "not known before a denial")
	p := policy(t, backend.FixedWindow, "1/hour")
	require.EqualValues(t, 1, flood(t, s, "k", p, 8))
	assert.False(t, s.ClientCache())
	assert.Zero(t, s.Watched())

	srv.ResetStats(t)
	require.Zero(t, flood(t, s, "k", p, 80))
	calls := srv.CommandCalls(t)
	assert.LessOrEqual(t, calls["evalsha"]+calls["eval"], int64(80), "at most one script run per request (concurrent ones are coalesced)")
	assert.Zero(t, calls["hget"])
}

// TestWatchedDenialIsTheServers checks that a denial answered from a watch
// is the one the server gives at the same moment: the same RetryAfter (a
// cost above a limit's count keeps that limit's Period, and does not count
// down) and the same state of every limit, including those that did not
// deny and whose count slides or refills meanwhile. For every strategy, one
// limit and two, costs below and above the counts, the watching Store's
// denials are compared, moment by moment, with those of a Store without a
// cache on the same keys: at each moment a request of each cost is sent
// until one is denied, and again a little later, when the watch answers.
func TestWatchedDenialIsTheServers(t *testing.T) {
	srv := redistest.Start(t)
	clk := backendtest.NewClock(time.Date(2026, 3, 1, 12, 0, 7, 0, time.UTC))
	server := newStore(t, newClient(t, srv.URL(), false), redis.WithClientCache(false), redis.WithClock(clk.Now))
	tests := []struct {
		name   string
		limits string
		costs  []int64
	}{
		{name: "one limit", limits: "2/minute", costs: []int64{1}},
		{name: "one limit, cost above it", limits: "2/minute", costs: []int64{3}},
		{name: "one limit, exhausted then cost above it", limits: "2/minute", costs: []int64{1, 3}},
		{name: "two limits", limits: "3/second;5/minute", costs: []int64{1}},
		{name: "two limits, cost of two", limits: "3/second;5/minute", costs: []int64{2}},
		{name: "two limits, cost above one", limits: "3/second;5/minute", costs: []int64{4}},
		{name: "two limits, cost above both", limits: "3/second;5/minute", costs: []int64{6}},
		{name: "two limits, exhausted then cost above one", limits: "3/second;5/minute", costs: []int64{1, 4}},
	}
	steps := []time.Duration{0, 250 * time.Millisecond, 1500 * time.Millisecond, 3 * time.Second,
		20*time.Second + 700*time.Millisecond, 37*time.Second + 550*time.Millisecond, 59*time.Second + 999*time.Millisecond}
	ctx := context.Background()
	for _, mode := range cachingModes {
		for _, strategy := range []backend.Strategy{backend.SlidingWindow, backend.FixedWindow, backend.TokenBucket} {
			for i, tt := range tests {
				t.Run(mode.name+"/"+strategy.String()+"/"+tt.name, func(t *testing.T) {
					watching := mode.newStore(t, srv.URL(), redis.WithClock(clk.Now))
					p := policy(t, strategy, tt.limits)
					key := mode.name + strconv.Itoa(i)
					// The key exists, so that a denial of any cost is watched.
					r, err := watching.Allow(ctx, key, p, 1)
					require.NoError(t, err)
					require.True(t, r.Allowed)

					watched := 0
					check := func(cost int64) (denied bool) {
						t.Helper()
						if watching.Watched() > 0 {
							watched++
						}
						got, err := watching.Allow(ctx, key, p, cost)
						require.NoError(t, err)
						if got.Allowed {
							return false
						}
						want, err := server.Allow(ctx, key, p, cost)
						require.NoError(t, err)
						got.Local = false // it tells a watched answer apart; the rest is the server's
						require.Equal(t, want, got, "cost %d at %v", cost, clk.Now())
						return true
					}
					for _, step := range steps {
						clk.Advance(step)
						for _, cost := range tt.costs {
							for n := 0; !check(cost); n++ {
								require.Less(t, n, 20, "a request of cost %d is denied at %v", cost, clk.Now())
							}
							clk.Advance(1300 * time.Millisecond)
							check(cost)
						}
					}
					assert.Positive(t, watched, "some denials were answered from a watch")
				})
			}
		}
	}
}

// TestSlotIsTheServers checks Slot against the cluster's own CLUSTER
// KEYSLOT of the keys Key makes, whatever the policy.
func TestSlotIsTheServers(t *testing.T) {
	cluster := redistest.StartCluster(t)
	srv := cluster.Nodes[0]
	policies := []backend.Policy{policy(t, backend.SlidingWindow, "100/minute"), policy(t, backend.TokenBucket, "5/second;1000/day")}
	for _, key := range []string{"k", "ginlimit:default:203.0.113.7", "a{b}c", "{", "}", "%", "é", "a b\nc", "ginlimit:/login:2001:db8::1"} {
		for _, p := range policies {
			want := do(t, srv, "CLUSTER", "KEYSLOT", redis.Key(key, p))
			assert.Equal(t, want, strconv.Itoa(int(redis.Slot(key))), "%q under %v", key, p.Limits)
		}
	}
}

// TestPingClusterWithDeadNode checks that a cluster whose first seed is dead
// still answers Ping, every time: a PING goes to no slot, and would
// otherwise reach whichever node the client picks, the dead one included.
func TestPingClusterWithDeadNode(t *testing.T) {
	cluster := redistest.StartCluster(t)
	s := newStore(t, newClient(t, cluster.URL(), true))
	require.True(t, s.Cluster())
	cluster.Nodes[0].Kill(t)
	for i := range 100 {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := s.Ping(ctx)
		cancel()
		require.NoError(t, err, "ping %d", i)
	}
	for _, n := range cluster.Nodes[1:] {
		n.Kill(t)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	assert.Error(t, s.Ping(ctx), "no node answers")
}
