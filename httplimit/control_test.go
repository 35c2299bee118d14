package httplimit_test

import (
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ginlimit/ginlimit/backend"
	"github.com/ginlimit/ginlimit/httplimit"
	"github.com/ginlimit/ginlimit/internal/redistest"
)

func TestPeekResetBlockUnblock(t *testing.T) {
	l, _ := newLimiter(t, httplimit.WithLimits("3/minute"), httplimit.WithStrategy(backend.FixedWindow))
	h, _ := newServer(l)
	ctx, p, key := t.Context(), l.Default(), "192.0.2.1"

	assert.Equal(t, []int{200, 200}, statuses(h, request{}, 2))
	for range 2 {
		d := l.Peek(ctx, p, key)
		assert.True(t, d.Allowed, "one left")
		assert.Equal(t, int64(1), d.Remaining, "Peek counts nothing")
		assert.Equal(t, httplimit.SourceMemory, d.Source)
	}
	assert.Equal(t, []int{200, 429}, statuses(h, request{}, 2))
	d := l.Peek(ctx, p, key)
	assert.False(t, d.Allowed)
	assert.False(t, d.Blocked)
	assert.Equal(t, time.Minute, d.RetryAfter, "until the window ends")

	require.NoError(t, l.Reset(ctx, p, key))
	assert.Equal(t, int64(3), l.Peek(ctx, p, key).Remaining, "forgotten")
	require.NoError(t, l.Block(ctx, p, key, time.Hour))
	w := serve(h, request{})
	assert.Equal(t, http.StatusTooManyRequests, w.Code, "blocked")
	assert.Equal(t, "3600", w.Header().Get("Retry-After"))
	d = l.Peek(ctx, p, key)
	assert.True(t, d.Blocked)
	assert.Equal(t, time.Hour, d.RetryAfter)
	require.NoError(t, l.Unblock(ctx, p, key))
	assert.Equal(t, http.StatusOK, serve(h, request{}).Code, "unblocked")

	err := l.Block(ctx, p, key, 0)
	assert.ErrorIs(t, err, httplimit.ErrInvalidOption)
}

func TestControlNeedsAController(t *testing.T) {
	l, _ := newLimiter(t, httplimit.WithBackend(&recordingBackend{}))
	err := l.Reset(t.Context(), l.Default(), "k")
	assert.ErrorIs(t, err, httplimit.ErrNoControl)
	assert.ErrorIs(t, l.Block(t.Context(), l.Default(), "k", time.Minute), httplimit.ErrNoControl)
	_, err = httplimit.New(httplimit.WithBackend(&recordingBackend{}),
		httplimit.WithCountIf(func(*http.Request, int) bool { return true }))
	assert.ErrorIs(t, err, httplimit.ErrInvalidOption)
	assert.ErrorContains(t, err, "ginlimit: WithCountIf: invalid option: the backend WithBackend gives cannot give counts back")
}

func TestPenaltyBlocksTheClient(t *testing.T) {
	l, clk := newLimiter(t, httplimit.WithLimits("2/second"), httplimit.WithPenalty(time.Minute))
	h, _ := newServer(l)
	var blocked []bool
	l2, _ := newLimiter(t, httplimit.WithLimits("2/second"), httplimit.WithPenalty(time.Minute),
		httplimit.WithExceededHandler(func(w http.ResponseWriter, _ *http.Request, d httplimit.Decision) {
			blocked = append(blocked, d.Blocked)
			d.WriteDenial(w)
		}))
	h2, _ := newServer(l2)

	assert.Equal(t, []int{200, 200, 429}, statuses(h, request{}, 3))
	clk.Advance(5 * time.Second)
	w := serve(h, request{})
	assert.Equal(t, http.StatusTooManyRequests, w.Code, "the limit would admit; the penalty does not")
	assert.Equal(t, "55", w.Header().Get("Retry-After"))
	clk.Advance(55 * time.Second)
	assert.Equal(t, http.StatusOK, serve(h, request{}).Code, "the penalty is over")

	assert.Equal(t, []int{200, 200, 429, 429}, statuses(h2, request{}, 4))
	assert.Equal(t, []bool{true, true}, blocked, "Decision.Blocked")

	for _, d := range []time.Duration{0, -time.Second, time.Microsecond, 11 * backend.Year} {
		_, err := httplimit.New(httplimit.WithPenalty(d))
		assert.ErrorIs(t, err, httplimit.ErrInvalidOption, "%v", d)
	}
}

