package ginlimit_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ginlimit/ginlimit"
	"github.com/ginlimit/ginlimit/internal/redistest"
)

// redisLimiter builds a Limiter on the Redis at url, with its own client,
// and waits until it decides in Redis unless wait is false. Its Redis timeout
// is long, so that a slow test machine does not send decisions to the
// fallback; tests of failures set their own.
func redisLimiter(t *testing.T, url string, wait bool, opts ...ginlimit.Option) *ginlimit.Limiter {
	t.Helper()
	opts = append([]ginlimit.Option{ginlimit.WithRedisURL(url), ginlimit.WithLogger(discardLogger()),
		ginlimit.WithRedisTimeout(5 * time.Second)}, opts...)
	l, err := ginlimit.NewLimiter(opts...)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, l.Close()) })
	if wait {
		waitForRedis(t, l)
	}
	return l
}

func waitForRedis(t *testing.T, l *ginlimit.Limiter) {
	t.Helper()
	require.Eventually(t, func() bool { return l.Status().RedisConnected }, 10*time.Second, 10*time.Millisecond,
		"the Limiter connects to Redis")
}

// burst serves n requests from one client, spread over the routers from 16
// goroutines, and counts the status codes.
func burst(routers []*gin.Engine, req request, n int) map[int]int {
	var mu sync.Mutex
	codes := map[int]int{}
	var next atomic.Int64
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Go(func() {
			for next.Add(1) <= int64(n) {
				code := serve(routers[g%len(routers)], req).Code
				mu.Lock()
				codes[code]++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return codes
}

// TestRedisInstancesShareOneLimit runs two Limiters, as two instances of a
// service would, each with its own client, on one Redis: a concurrent burst
// through both is admitted exactly up to the limit.
func TestRedisInstancesShareOneLimit(t *testing.T) {
	srv := redistest.Start(t)
	for _, strategy := range []ginlimit.Strategy{ginlimit.FixedWindow, ginlimit.SlidingWindow, ginlimit.TokenBucket} {
		t.Run(strategy.String(), func(t *testing.T) {
			opts := []ginlimit.Option{ginlimit.WithStrategy(strategy), ginlimit.WithLimits("100/hour"), ginlimit.WithName(strategy.String())}
			a := redisLimiter(t, srv.URL(), true, opts...)
			b := redisLimiter(t, srv.URL(), true, opts...)
			codes := burst([]*gin.Engine{newRouter(a), newRouter(b)}, request{}, 2000)
			assert.Equal(t, map[int]int{http.StatusOK: 100, http.StatusTooManyRequests: 1900}, codes)
			assert.Zero(t, a.Stats().Fallback+b.Stats().Fallback, "decided in Redis: %+v %+v, %+v", a.Stats(), b.Stats(), a.Status())
		})
	}
}

func TestRedisHealth(t *testing.T) {
	srv := redistest.Start(t)
	l := redisLimiter(t, srv.URL(), true)
	r := newRouter(l)
	ginlimit.RegisterHealthDetails(r.Group("/admin"), l)
	serve(r, request{})

	var body map[string]any
	require.NoError(t, json.Unmarshal(serve(r, request{path: "/admin/health/ratelimit"}).Body.Bytes(), &body))
	for field, want := range map[string]any{
		"backend":          "redis",
		"redis_connected":  true,
		"message":          "Redis rate limiting active",
		"redis_configured": true,
		"redis_addr":       srv.Addr(),
		"client_cache":     true,
		"breaker":          "closed",
		"degraded_since":   nil,
		"failure_mode":     "memory",
		"ready":            true,
	} {
		assert.Equal(t, want, body[field], field)
	}
	assert.NotContains(t, body, "last_error")
	ginlimit.RegisterHealth(r, l)
	assert.Equal(t, http.StatusOK, serve(r, request{path: "/health/ratelimit/ready"}).Code)
}

// TestRedisDeniedClientCostsNoRoundTrip floods a client over its limit
// through the middleware: at most 5% of the requests reach Redis.
func TestRedisDeniedClientCostsNoRoundTrip(t *testing.T) {
	srv := redistest.Start(t)
	l := redisLimiter(t, srv.URL(), true, ginlimit.WithLimits("5/hour"))
	routers := []*gin.Engine{newRouter(l)}
	require.Equal(t, 5, burst(routers, request{}, 20)[http.StatusOK])

	srv.ResetStats(t)
	const n = 4000
	assert.Equal(t, map[int]int{http.StatusTooManyRequests: n}, burst(routers, request{}, n))
	calls := srv.CommandCalls(t)
	sent := calls["evalsha"] + calls["eval"] + calls["hget"]
	assert.LessOrEqual(t, sent, int64(n/20), "Redis commands for %d denied requests: %v", n, calls)
	assert.Equal(t, 1, l.Stats().Watched)
}

// TestRedisScriptOnly runs as an ACL user without CLIENT commands, as on
// servers without client-side caching: the Limiter detects it at connect and
// decides every request in the script.
func TestRedisScriptOnly(t *testing.T) {
	srv := redistest.Start(t, redistest.ACLUser("limiter", "s3cret", "on", "~*", "+@all", "-client"))
	l := redisLimiter(t, srv.URLFor("limiter", "s3cret"), true, ginlimit.WithLimits("3/hour"))
	st := l.Status()
	assert.Equal(t, "redis", st.Backend)
	assert.False(t, st.ClientCache)
	assert.Equal(t, []int{200, 200, 200, 429, 429}, statuses(newRouter(l), request{}, 5))
}

func TestRedisCluster(t *testing.T) {
	cluster := redistest.StartCluster(t)
	a := redisLimiter(t, cluster.URL(), true, ginlimit.WithLimits("50/hour"))
	b := redisLimiter(t, cluster.URL(), true, ginlimit.WithLimits("50/hour"))
	ra, rb := newRouter(a), newRouter(b)
	for i := range 20 { // many clients, spread over the slots
		req := request{remoteAddr: "198.51.100." + itoa(int64(i)) + ":1"}
		assert.Equal(t, map[int]int{http.StatusOK: 50, http.StatusTooManyRequests: 10}, burst([]*gin.Engine{ra, rb}, req, 60), req.remoteAddr)
	}
}

// TestRedisCredentialsNeverShow uses a password with the characters that
// break naive masking, and a wrong one, and looks for it everywhere a
// Limiter writes.
func TestRedisCredentialsNeverShow(t *testing.T) {
	const secret = "p@ss:w/rd%40x"
	srv := redistest.Start(t, redistest.Password(secret))
	url := srv.URL()
	require.Contains(t, url, "p%40ss") // escaped in the URL

	var logs logBuffer
	good := redisLimiter(t, url, true, ginlimit.WithLogger(logs.logger()))
	r := newRouter(good)
	ginlimit.RegisterHealth(r, good)
	assert.Equal(t, http.StatusOK, serve(r, request{}).Code)
	health := serve(r, request{path: "/health/ratelimit"}).Body.String()
	assert.Contains(t, health, `"redis_connected":true`)

	wrong := strings.Replace(url, "p%40ss", "wrong", 1)
	bad := redisLimiter(t, wrong, false, ginlimit.WithLogger(logs.logger()))
	require.Eventually(t, func() bool { return bad.Status().LastError != "" }, 5*time.Second, 10*time.Millisecond)
	badHealth, err := json.Marshal(bad.Status())
	require.NoError(t, err)

	// The password alone, as redis-cli takes it (redis://PASSWORD@host), is
	// the default user's password: it connects, and shows nowhere either.
	alone := strings.Replace(url, "://:", "://", 1)
	require.NotContains(t, alone, "://:")
	aloneLimiter := redisLimiter(t, alone, true, ginlimit.WithLogger(logs.logger()))
	assert.Equal(t, http.StatusOK, serve(newRouter(aloneLimiter), request{}).Code)
	aloneHealth, err := json.Marshal(aloneLimiter.Status())
	require.NoError(t, err)
	assert.Contains(t, string(aloneHealth), `"redis_connected":true`)
	wrongAlone := redisLimiter(t, strings.Replace(alone, "p%40ss", "wrong", 1), false, ginlimit.WithLogger(logs.logger()))
	require.Eventually(t, func() bool { return wrongAlone.Status().LastError != "" }, 5*time.Second, 10*time.Millisecond)
	wrongAloneHealth, err := json.Marshal(wrongAlone.Status())
	require.NoError(t, err)
	_, aloneParseErr := ginlimit.NewLimiter(ginlimit.WithRedisURL(alone + "/db"))
	require.Error(t, aloneParseErr)

	_, parseErr := ginlimit.NewLimiter(ginlimit.WithRedisURL(strings.Replace(url, "@127", "@[::1", 1)))
	require.Error(t, parseErr)

	for _, text := range []string{logs.String(), health, string(badHealth), parseErr.Error(),
		string(aloneHealth), string(wrongAloneHealth), aloneParseErr.Error()} {
		for _, form := range []string{secret, "p%40ss", "wrong:w", "p@ss"} {
			assert.NotContains(t, text, form)
		}
	}
	assert.Contains(t, logs.String(), "addr="+srv.Addr())
}
