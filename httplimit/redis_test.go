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

// TestRedisInstancesShareOneLimit runs two Limiters, as two instances of a
// service would, each with its own client and its own ServeMux behind its
// Middleware, on one Redis: a concurrent burst of one client through both
// is admitted exactly up to the limit, and every decision is Redis's. It is
// skipped without redis-server, and fails then when CI is set.
func TestRedisInstancesShareOneLimit(t *testing.T) {
	srv := redistest.Start(t)
	for _, strategy := range []backend.Strategy{backend.FixedWindow, backend.SlidingWindow, backend.TokenBucket} {
		t.Run(strategy.String(), func(t *testing.T) {
			var mu sync.Mutex
			sources := map[httplimit.Source]int{}
			recordDenial := func(w http.ResponseWriter, _ *http.Request, d httplimit.Decision) {
				mu.Lock()
				sources[d.Source]++
				mu.Unlock()
				d.WriteDenial(w)
			}
			var servers []http.Handler
			var limiters []*httplimit.Limiter
			for range 2 {
				// A long Redis timeout, so that a slow test machine does not send
				// decisions to the fallback.
				l, err := httplimit.New(httplimit.WithRedisURL(srv.URL()), httplimit.WithRedisTimeout(5*time.Second),
					httplimit.WithLogger(discardLogger()), httplimit.WithLimits("100/hour"), httplimit.WithStrategy(strategy),
					httplimit.WithName(strategy.String()), httplimit.WithExceededHandler(recordDenial))
				require.NoError(t, err)
				t.Cleanup(func() { require.NoError(t, l.Close()) })
				require.Eventually(t, func() bool { return l.Status().RedisConnected }, 10*time.Second, 10*time.Millisecond,
					"the Limiter connects to Redis")
				h, mux := newServer(l)
				httplimit.RegisterHealth(mux, l)
				servers, limiters = append(servers, h), append(limiters, l)
			}

			const n = 2000
			var next atomic.Int64
			var wg sync.WaitGroup
			codes := map[int]int{}
			for g := range 16 {
				wg.Go(func() {
					for next.Add(1) <= n {
						code := serve(servers[g%len(servers)], request{}).Code
						mu.Lock()
						codes[code]++
						mu.Unlock()
					}
				})
			}
			wg.Wait()

			assert.Equal(t, map[int]int{http.StatusOK: 100, http.StatusTooManyRequests: n - 100}, codes)
			assert.Equal(t, map[httplimit.Source]int{httplimit.SourceShared: n - 100}, sources, "every denial was Redis's")
			for i, l := range limiters {
				assert.Zero(t, l.Stats().Fallback, "instance %d decided in Redis: %+v", i, l.Stats())
				d := l.Decide(t.Context(), l.Default(), "192.0.2.1", 1)
				assert.Equal(t, decision{
					Source:     httplimit.SourceShared,
					Policy:     strategy.String(),
					Key:        "192.0.2.1",
					Limit:      backend.Limit{Count: 100, Period: time.Hour},
					Reset:      d.Reset,
					RetryAfter: d.RetryAfter,
				}, fieldsOf(d), "instance %d sees the shared count", i)
				assert.Positive(t, d.RetryAfter, "instance %d", i)
				w := serve(servers[i], request{path: "/health/ratelimit"})
				assert.JSONEq(t, `{"backend":"redis","redis_connected":true,"message":"Redis rate limiting active","ready":true}`, w.Body.String())
			}
		})
	}
}

// TestRedisPlanChangeAcrossInstances moves one client between plans on two
// instances sharing one Redis: whichever instance and plan decides, the
// units used stay used, and a denial one instance watches for the free plan
// does not deny the client's first request as pro.
func TestRedisPlanChangeAcrossInstances(t *testing.T) {
	srv := redistest.Start(t)
	var servers []http.Handler
	var limiters []*httplimit.Limiter
	for range 2 {
		l, err := httplimit.New(plansOptions(httplimit.WithRedisURL(srv.URL()), httplimit.WithRedisTimeout(5*time.Second),
			httplimit.WithLogger(discardLogger()))...)
		require.NoError(t, err)
		t.Cleanup(func() { require.NoError(t, l.Close()) })
		require.Eventually(t, func() bool { return l.Status().RedisConnected }, 10*time.Second, 10*time.Millisecond)
		h, _ := newServer(l)
		servers, limiters = append(servers, h), append(limiters, l)
	}
	a, b := servers[0], servers[1]
	client := "192.0.2.1:1"

	assert.Equal(t, []int{200, 200, 200, 429}, statuses(a, asPlan(client, "free"), 4), "free on a")
	assert.Equal(t, http.StatusTooManyRequests, serve(b, asPlan(client, "free")).Code, "free on b")
	require.Eventually(t, func() bool { return limiters[0].Stats().Watched == 1 }, 5*time.Second, time.Millisecond,
		"a watches the client's denial")
	assert.Equal(t, http.StatusOK, serve(a, asPlan(client, "pro")).Code, "pro on a: 4 of 5")
	assert.Equal(t, http.StatusOK, serve(b, asPlan(client, "pro")).Code, "pro on b: 5 of 5")
	assert.Equal(t, http.StatusTooManyRequests, serve(a, asPlan(client, "pro")).Code, "pro on a")
	assert.Equal(t, http.StatusTooManyRequests, serve(b, asPlan(client, "free")).Code, "back to free on b")
	for i, l := range limiters {
		st := l.Stats()
		assert.Zero(t, st.Fallback, "instance %d decided in Redis", i)
	}
	assert.Equal(t, uint64(5), limiters[0].Stats().Allowed+limiters[1].Stats().Allowed, "5 admitted in all")
}