func TestCountIfCountsOnlyMatchingResponses(t *testing.T) {
	l, _ := newLimiter(t, httplimit.WithLimits("3/minute"),
		httplimit.WithCountIf(func(_ *http.Request, status int) bool { return status >= 400 }))
	mux := http.NewServeMux()
	mux.HandleFunc("/ok", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) })
	mux.HandleFunc("/fail", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusUnauthorized) })
	h := l.Middleware(mux)

	assert.Equal(t, repeat(200, 10), statuses(h, request{path: "/ok"}, 10), "successes are given back")
	assert.Equal(t, []int{401, 401, 401, 429}, statuses(h, request{path: "/fail"}, 4))
	assert.Equal(t, http.StatusTooManyRequests, serve(h, request{path: "/ok"}).Code, "three failures used the limit")
	_, err := httplimit.New(httplimit.WithCountIf(nil))
	assert.ErrorIs(t, err, httplimit.ErrInvalidOption)
}

// redisPair returns two Limiters, as two instances of a service, with their
// Middleware, on srv, both built with opts.
func redisPair(t *testing.T, srv *redistest.Server, opts ...httplimit.Option) ([]*httplimit.Limiter, []http.Handler) {
	t.Helper()
	var limiters []*httplimit.Limiter
	var servers []http.Handler
	for range 2 {
		l, err := httplimit.New(append([]httplimit.Option{httplimit.WithRedisURL(srv.URL()),
			httplimit.WithRedisTimeout(5 * time.Second), httplimit.WithLogger(discardLogger())}, opts...)...)
		require.NoError(t, err)
		t.Cleanup(func() { require.NoError(t, l.Close()) })
		require.Eventually(t, func() bool { return l.Status().RedisConnected }, 10*time.Second, 10*time.Millisecond)
		h, _ := newServer(l)
		limiters, servers = append(limiters, l), append(servers, h)
	}
	return limiters, servers
}

// TestRedisResetReachesTheOtherInstance resets, on one instance, a client
// the other turns away from its client-side cache: the other admits it as
// soon as Redis's invalidation arrives. The test reports the delay.
func TestRedisResetReachesTheOtherInstance(t *testing.T) {
	srv := redistest.Start(t)
	limiters, servers := redisPair(t, srv, httplimit.WithLimits("3/hour"))
	a, b := limiters[0], limiters[1]
	ctx, key := t.Context(), "192.0.2.1"

	for _, op := range []struct {
		name  string
		deny  func()
		apply func() error
	}{
		{"reset", func() { statuses(servers[0], request{}, 3) }, func() error { return a.Reset(ctx, a.Default(), key) }},
		{"unblock", func() { require.NoError(t, a.Block(ctx, a.Default(), key, time.Hour)) }, func() error { return a.Unblock(ctx, a.Default(), key) }},
	} {
		t.Run(op.name, func(t *testing.T) {
			op.deny()
			require.Equal(t, http.StatusTooManyRequests, serve(servers[1], request{}).Code)
			require.Eventually(t, func() bool { return b.Stats().Watched == 1 }, 5*time.Second, time.Millisecond,
				"b watches the denial")
			denied := b.Stats().Denied
			require.Equal(t, http.StatusTooManyRequests, serve(servers[1], request{}).Code)
			require.Equal(t, 0, commandsSince(t, srv, func() { serve(servers[1], request{}) }),
				"b denies from its cache, without a round trip")
			require.Equal(t, denied+2, b.Stats().Denied)

			start := time.Now()
			require.NoError(t, op.apply())
			for b.Peek(ctx, b.Default(), key).Blocked || b.Stats().Watched > 0 {
				require.Less(t, time.Since(start), 5*time.Second, "b never saw the %s", op.name)
				time.Sleep(50 * time.Microsecond)
			}
			delay := time.Since(start)
			assert.Equal(t, http.StatusOK, serve(servers[1], request{}).Code, "b admits the client")
			t.Logf("%s on a, admitted on b after %v", op.name, delay)
			require.NoError(t, a.Reset(ctx, a.Default(), key))
		})
	}
}

