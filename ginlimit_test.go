package ginlimit_test

import (
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ginlimit/ginlimit"
	"github.com/ginlimit/ginlimit/backend"
	"github.com/ginlimit/ginlimit/backend/memory"
)

func TestDefaultLimitDeniesWith429(t *testing.T) {
	l, clk := newLimiter(t)
	r := newRouter(l)

	assert.Equal(t, repeat(http.StatusOK, 100), statuses(r, request{}, 100))
	w := serve(r, request{})
	assert.Equal(t, http.StatusTooManyRequests, w.Code)
	assert.Equal(t, "application/json; charset=utf-8", w.Header().Get("Content-Type"))
	assert.JSONEq(t, `{"error":"rate limit exceeded","retry_after":`+w.Header().Get("Retry-After")+`}`, w.Body.String())
	assert.Equal(t, "100", w.Header().Get("X-RateLimit-Limit"))
	assert.Equal(t, "0", w.Header().Get("X-RateLimit-Remaining"))

	clk.Advance(2 * time.Minute)
	assert.Equal(t, http.StatusOK, serve(r, request{}).Code)
	assert.Equal(t, ginlimit.Stats{Allowed: 101, Denied: 1, Keys: 1}, l.Stats())
}

func TestRetryAfterIsTimeUntilAdmission(t *testing.T) {
	tests := []struct {
		name     string
		strategy ginlimit.Strategy
		limits   string
		admit    int           // requests admitted before the denial
		spacing  time.Duration // between them
		want     string
	}{
		// The window opened at the first hit, 40s before the denial: 20s left.
		{name: "fixed window", strategy: ginlimit.FixedWindow, limits: "2/minute", admit: 2, spacing: 40 * time.Second, want: "20"},
		// One token per second: the next is 1s away, not the whole minute.
		{name: "token bucket", strategy: ginlimit.TokenBucket, limits: "60/minute", admit: 60, want: "1"},
		// 7s into the window with 10 counted: the next window begins in 53s,
		// and 10*(1-e/60)+1 <= 10 at e=6s into it.
		{name: "sliding window", strategy: ginlimit.SlidingWindow, limits: "10/minute", admit: 10, want: "59"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, clk := newLimiter(t, ginlimit.WithLimits(tt.limits), ginlimit.WithStrategy(tt.strategy))
			r := newRouter(l)
			for i := range tt.admit {
				if i > 0 {
					clk.Advance(tt.spacing)
				}
				require.Equal(t, http.StatusOK, serve(r, request{}).Code, "request %d", i)
			}
			w := serve(r, request{})
			assert.Equal(t, http.StatusTooManyRequests, w.Code)
			assert.Equal(t, tt.want, w.Header().Get("Retry-After"))
		})
	}
}

func TestExactUnderConcurrentRequests(t *testing.T) {
	for _, s := range []ginlimit.Strategy{ginlimit.SlidingWindow, ginlimit.FixedWindow, ginlimit.TokenBucket} {
		t.Run(s.String(), func(t *testing.T) {
			l, _ := newLimiter(t, ginlimit.WithLimits("100/minute"), ginlimit.WithStrategy(s))
			r := newRouter(l)
			var wg sync.WaitGroup
			var admitted atomic.Int64
			for range 2000 {
				wg.Go(func() {
					if serve(r, request{}).Code == http.StatusOK {
						admitted.Add(1)
					}
				})
			}
			wg.Wait()
			assert.Equal(t, int64(100), admitted.Load())
			assert.Equal(t, ginlimit.Stats{Allowed: 100, Denied: 1900, Keys: 1}, l.Stats())
		})
	}
}

func TestRetryAfterRoundsUp(t *testing.T) {
	l, clk := newLimiter(t, ginlimit.WithLimits("1/minute"), ginlimit.WithStrategy(ginlimit.FixedWindow))
	r := newRouter(l)
	require.Equal(t, http.StatusOK, serve(r, request{}).Code)
	clk.Advance(59*time.Second + 900*time.Millisecond)
	w := serve(r, request{})
	require.Equal(t, http.StatusTooManyRequests, w.Code)
	assert.Equal(t, "1", w.Header().Get("Retry-After"))
	assert.JSONEq(t, `{"error":"rate limit exceeded","retry_after":1}`, w.Body.String())
}

func TestHeaders(t *testing.T) {
	// t0 is 12:00:07; the fixed window opens at the first request and ends
	// 60s later.
	reset := t0.Add(time.Minute).Unix()
	legacy := map[string]string{
		"X-RateLimit-Limit":     "3",
		"X-RateLimit-Remaining": "2",
		"X-RateLimit-Reset":     itoa(reset),
	}
	ietf := map[string]string{
		"RateLimit-Policy": `"default";q=3;w=60`,
		"RateLimit":        `"default";r=2;t=60`,
	}
	tests := []struct {
		give ginlimit.Headers
		want map[string]string
	}{
		{give: ginlimit.HeadersLegacy, want: legacy},
		{give: ginlimit.HeadersIETF, want: ietf},
		{give: ginlimit.HeadersBoth, want: merge(legacy, ietf)},
		{give: ginlimit.HeadersNone, want: map[string]string{}},
	}
	for _, tt := range tests {
		t.Run(tt.give.String(), func(t *testing.T) {
			l, _ := newLimiter(t, ginlimit.WithLimits("3/minute"), ginlimit.WithStrategy(ginlimit.FixedWindow), ginlimit.WithHeaders(tt.give))
			w := serve(newRouter(l), request{})
			require.Equal(t, http.StatusOK, w.Code)
			assert.Equal(t, tt.want, rateLimitHeaders(w.Header()))
		})
	}
}

func TestLegacyHeadersOfLargeCounts(t *testing.T) {
	// Remaining is not cached as text past 1024: it is formatted with Reset.
	for _, s := range []ginlimit.Strategy{ginlimit.SlidingWindow, ginlimit.FixedWindow, ginlimit.TokenBucket} {
		t.Run(s.String(), func(t *testing.T) {
			l, clk := newLimiter(t, ginlimit.WithLimits("5000/hour"), ginlimit.WithStrategy(s))
			r := newRouter(l)
			for i, want := range []string{"4999", "4998"} {
				w := serve(r, request{})
				require.Equal(t, http.StatusOK, w.Code)
				assert.Equal(t, "5000", w.Header().Get("X-RateLimit-Limit"), "request %d", i)
				assert.Equal(t, want, w.Header().Get("X-RateLimit-Remaining"), "request %d", i)
				reset, err := strconv.ParseInt(w.Header().Get("X-RateLimit-Reset"), 10, 64)
				require.NoError(t, err)
				assert.Greater(t, reset, clk.Now().Unix(), "request %d", i)
				assert.LessOrEqual(t, reset, clk.Now().Add(time.Hour).Unix(), "request %d", i)
			}
		})
	}
}

func TestHeadersOnDenial(t *testing.T) {
	l, _ := newLimiter(t, ginlimit.WithLimits("1/minute"), ginlimit.WithStrategy(ginlimit.FixedWindow), ginlimit.WithHeaders(ginlimit.HeadersBoth))
	r := newRouter(l)
	serve(r, request{})
	w := serve(r, request{})
	require.Equal(t, http.StatusTooManyRequests, w.Code)
	assert.Equal(t, map[string]string{
		"X-RateLimit-Limit":     "1",
		"X-RateLimit-Remaining": "0",
		"X-RateLimit-Reset":     itoa(t0.Add(time.Minute).Unix()),
		"RateLimit-Policy":      `"default";q=1;w=60`,
		"RateLimit":             `"default";r=0;t=60`,
		"Retry-After":           "60",
	}, rateLimitHeaders(w.Header()))
}

func TestDeniedResetIsNotBeforeRetryAfter(t *testing.T) {
	// Sliding window, 7s into the minute: the current window ends in 53s,
	// but the denied request is admitted only 59s from now.
	l, _ := newLimiter(t, ginlimit.WithLimits("10/minute;1000/hour"), ginlimit.WithHeaders(ginlimit.HeadersBoth))
	r := newRouter(l)
	require.Equal(t, repeat(http.StatusOK, 10), statuses(r, request{}, 10))
	w := serve(r, request{})
	require.Equal(t, http.StatusTooManyRequests, w.Code)
	assert.Equal(t, "59", w.Header().Get("Retry-After"))
	assert.Equal(t, itoa(t0.Add(59*time.Second).Unix()), w.Header().Get("X-RateLimit-Reset"))
	assert.Equal(t, `"default-minute";r=0;t=59, "default-hour";r=990;t=3593`, w.Header().Get("RateLimit"))
}