// commandsSince returns how many commands srv ran while f ran.
func commandsSince(t *testing.T, srv *redistest.Server, f func()) int {
	t.Helper()
	srv.ResetStats(t)
	f()
	n := 0
	for name, calls := range srv.CommandCalls(t) {
		if name != "config|resetstat" && name != "info" {
			n += int(calls)
		}
	}
	return n
}

func TestRedisPenaltyIsShared(t *testing.T) {
	srv := redistest.Start(t)
	limiters, servers := redisPair(t, srv, httplimit.WithLimits("2/hour"), httplimit.WithPenalty(time.Hour))
	assert.Equal(t, []int{200, 200, 429}, statuses(servers[0], request{}, 3))
	var d httplimit.Decision
	srv.ResetStats(t)
	d = limiters[1].Peek(t.Context(), limiters[1].Default(), "192.0.2.1")
	calls := srv.CommandCalls(t)
	assert.Equal(t, int64(1), calls["evalsha"], "Peek is one call: %v", calls)
	assert.Zero(t, calls["hget"]+calls["get"]+calls["del"], "and nothing else: %v", calls)
	assert.True(t, d.Blocked, "b sees a's penalty")
	assert.InDelta(t, float64(time.Hour), float64(d.RetryAfter), float64(time.Second))
	assert.Equal(t, http.StatusTooManyRequests, serve(servers[1], request{}).Code)
}

// TestRedisCountIfIsExactUnderConcurrency sends 1,000 concurrent requests,
// some failing, through two instances on one Redis, counting only failures:
// no more failures are admitted than the limit, and the count left is
// exactly the failures admitted, every success given back.
func TestRedisCountIfIsExactUnderConcurrency(t *testing.T) {
	srv := redistest.Start(t)
	const limit, n = 100, 1000
	var servers []http.Handler
	var failed atomic.Int64
	for range 2 {
		l, err := httplimit.New(httplimit.WithRedisURL(srv.URL()), httplimit.WithRedisTimeout(5*time.Second),
			httplimit.WithLogger(discardLogger()), httplimit.WithLimits("100/hour"),
			httplimit.WithCountIf(func(_ *http.Request, status int) bool { return status >= 400 }))
		require.NoError(t, err)
		t.Cleanup(func() { require.NoError(t, l.Close()) })
		require.Eventually(t, func() bool { return l.Status().RedisConnected }, 10*time.Second, 10*time.Millisecond)
		servers = append(servers, l.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("X-Fail") != "" {
				failed.Add(1)
				w.WriteHeader(http.StatusUnauthorized)
			}
		})))
	}
	var wg sync.WaitGroup
	var next atomic.Int64
	codes := make([]int, n)
	for g := range 50 {
		wg.Go(func() {
			for i := next.Add(1) - 1; i < n; i = next.Add(1) - 1 {
				req := request{}
				if i%3 == 0 {
					req.header = http.Header{"X-Fail": {"1"}}
				}
				codes[i] = serve(servers[g%2], req).Code
			}
		})
	}
	wg.Wait()
	count := map[int]int{}
	for _, c := range codes {
		count[c]++
	}
	assert.Equal(t, int64(count[http.StatusUnauthorized]), failed.Load())
	assert.LessOrEqual(t, count[http.StatusUnauthorized], limit, "failures admitted")
	assert.Positive(t, count[http.StatusOK])
	t.Logf("responses: %v", count)
	l := httplimitOf(t, srv)
	d := l.Peek(t.Context(), l.Default(), "192.0.2.1")
	assert.Equal(t, int64(limit-count[http.StatusUnauthorized]), d.Remaining, "the count is the failures admitted")
}

// httplimitOf returns a third Limiter on srv, to read the shared counts.
func httplimitOf(t *testing.T, srv *redistest.Server) *httplimit.Limiter {
	t.Helper()
	l, err := httplimit.New(httplimit.WithRedisURL(srv.URL()), httplimit.WithLogger(discardLogger()), httplimit.WithLimits("100/hour"))
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, l.Close()) })
	require.Eventually(t, func() bool { return l.Status().RedisConnected }, 10*time.Second, 10*time.Millisecond)
	return l
}