func TestHeadersNoneStillSendsRetryAfter(t *testing.T) {
	l, _ := newLimiter(t, ginlimit.WithLimits("1/minute"), ginlimit.WithHeaders(ginlimit.HeadersNone))
	r := newRouter(l)
	serve(r, request{})
	w := serve(r, request{})
	require.Equal(t, http.StatusTooManyRequests, w.Code)
	assert.Equal(t, map[string]string{"Retry-After": w.Header().Get("Retry-After")}, rateLimitHeaders(w.Header()))
	assert.NotEmpty(t, w.Header().Get("Retry-After"))
}

func TestSeveralLimits(t *testing.T) {
	l, clk := newLimiter(t, ginlimit.WithLimits("2/second;3/minute"), ginlimit.WithStrategy(ginlimit.FixedWindow), ginlimit.WithHeaders(ginlimit.HeadersBoth))
	r := newRouter(l)

	w := serve(r, request{})
	require.Equal(t, http.StatusOK, w.Code)
	// The per-second limit has 1 left, the per-minute one 2: legacy headers
	// describe the one closest to exhaustion; IETF lists both.
	assert.Equal(t, "2", w.Header().Get("X-RateLimit-Limit"))
	assert.Equal(t, "1", w.Header().Get("X-RateLimit-Remaining"))
	assert.Equal(t, `"default-second";q=2;w=1, "default-minute";q=3;w=60`, w.Header().Get("RateLimit-Policy"))
	assert.Equal(t, `"default-second";r=1;t=1, "default-minute";r=2;t=60`, w.Header().Get("RateLimit"))

	require.Equal(t, http.StatusOK, serve(r, request{}).Code)
	require.Equal(t, http.StatusTooManyRequests, serve(r, request{}).Code) // per second
	clk.Advance(time.Second)
	w = serve(r, request{})
	require.Equal(t, http.StatusOK, w.Code)
	assert.Equal(t, "3", w.Header().Get("X-RateLimit-Limit"))
	assert.Equal(t, "0", w.Header().Get("X-RateLimit-Remaining"))
	clk.Advance(time.Second)
	w = serve(r, request{})
	require.Equal(t, http.StatusTooManyRequests, w.Code) // per minute
	assert.Equal(t, "58", w.Header().Get("Retry-After"))
}

func TestSkip(t *testing.T) {
	l, _ := newLimiter(t, ginlimit.WithLimits("1/minute"), ginlimit.WithSkip(func(c *gin.Context) bool {
		return c.GetHeader("X-Internal") == "yes"
	}))
	r := newRouter(l)
	internal := request{header: http.Header{"X-Internal": {"yes"}}}

	assert.Equal(t, repeat(http.StatusOK, 5), statuses(r, internal, 5))
	assert.Empty(t, serve(r, internal).Header().Get("X-RateLimit-Limit"))
	assert.Equal(t, http.StatusOK, serve(r, request{}).Code, "skipped requests were counted")
	assert.Equal(t, http.StatusTooManyRequests, serve(r, request{}).Code)
	assert.Equal(t, ginlimit.Stats{Allowed: 1, Denied: 1, Skipped: 6, Keys: 1}, l.Stats())
}

func TestHealthIsNeverLimited(t *testing.T) {
	l, _ := newLimiter(t, ginlimit.WithLimits("1/minute"))
	r := newRouter(l)
	ginlimit.RegisterHealth(r, l) // after Use: the middleware runs in front of it

	for _, path := range []string{"/health/ratelimit", "/health/ratelimit/ready"} {
		assert.Equal(t, repeat(http.StatusOK, 5), statuses(r, request{path: path}, 5), path)
	}
	assert.Equal(t, ginlimit.Stats{}, l.Stats())
	assert.Equal(t, http.StatusOK, serve(r, request{}).Code)
}

func TestHealthBody(t *testing.T) {
	r := gin.New()
	admin := r.Group("/admin")
	l, _ := newLimiter(t, ginlimit.WithLimits("10/second;100/minute"),
		ginlimit.WithHealth(r.Group("/api")), ginlimit.WithHealthDetails(admin))
	r.Use(l.Middleware())
	r.GET("/", func(c *gin.Context) { c.Status(http.StatusNoContent) })
	serve(r, request{})

	w := serve(r, request{path: "/api/health/ratelimit"})
	require.Equal(t, http.StatusOK, w.Code)
	assert.JSONEq(t, `{
		"backend": "memory",
		"redis_connected": false,
		"message": "In-memory rate limiting (single instance only)",
		"ready": true
	}`, w.Body.String())

	w = serve(r, request{path: "/api/health/ratelimit/ready"})
	assert.Equal(t, http.StatusOK, w.Code)
	assert.JSONEq(t, `{"ready":true,"backend":"memory","message":"In-memory rate limiting (single instance only)"}`, w.Body.String())

	w = serve(r, request{path: "/admin/health/ratelimit"})
	require.Equal(t, http.StatusOK, w.Code)
	assert.JSONEq(t, `{
		"backend": "memory",
		"redis_connected": false,
		"message": "In-memory rate limiting (single instance only)",
		"redis_configured": false,
		"client_cache": false,
		"degraded_since": null,
		"enabled": true,
		"ready": true,
		"strategy": "sliding-window",
		"limits": ["10/second", "100/minute"],
		"stats": {"allowed": 1, "denied": 0, "skipped": 0, "errors": 0, "fallback": 0, "unavailable": 0, "keys": 1, "watched": 0, "evictions": 0, "unknown_policies": 0, "invalid_limits": 0, "shadowed": 0}
	}`, w.Body.String(), "the details route is never counted either")
}

// TestPublicHealthTellsNoDetails checks that the health group on a public
// router shows neither where Redis is nor its error, and that the details
// route does.
func TestPublicHealthTellsNoDetails(t *testing.T) {
	const secret = "hunter22"
	r := gin.New()
	l, _ := newLimiter(t, ginlimit.WithRedisURL("redis://opsuser9:"+secret+"@127.0.0.1:1"), ginlimit.WithRedisTimeout(20*time.Millisecond),
		ginlimit.WithHealth(r), ginlimit.WithHealthDetails(r.Group("/admin")))
	r.Use(l.Middleware())
	r.GET("/", func(c *gin.Context) { c.Status(http.StatusNoContent) })
	require.Eventually(t, func() bool {
		serve(r, request{})
		return l.Status().LastError != ""
	}, 5*time.Second, 10*time.Millisecond)

	public := serve(r, request{path: "/health/ratelimit"}).Body.String()
	assert.JSONEq(t, `{"backend":"memory","redis_connected":false,"message":"In-memory rate limiting (single instance only)","ready":true}`, public)
	details := serve(r, request{path: "/admin/health/ratelimit"}).Body.String()
	assert.Contains(t, details, `"redis_addr":"127.0.0.1:1"`)
	assert.Contains(t, details, `"last_error":"dial tcp 127.0.0.1:1`)
	for _, body := range []string{public, details} {
		assert.NotContains(t, body, secret)
		assert.NotContains(t, body, "opsuser9")
	}
}

func TestPerRouteLimit(t *testing.T) {
	l, _ := newLimiter(t, ginlimit.WithLimits("9/minute"), ginlimit.WithHeaders(ginlimit.HeadersBoth))
	r := newRouter(l)
	ok := func(c *gin.Context) { c.Status(http.StatusOK) }
	r.POST("/login", l.Limit("2/minute"), ok)
	r.POST("/signup", l.Limit("2/minute"), ok)
	shared := l.Limit("1/minute", ginlimit.WithName("reports"))
	r.GET("/reports/a", shared, ok)
	r.GET("/reports/b", shared, ok)

	login := request{method: http.MethodPost, path: "/login"}
	assert.Equal(t, []int{200, 200, 429}, statuses(r, login, 3))
	w := serve(r, login)
	assert.Equal(t, `"/login";q=2;w=60`, w.Header().Get("RateLimit-Policy"))
	// /signup has the same limits but counts on its own.
	assert.Equal(t, []int{200, 200, 429}, statuses(r, request{method: http.MethodPost, path: "/signup"}, 3))
	// Routes given one name share a count.
	assert.Equal(t, http.StatusOK, serve(r, request{path: "/reports/a"}).Code)
	assert.Equal(t, http.StatusTooManyRequests, serve(r, request{path: "/reports/b"}).Code)
	// The nine requests above also went through the default 9/minute, which
	// now denies the client everywhere.
	assert.Equal(t, http.StatusTooManyRequests, serve(r, request{}).Code)
}

func TestPoliciesOfOneNameShareTheirPeriods(t *testing.T) {
	l, _ := newLimiter(t, ginlimit.WithLimits("1000/minute"))
	r := newRouter(l)
	ok := func(c *gin.Context) { c.Status(http.StatusOK) }
	// Two limits on one route, as two handlers: both hold.
	r.POST("/login", l.Limit("2/minute"), l.Limit("3/hour", ginlimit.WithStrategy(ginlimit.FixedWindow)), ok)
	// One name and period, different counts: one count, which each route
	// holds to its own limit.
	r.GET("/a", l.Limit("2/minute", ginlimit.WithName("auth")), ok)
	r.GET("/b", l.Limit("3/minute", ginlimit.WithName("auth")), ok)

	assert.Equal(t, []int{200, 200, 429}, statuses(r, request{method: http.MethodPost, path: "/login"}, 3))
	var got []int
	for range 4 {
		got = append(got, serve(r, request{path: "/a"}).Code, serve(r, request{path: "/b"}).Code)
	}
	assert.Equal(t, []int{200, 200, 429, 200, 429, 429, 429, 429}, got)
}

func TestExceededHandlerThatWritesNothingStill429(t *testing.T) {
	l, _ := newLimiter(t, ginlimit.WithLimits("1/minute"), ginlimit.WithExceededHandler(func(*gin.Context, ginlimit.Exceeded) {}))
	r := newRouter(l)
	assert.Equal(t, []int{200, 429}, statuses(r, request{}, 2))
}

func TestTrustedPlatformValuesNeverEqualHeaderKeys(t *testing.T) {
	b := &recordingBackend{}
	l, _ := newLimiter(t, ginlimit.WithBackend(b))
	r := newRouter(l)
	r.TrustedPlatform = "X-Client-Addr"
	serve(r, request{header: http.Header{"X-Client-Addr": {"h:victim"}}})
	assert.Equal(t, "ginlimit:default:raw:h:victim", b.lastKey())
	serve(r, request{header: http.Header{"X-Client-Addr": {"198.51.100.4"}}})
	assert.Equal(t, "ginlimit:default:198.51.100.4", b.lastKey())
}

func TestLimitMisusePanicsAtSetup(t *testing.T) {
	l, _ := newLimiter(t)
	tests := []struct {
		name string
		give func()
		want string
	}{
		{name: "bad limits", give: func() { l.Limit("5 per fortnight") }, want: `ginlimit: Limit("5 per fortnight"): WithLimits("5 per fortnight"): invalid option: invalid limit: "5 per fortnight": unknown unit "fortnight" (want e.g. "100/minute" or "500 per 7 days")`},
		{name: "limiter option", give: func() { l.Limit("5/minute", ginlimit.WithKeyPrefix("x")) }, want: `ginlimit: Limit("5/minute"): invalid option: WithKeyPrefix applies to the whole Limiter, not to a route`},
		{name: "nil option", give: func() { l.Limit("5/minute", nil) }, want: `ginlimit: Limit("5/minute"): option 0: invalid option: nil`},
		{name: "bad route option", give: func() { l.Limit("5/minute", ginlimit.KeyByForwardedFor(0)) }, want: `ginlimit: Limit("5/minute"): KeyByForwardedFor(0): invalid option: n must be 1 to 64`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.PanicsWithError(t, tt.want, tt.give)
		})
	}
}

func TestKeys(t *testing.T) {
	const (
		client = "203.0.113.7:5555"
		lb     = "10.0.0.1:443"
	)
	xff := func(v ...string) http.Header { return http.Header{"X-Forwarded-For": v} }
	tests := []struct {
		name    string
		opts    []ginlimit.Option
		trusted []string // gin trusted proxies; nil trusts none
		first   request
		second  request
		same    bool // whether the two requests share a key
	}{
		{
			name:    "gin default trust lets a spoofed X-Forwarded-For pick the key",
			trusted: []string{"0.0.0.0/0"},
			first:   request{remoteAddr: client, header: xff("1.1.1.1")},
			second:  request{remoteAddr: client, header: xff("2.2.2.2")},
		},
		{
			name:   "no trusted proxies: the peer address is the key",
			first:  request{remoteAddr: client, header: xff("1.1.1.1")},
			second: request{remoteAddr: client, header: xff("2.2.2.2")},
			same:   true,
		},
		{
			name:   "IPv6 grouped by /64",
			first:  request{remoteAddr: "[2001:db8:1:2::1]:1"},
			second: request{remoteAddr: "[2001:db8:1:2:ffff::9]:2"},
			same:   true,
		},
		{
			name:   "IPv6 in another /64",
			first:  request{remoteAddr: "[2001:db8:1:2::1]:1"},
			second: request{remoteAddr: "[2001:db8:1:3::1]:1"},
		},
		{
			name:   "IPv4-mapped IPv6 is the IPv4 client",
			first:  request{remoteAddr: "[::ffff:203.0.113.7]:1"},
			second: request{remoteAddr: "203.0.113.7:2"},
			same:   true,
		},
		{
			name:   "xff:2 ignores what the client prepends",
			opts:   []ginlimit.Option{ginlimit.KeyByForwardedFor(2)},
			first:  request{remoteAddr: lb, header: xff("1.1.1.1, 198.51.100.9, 10.0.0.2")},
			second: request{remoteAddr: lb, header: xff("2.2.2.2", "198.51.100.9,10.0.0.2")},
			same:   true,
		},
		{
			name:   "xff:2 tells clients apart",
			opts:   []ginlimit.Option{ginlimit.KeyByForwardedFor(2)},
			first:  request{remoteAddr: lb, header: xff("198.51.100.9, 10.0.0.2")},
			second: request{remoteAddr: lb, header: xff("198.51.100.10, 10.0.0.2")},
		},
		{
			name:   "xff:2 with a short header counts the peer",
			opts:   []ginlimit.Option{ginlimit.KeyByForwardedFor(2)},
			first:  request{remoteAddr: lb, header: xff("10.0.0.2")},
			second: request{remoteAddr: lb},
			same:   true,
		},
		{
			name:   "xff:1 with garbage counts the peer",
			opts:   []ginlimit.Option{ginlimit.KeyByForwardedFor(1)},
			first:  request{remoteAddr: lb, header: xff("not-an-ip")},
			second: request{remoteAddr: lb},
			same:   true,
		},
		{
			name:   "header key",
			opts:   []ginlimit.Option{ginlimit.KeyByHeader("X-API-Key")},
			first:  request{remoteAddr: client, header: http.Header{"X-Api-Key": {"alpha"}}},
			second: request{remoteAddr: "198.51.100.1:1", header: http.Header{"X-Api-Key": {"alpha"}}},
			same:   true,
		},
		{
			name:   "absent header falls back to the IP",
			opts:   []ginlimit.Option{ginlimit.KeyByHeader("X-API-Key")},
			first:  request{remoteAddr: client},
			second: request{remoteAddr: client, header: http.Header{"X-Api-Key": {"  "}}},
			same:   true,
		},
		{
			name:   "a header value never takes over an IP's count",
			opts:   []ginlimit.Option{ginlimit.KeyByHeader("X-API-Key")},
			first:  request{remoteAddr: client},
			second: request{remoteAddr: "198.51.100.1:1", header: http.Header{"X-Api-Key": {"203.0.113.7"}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, _ := newLimiter(t, append([]ginlimit.Option{ginlimit.WithLimits("1/minute")}, tt.opts...)...)
			r := newRouter(l)
			require.NoError(t, r.SetTrustedProxies(tt.trusted))
			require.Equal(t, http.StatusOK, serve(r, tt.first).Code)
			want := http.StatusOK
			if tt.same {
				want = http.StatusTooManyRequests
			}
			assert.Equal(t, want, serve(r, tt.second).Code)
		})
	}
}

func TestKeysAreNamespacedAndBounded(t *testing.T) {
	b := &recordingBackend{}
	long := strings.Repeat("k", 1000)
	l, _ := newLimiter(t, ginlimit.WithBackend(b), ginlimit.WithKeyPrefix("svc"), ginlimit.WithKeyFunc(func(c *gin.Context) string {
		return c.GetHeader("X-Key")
	}))
	r := newRouter(l)
	r.GET("/login", l.Limit("1/minute"), func(*gin.Context) {})

	serve(r, request{remoteAddr: "192.0.2.1:1", header: http.Header{"X-Key": {"user-1"}}})
	assert.Equal(t, "svc:default:user-1", b.lastKey())
	serve(r, request{remoteAddr: "192.0.2.1:1"})
	assert.Equal(t, "svc:default:192.0.2.1", b.lastKey(), "an empty key falls back to the IP")
	serve(r, request{header: http.Header{"X-Key": {long}}})
	assert.Equal(t, "svc:default:sha256:", b.lastKey()[:len("svc:default:sha256:")])
	assert.Len(t, b.lastKey(), len("svc:default:sha256:")+32)
	serve(r, request{path: "/login", header: http.Header{"X-Key": {"user-1"}}})
	assert.Equal(t, "svc:/login:user-1", b.lastKey())
}

func TestCost(t *testing.T) {
	l, _ := newLimiter(t, ginlimit.WithLimits("5/minute"), ginlimit.WithStrategy(ginlimit.FixedWindow), ginlimit.WithCost(func(c *gin.Context) int {
		switch c.Query("size") {
		case "big":
			return 3
		case "free":
			return 0
		case "negative":
			return -4
		}
		return 1
	}))
	r := newRouter(l)
	w := serve(r, request{path: "/?size=big"})
	require.Equal(t, http.StatusOK, w.Code)
	assert.Equal(t, "2", w.Header().Get("X-RateLimit-Remaining"))
	assert.Equal(t, http.StatusTooManyRequests, serve(r, request{path: "/?size=big"}).Code, "3 > 2 remaining")
	assert.Equal(t, []int{200, 200, 429}, statuses(r, request{}, 3), "the denial consumed nothing")
	assert.Equal(t, http.StatusOK, serve(r, request{path: "/?size=free"}).Code, "cost 0 is free")
	assert.Equal(t, http.StatusOK, serve(r, request{path: "/?size=negative"}).Code, "negative cost counts as 0")
}

func TestExceededHandler(t *testing.T) {
	var got ginlimit.Exceeded
	l, _ := newLimiter(t, ginlimit.WithLimits("1/minute"), ginlimit.WithStrategy(ginlimit.FixedWindow),
		ginlimit.WithExceededHandler(func(c *gin.Context, e ginlimit.Exceeded) {
			got = e
			c.String(http.StatusServiceUnavailable, "slow down")
		}))
	r := gin.New()
	r.Use(l.Middleware())
	handlerRan := 0
	r.GET("/", func(c *gin.Context) { handlerRan++ })

	serve(r, request{remoteAddr: "192.0.2.1:1"})
	w := serve(r, request{remoteAddr: "192.0.2.1:1"})
	assert.Equal(t, http.StatusServiceUnavailable, w.Code)
	assert.Equal(t, "slow down", w.Body.String())
	assert.Equal(t, "60", w.Header().Get("Retry-After"))
	assert.Equal(t, 1, handlerRan, "the chain is aborted after a denial")
	assert.Equal(t, ginlimit.Exceeded{
		Key:        "192.0.2.1",
		Policy:     "default",
		Limit:      backend.Limit{Count: 1, Period: time.Minute},
		RetryAfter: time.Minute,
	}, got)
}

func TestDisabledPassesEverything(t *testing.T) {
	l, _ := newLimiter(t, ginlimit.WithLimits("1/minute"), ginlimit.WithEnabled(false))
	r := newRouter(l)
	r.GET("/login", l.Limit("1/minute"), func(*gin.Context) {})
	assert.Equal(t, repeat(http.StatusOK, 3), statuses(r, request{}, 3))
	assert.Equal(t, repeat(http.StatusOK, 3), statuses(r, request{path: "/login"}, 3))
	assert.Empty(t, serve(r, request{}).Header().Get("X-RateLimit-Limit"))
	assert.False(t, l.Status().Enabled)
}

func TestCloseIsIdempotentAndFailsOpen(t *testing.T) {
	l, err := ginlimit.NewLimiter(ginlimit.WithLimits("1/minute"), ginlimit.WithLogger(discardLogger()))
	require.NoError(t, err)
	r := newRouter(l)
	ginlimit.RegisterHealth(r, l)
	require.NoError(t, l.Close())
	require.NoError(t, l.Close())
	assert.Equal(t, repeat(http.StatusOK, 2), statuses(r, request{}, 2))
	assert.Equal(t, uint64(2), l.Stats().Errors)
	assert.False(t, l.Status().Ready)
	assert.Equal(t, http.StatusServiceUnavailable, serve(r, request{path: "/health/ratelimit/ready"}).Code)
}

func TestNewPanicsOnInvalidOption(t *testing.T) {
	assert.PanicsWithError(t, `ginlimit: WithLimits("100/fortnight"): invalid option: invalid limit: "100/fortnight": unknown unit "fortnight" (want e.g. "100/minute" or "500 per 7 days")`, func() {
		ginlimit.New(ginlimit.WithLimits("100/fortnight"))
	})
}

func TestNewWorksWithRouterUse(t *testing.T) {
	store, err := memory.New()
	require.NoError(t, err)
	defer store.Close()
	r := gin.New()
	r.Use(ginlimit.New(ginlimit.WithBackend(store), ginlimit.WithLimits("2/minute"), ginlimit.WithLogger(discardLogger())))
	r.GET("/", func(*gin.Context) {})
	assert.Equal(t, []int{200, 200, 429}, statuses(r, request{}, 3))
}

func TestOptionErrors(t *testing.T) {
	tests := []struct {
		give ginlimit.Option
		want string
	}{
		{give: ginlimit.WithLimits(""), want: `ginlimit: WithLimits(""): invalid option: invalid limit: empty limits string`},
		{give: ginlimit.WithLimits("0/second"), want: `WithLimits("0/second")`},
		{give: ginlimit.WithStrategy(9), want: `ginlimit: WithStrategy(Strategy(9)): invalid option: unknown strategy`},
		{give: ginlimit.WithKeyFunc(nil), want: `ginlimit: WithKeyFunc(nil): invalid option: the key function is nil`},
		{give: ginlimit.WithKeyPrefix(""), want: `ginlimit: WithKeyPrefix(""): invalid option: it must be 1 to 64 characters long`},
		{give: ginlimit.WithKeyPrefix("a{b}"), want: `ginlimit: WithKeyPrefix("a{b}"): invalid option: character '{' is not allowed`},
		{give: ginlimit.WithKeyPrefix("a b"), want: `character ' ' is not allowed`},
		{give: ginlimit.WithName(strings.Repeat("n", 65)), want: `it must be 1 to 64 characters long`},
		{give: ginlimit.WithSkip(nil), want: `ginlimit: WithSkip(nil): invalid option: the skipper is nil`},
		{give: ginlimit.WithCost(nil), want: `ginlimit: WithCost(nil): invalid option: the cost function is nil`},
		{give: ginlimit.WithExceededHandler(nil), want: `ginlimit: WithExceededHandler(nil): invalid option: the handler is nil`},
		{give: ginlimit.WithHeaders(7), want: `ginlimit: WithHeaders(7): invalid option: unknown header mode`},
		{give: ginlimit.WithLogger(nil), want: `ginlimit: WithLogger(nil): invalid option: the logger is nil`},
		{give: ginlimit.WithClock(nil), want: `ginlimit: WithClock(nil): invalid option: the clock is nil`},
		{give: ginlimit.WithBackend(nil), want: `ginlimit: WithBackend(nil): invalid option: the backend is nil`},
		{give: ginlimit.WithMemoryMaxKeys(0), want: `ginlimit: WithMemoryMaxKeys(0): invalid option: the bound must be at least 1`},
		{give: ginlimit.WithHealth(nil), want: `ginlimit: WithHealth(nil): invalid option: the router is nil`},
		{give: ginlimit.KeyByHeader(""), want: `ginlimit: KeyByHeader(""): invalid option: the header name is empty`},
		{give: ginlimit.KeyByHeader("X Key"), want: `ginlimit: KeyByHeader("X Key"): invalid option: character ' ' is not allowed in a header name`},
		{give: ginlimit.KeyByForwardedFor(65), want: `ginlimit: KeyByForwardedFor(65): invalid option: n must be 1 to 64`},
		{give: nil, want: `ginlimit: option 0: invalid option: nil`},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			l, err := ginlimit.NewLimiter(tt.give)
			require.Error(t, err)
			assert.Nil(t, l)
			assert.ErrorIs(t, err, ginlimit.ErrInvalidOption)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

func rateLimitHeaders(h http.Header) map[string]string {
	got := map[string]string{}
	for _, name := range []string{"X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset", "RateLimit-Policy", "RateLimit", "Retry-After"} {
		if v := h.Values(name); len(v) > 0 {
			got[name] = strings.Join(v, ", ")
		}
	}
	return got
}

func merge(a, b map[string]string) map[string]string {
	m := map[string]string{}
	for k, v := range a {
		m[k] = v
	}
	for k, v := range b {
		m[k] = v
	}
	return m
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
