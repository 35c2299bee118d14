package httplimit_test

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ginlimit/ginlimit/backend"
	"github.com/ginlimit/ginlimit/httplimit"
)

func TestMiddlewareDeniesWith429(t *testing.T) {
	l, clk := newLimiter(t, httplimit.WithLimits("3/minute"), httplimit.WithStrategy(backend.FixedWindow))
	ok := &okHandler{}
	h := l.Middleware(ok)

	assert.Equal(t, []int{200, 200, 200}, statuses(h, request{}, 3))
	w := serve(h, request{})
	assert.Equal(t, http.StatusTooManyRequests, w.Code)
	assert.Equal(t, "application/json; charset=utf-8", w.Header().Get("Content-Type"))
	assert.Equal(t, `{"error":"rate limit exceeded","retry_after":60}`, w.Body.String())
	assert.Equal(t, "60", w.Header().Get("Retry-After"))
	assert.Equal(t, "0", w.Header().Get("X-RateLimit-Remaining"))
	assert.Equal(t, 3, ok.count(), "a denied request never reaches the handler")

	clk.Advance(59*time.Second + 100*time.Millisecond)
	w = serve(h, request{})
	assert.Equal(t, http.StatusTooManyRequests, w.Code)
	assert.Equal(t, "1", w.Header().Get("Retry-After"), "rounded up")
	assert.Equal(t, `{"error":"rate limit exceeded","retry_after":1}`, w.Body.String())

	clk.Advance(time.Second)
	assert.Equal(t, http.StatusOK, serve(h, request{}).Code, "a new window")
	assert.Equal(t, httplimit.Stats{Allowed: 4, Denied: 2, Keys: 1}, l.Stats())
}

func TestMiddlewareHeaders(t *testing.T) {
	// t0 is 12:00:07; the fixed window opens at the first request and ends
	// 60s later.
	reset := strconv.FormatInt(t0.Add(time.Minute).Unix(), 10)
	legacy := map[string]string{
		"X-RateLimit-Limit":     "3",
		"X-RateLimit-Remaining": "2",
		"X-RateLimit-Reset":     reset,
	}
	ietf := map[string]string{
		"RateLimit-Policy": `"default";q=3;w=60`,
		"RateLimit":        `"default";r=2;t=60`,
	}
	both := map[string]string{}
	for _, m := range []map[string]string{legacy, ietf} {
		for k, v := range m {
			both[k] = v
		}
	}
	tests := []struct {
		give httplimit.Headers
		want map[string]string
	}{
		{give: httplimit.HeadersLegacy, want: legacy},
		{give: httplimit.HeadersIETF, want: ietf},
		{give: httplimit.HeadersBoth, want: both},
		{give: httplimit.HeadersNone, want: map[string]string{}},
	}
	for _, tt := range tests {
		t.Run(tt.give.String(), func(t *testing.T) {
			l, _ := newLimiter(t, httplimit.WithLimits("3/minute"), httplimit.WithStrategy(backend.FixedWindow), httplimit.WithHeaders(tt.give))
			h, _ := newServer(l)
			w := serve(h, request{})
			require.Equal(t, http.StatusOK, w.Code)
			assert.Equal(t, tt.want, rateLimitHeaders(w.Header()))
		})
	}
}

func TestMiddlewareHeadersOnDenial(t *testing.T) {
	tests := []struct {
		give httplimit.Headers
		want map[string]string
	}{
		{give: httplimit.HeadersBoth, want: map[string]string{
			"X-RateLimit-Limit":     "1",
			"X-RateLimit-Remaining": "0",
			"X-RateLimit-Reset":     strconv.FormatInt(t0.Add(time.Minute).Unix(), 10),
			"RateLimit-Policy":      `"default";q=1;w=60`,
			"RateLimit":             `"default";r=0;t=60`,
			"Retry-After":           "60",
		}},
		{give: httplimit.HeadersNone, want: map[string]string{"Retry-After": "60"}},
	}
	for _, tt := range tests {
		t.Run(tt.give.String(), func(t *testing.T) {
			l, _ := newLimiter(t, httplimit.WithLimits("1/minute"), httplimit.WithStrategy(backend.FixedWindow), httplimit.WithHeaders(tt.give))
			h, _ := newServer(l)
			require.Equal(t, http.StatusOK, serve(h, request{}).Code)
			w := serve(h, request{})
			require.Equal(t, http.StatusTooManyRequests, w.Code)
			assert.Equal(t, tt.want, rateLimitHeaders(w.Header()))
		})
	}
}

// TestLimitCountsEachPatternApart checks that a route's limits count per
// ServeMux pattern, never per path, and that WithName joins routes into
// one count.
func TestLimitCountsEachPatternApart(t *testing.T) {
	l, _ := newLimiter(t, httplimit.WithLimits("100/minute"))
	mux := http.NewServeMux()
	ok := &okHandler{}
	mux.Handle("POST /login", l.Limit("2/minute", httplimit.WithHeaders(httplimit.HeadersIETF))(ok))
	mux.Handle("POST /signup", l.Limit("2/minute")(ok))
	perRoute := l.Limit("1/minute") // one middleware, two routes
	mux.Handle("GET /a", perRoute(ok))
	mux.Handle("GET /b", perRoute(ok))
	mux.Handle("GET /items/{id}", l.Limit("1/minute")(ok))
	shared := l.Limit("1/minute", httplimit.WithName("reports"))
	mux.Handle("GET /reports/a", shared(ok))
	mux.Handle("GET /reports/b", shared(ok))
	mux.Handle("GET /exports/a", l.Limit("1/minute", httplimit.WithName("exports"))(ok))
	mux.Handle("GET /exports/b", l.Limit("1/minute", httplimit.WithName("exports"))(ok))
	h := l.Middleware(mux)

	login := request{method: http.MethodPost, path: "/login"}
	assert.Equal(t, []int{200, 200, 429}, statuses(h, login, 3))
	assert.Equal(t, `"POST_/login";q=2;w=60`, serve(h, login).Header().Get("RateLimit-Policy"),
		"named after the pattern, its space made '_'")
	assert.Equal(t, []int{200, 200, 429}, statuses(h, request{method: http.MethodPost, path: "/signup"}, 3),
		"the same limits on another route count apart")
	assert.Equal(t, []int{200, 429}, []int{serve(h, request{path: "/a"}).Code, serve(h, request{path: "/a"}).Code})
	assert.Equal(t, http.StatusOK, serve(h, request{path: "/b"}).Code, "one Limit on two patterns counts each apart")
	assert.Equal(t, []int{200, 429}, []int{serve(h, request{path: "/items/1"}).Code, serve(h, request{path: "/items/2"}).Code},
		"the paths of one pattern share its count")
	assert.Equal(t, []int{200, 429}, []int{serve(h, request{path: "/reports/a"}).Code, serve(h, request{path: "/reports/b"}).Code},
		"one named Limit on two routes shares a count")
	assert.Equal(t, []int{200, 429}, []int{serve(h, request{path: "/exports/a"}).Code, serve(h, request{path: "/exports/b"}).Code},
		"two Limits of one name and the same limits share a count")
}

// TestLimitWithoutPatternIsStar checks that a route limited outside a
// ServeMux, which sets no r.Pattern, is named "*".
func TestLimitWithoutPatternIsStar(t *testing.T) {
	l, _ := newLimiter(t)
	h := l.Limit("1/minute", httplimit.WithHeaders(httplimit.HeadersIETF))(&okHandler{})
	w := serve(h, request{path: "/anything"})
	require.Equal(t, http.StatusOK, w.Code)
	assert.Equal(t, `"*";q=1;w=60`, w.Header().Get("RateLimit-Policy"))
	assert.Equal(t, http.StatusTooManyRequests, serve(h, request{path: "/else"}).Code)
}

// TestLimitAddsToDefault checks that a route's limits hold on top of the
// Middleware's default limits.
func TestLimitAddsToDefault(t *testing.T) {
	l, _ := newLimiter(t, httplimit.WithLimits("3/minute"))
	h, mux := newServer(l)
	mux.Handle("POST /login", l.Limit("1/minute")(&okHandler{}))
	login := request{method: http.MethodPost, path: "/login"}
	assert.Equal(t, []int{200, 429}, statuses(h, login, 2))
	assert.Equal(t, []int{200, 429}, statuses(h, request{}, 2), "the two login requests went through the default 3/minute")
}

func TestHealthIsNeverLimited(t *testing.T) {
	l, _ := newLimiter(t, httplimit.WithLimits("1/minute"))
	h, mux := newServer(l)
	httplimit.RegisterHealth(mux, l) // the Middleware runs in front of it

	for _, path := range []string{"/health/ratelimit", "/health/ratelimit/ready"} {
		assert.Equal(t, repeat(http.StatusOK, 5), statuses(h, request{path: path}, 5), path)
		assert.Empty(t, rateLimitHeaders(serve(h, request{path: path}).Header()), path)
	}
	assert.Equal(t, httplimit.Stats{}, l.Stats(), "not counted")
	assert.Equal(t, []int{200, 429}, statuses(h, request{}, 2))
}

func TestHealthBodies(t *testing.T) {
	l, _ := newLimiter(t, httplimit.WithLimits("10/second;100/minute"))
	h, mux := newServer(l)
	httplimit.RegisterHealth(mux, l)
	admin := http.NewServeMux()
	httplimit.RegisterHealthDetails(admin, l)
	require.Equal(t, http.StatusOK, serve(h, request{}).Code)

	w := serve(h, request{path: "/health/ratelimit"})
	require.Equal(t, http.StatusOK, w.Code)
	assert.Equal(t, "application/json; charset=utf-8", w.Header().Get("Content-Type"))
	assert.JSONEq(t, `{
		"backend": "memory",
		"redis_connected": false,
		"message": "In-memory rate limiting (single instance only)",
		"ready": true
	}`, w.Body.String())

	w = serve(h, request{path: "/health/ratelimit/ready"})
	assert.Equal(t, http.StatusOK, w.Code)
	assert.JSONEq(t, `{"ready":true,"backend":"memory","message":"In-memory rate limiting (single instance only)"}`, w.Body.String())

	w = serve(h, request{method: http.MethodHead, path: "/health/ratelimit"})
	assert.Equal(t, http.StatusOK, w.Code)
	w = serve(h, request{method: http.MethodPost, path: "/health/ratelimit"})
	assert.Equal(t, http.StatusMethodNotAllowed, w.Code)
	assert.Equal(t, "GET, HEAD", w.Header().Get("Allow"))

	w = serve(admin, request{path: "/health/ratelimit"})
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
	}`, w.Body.String())
}

func TestRegisterHealthPanicsOnNilLimiter(t *testing.T) {
	mux := http.NewServeMux()
	assert.PanicsWithValue(t, "ginlimit: RegisterHealth: the Limiter is nil", func() { httplimit.RegisterHealth(mux, nil) })
	assert.PanicsWithValue(t, "ginlimit: RegisterHealthDetails: the Limiter is nil", func() { httplimit.RegisterHealthDetails(mux, nil) })
}

// TestKeys checks which requests share a count under each key option.
func TestKeys(t *testing.T) {
	const (
		client = "203.0.113.7:5555"
		lb     = "10.0.0.1:443"
	)
	xff := func(v ...string) http.Header { return http.Header{"X-Forwarded-For": v} }
	byUser := httplimit.WithKeyFunc(func(r *http.Request) string { return r.Header.Get("X-User") })
	tests := []struct {
		name   string
		opts   []httplimit.Option
		first  request
		second request
		same   bool // whether the two requests share a key
	}{
		{
			name:   "the peer address is the key, whatever X-Forwarded-For says",
			first:  request{remoteAddr: client, header: xff("1.1.1.1")},
			second: request{remoteAddr: client, header: xff("2.2.2.2")},
			same:   true,
		},
		{
			name:   "another peer",
			first:  request{remoteAddr: client},
			second: request{remoteAddr: "203.0.113.8:5555"},
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
			opts:   []httplimit.Option{httplimit.KeyByForwardedFor(2)},
			first:  request{remoteAddr: lb, header: xff("1.1.1.1, 198.51.100.9, 10.0.0.2")},
			second: request{remoteAddr: lb, header: xff("2.2.2.2", "198.51.100.9,10.0.0.2")},
			same:   true,
		},
		{
			name:   "xff:2 tells clients apart",
			opts:   []httplimit.Option{httplimit.KeyByForwardedFor(2)},
			first:  request{remoteAddr: lb, header: xff("198.51.100.9, 10.0.0.2")},
			second: request{remoteAddr: lb, header: xff("198.51.100.10, 10.0.0.2")},
		},
		{
			name:   "xff:1 groups IPv6 by /64",
			opts:   []httplimit.Option{httplimit.KeyByForwardedFor(1)},
			first:  request{remoteAddr: lb, header: xff("2001:db8:1:2::1")},
			second: request{remoteAddr: "10.0.0.9:443", header: xff("2001:db8:1:2::2")},
			same:   true,
		},
		{
			name:   "xff:2 with a short header counts the peer",
			opts:   []httplimit.Option{httplimit.KeyByForwardedFor(2)},
			first:  request{remoteAddr: lb, header: xff("10.0.0.2")},
			second: request{remoteAddr: lb},
			same:   true,
		},
		{
			name:   "xff:1 with garbage counts the peer",
			opts:   []httplimit.Option{httplimit.KeyByForwardedFor(1)},
			first:  request{remoteAddr: lb, header: xff("not-an-ip")},
			second: request{remoteAddr: lb},
			same:   true,
		},
		{
			name:   "header key",
			opts:   []httplimit.Option{httplimit.KeyByHeader("X-API-Key")},
			first:  request{remoteAddr: client, header: http.Header{"X-Api-Key": {"alpha"}}},
			second: request{remoteAddr: "198.51.100.1:1", header: http.Header{"X-Api-Key": {"alpha"}}},
			same:   true,
		},
		{
			name:   "other header values",
			opts:   []httplimit.Option{httplimit.KeyByHeader("X-API-Key")},
			first:  request{remoteAddr: client, header: http.Header{"X-Api-Key": {"alpha"}}},
			second: request{remoteAddr: client, header: http.Header{"X-Api-Key": {"beta"}}},
		},
		{
			name:   "absent header falls back to the IP",
			opts:   []httplimit.Option{httplimit.KeyByHeader("X-API-Key")},
			first:  request{remoteAddr: client},
			second: request{remoteAddr: client, header: http.Header{"X-Api-Key": {"  "}}},
			same:   true,
		},
		{
			name:   "a header value never takes over an IP's count",
			opts:   []httplimit.Option{httplimit.KeyByHeader("X-API-Key")},
			first:  request{remoteAddr: client},
			second: request{remoteAddr: "198.51.100.1:1", header: http.Header{"X-Api-Key": {"203.0.113.7"}}},
		},
		{
			name:   "key function",
			opts:   []httplimit.Option{byUser},
			first:  request{remoteAddr: client, header: http.Header{"X-User": {"ada"}}},
			second: request{remoteAddr: "198.51.100.1:1", header: http.Header{"X-User": {"ada"}}},
			same:   true,
		},
		{
			name:   "key function's empty key falls back to the IP",
			opts:   []httplimit.Option{byUser},
			first:  request{remoteAddr: client},
			second: request{remoteAddr: client, header: http.Header{"X-User": {""}}},
			same:   true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, _ := newLimiter(t, append([]httplimit.Option{httplimit.WithLimits("1/minute")}, tt.opts...)...)
			h, _ := newServer(l)
			require.Equal(t, http.StatusOK, serve(h, tt.first).Code)
			want := http.StatusOK
			if tt.same {
				want = http.StatusTooManyRequests
			}
			assert.Equal(t, want, serve(h, tt.second).Code)
		})
	}
}

// TestKeysAreNamespacedAndBounded checks the keys a backend receives.
func TestKeysAreNamespacedAndBounded(t *testing.T) {
	tests := []struct {
		name string
		opts []httplimit.Option
		give request
		want string
	}{
		{name: "peer IPv4", give: request{remoteAddr: "192.0.2.1:1"}, want: "ginlimit:default:192.0.2.1"},
		{name: "peer IPv6", give: request{remoteAddr: "[2001:db8:1:2:3:4:5:6]:1"}, want: "ginlimit:default:2001:db8:1:2::/64"},
		{name: "peer unparsable", give: request{remoteAddr: "pipe"}, want: "ginlimit:default:unknown"},
		{name: "prefix", opts: []httplimit.Option{httplimit.WithKeyPrefix("svc")}, give: request{remoteAddr: "192.0.2.1:1"}, want: "svc:default:192.0.2.1"},
		{name: "name", opts: []httplimit.Option{httplimit.WithName("api")}, give: request{remoteAddr: "192.0.2.1:1"}, want: "ginlimit:api:192.0.2.1"},
		{
			name: "header",
			opts: []httplimit.Option{httplimit.KeyByHeader("X-API-Key")},
			give: request{header: http.Header{"X-Api-Key": {" alpha "}}},
			want: "ginlimit:default:h:alpha",
		},
		{
			name: "forwarded",
			opts: []httplimit.Option{httplimit.KeyByForwardedFor(1)},
			give: request{header: http.Header{"X-Forwarded-For": {"198.51.100.9"}}},
			want: "ginlimit:default:198.51.100.9",
		},
		{
			name: "key function",
			opts: []httplimit.Option{httplimit.WithKeyFunc(func(r *http.Request) string { return r.Header.Get("X-User") })},
			give: request{header: http.Header{"X-User": {"user-1"}}},
			want: "ginlimit:default:user-1",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := &recordingBackend{}
			l, _ := newLimiter(t, append([]httplimit.Option{httplimit.WithBackend(b)}, tt.opts...)...)
			h, _ := newServer(l)
			require.Equal(t, http.StatusOK, serve(h, tt.give).Code)
			assert.Equal(t, tt.want, b.lastKey())
		})
	}
}

// TestLongKeysAreHashed checks that a key longer than 128 bytes is counted
// under its hash, one per key.
func TestLongKeysAreHashed(t *testing.T) {
	b := &recordingBackend{}
	l, _ := newLimiter(t, httplimit.WithBackend(b), httplimit.WithKeyFunc(func(r *http.Request) string { return r.Header.Get("X-User") }))
	h, _ := newServer(l)
	const prefix = "ginlimit:default:sha256:"
	var keys []string
	for _, user := range []string{strings.Repeat("k", 129), strings.Repeat("k", 130), strings.Repeat("k", 129)} {
		require.Equal(t, http.StatusOK, serve(h, request{header: http.Header{"X-User": {user}}}).Code)
		got := b.lastKey()
		assert.True(t, strings.HasPrefix(got, prefix), "got %q, want the prefix %q", got, prefix)
		assert.Len(t, got, len(prefix)+32, "128 bits in hex")
		keys = append(keys, got)
	}
	assert.NotEqual(t, keys[0], keys[1], "two keys, two hashes")
	assert.Equal(t, keys[0], keys[2], "one key, one hash")

	serve(h, request{header: http.Header{"X-User": {strings.Repeat("k", 128)}}})
	assert.Equal(t, "ginlimit:default:"+strings.Repeat("k", 128), b.lastKey(), "128 bytes are kept as they are")
}

func TestSkip(t *testing.T) {
	l, _ := newLimiter(t, httplimit.WithLimits("1/minute"), httplimit.WithSkip(func(r *http.Request) bool {
		return r.Header.Get("X-Internal") == "yes"
	}))
	h, _ := newServer(l)
	internal := request{header: http.Header{"X-Internal": {"yes"}}}

	assert.Equal(t, repeat(http.StatusOK, 5), statuses(h, internal, 5))
	assert.Empty(t, rateLimitHeaders(serve(h, internal).Header()), "a skipped request gets no headers")
	assert.Equal(t, http.StatusOK, serve(h, request{}).Code, "skipped requests were counted")
	assert.Equal(t, http.StatusTooManyRequests, serve(h, request{}).Code)
	assert.Equal(t, httplimit.Stats{Allowed: 1, Denied: 1, Skipped: 6, Keys: 1}, l.Stats())
}

func TestCost(t *testing.T) {
	l, _ := newLimiter(t, httplimit.WithLimits("5/minute"), httplimit.WithStrategy(backend.FixedWindow), httplimit.WithCost(func(r *http.Request) int {
		switch r.URL.Query().Get("size") {
		case "big":
			return 3
		case "free":
			return 0
		case "negative":
			return -4
		}
		return 1
	}))
	h, _ := newServer(l)
	w := serve(h, request{path: "/?size=big"})
	require.Equal(t, http.StatusOK, w.Code)
	assert.Equal(t, "2", w.Header().Get("X-RateLimit-Remaining"))
	assert.Equal(t, http.StatusTooManyRequests, serve(h, request{path: "/?size=big"}).Code, "3 > 2 remaining")
	w = serve(h, request{path: "/?size=free"})
	assert.Equal(t, http.StatusOK, w.Code)
	assert.Equal(t, "2", w.Header().Get("X-RateLimit-Remaining"), "cost 0 consumes nothing")
	assert.Equal(t, []int{200, 200, 429}, statuses(h, request{}, 3), "the denial consumed nothing")
	assert.Equal(t, repeat(http.StatusOK, 3), statuses(h, request{path: "/?size=free"}, 3), "cost 0 is free, even over the limit")
	assert.Equal(t, http.StatusOK, serve(h, request{path: "/?size=negative"}).Code, "a negative cost counts as 0")
}

func TestExceededHandler(t *testing.T) {
	var got httplimit.Decision
	l, _ := newLimiter(t, httplimit.WithLimits("1/minute"), httplimit.WithStrategy(backend.FixedWindow),
		httplimit.WithExceededHandler(func(w http.ResponseWriter, r *http.Request, d httplimit.Decision) {
			got = d
			assert.Equal(t, "60", w.Header().Get("Retry-After"), "the headers are set before the handler runs")
			w.Header().Set("Content-Type", "text/plain")
			w.WriteHeader(http.StatusTeapot)
			_, _ = w.Write([]byte("slow down"))
		}))
	ok := &okHandler{}
	h := l.Middleware(ok)

	require.Equal(t, http.StatusOK, serve(h, request{remoteAddr: "192.0.2.1:1"}).Code)
	w := serve(h, request{remoteAddr: "192.0.2.1:1"})
	assert.Equal(t, http.StatusTeapot, w.Code)
	assert.Equal(t, "slow down", w.Body.String())
	assert.Equal(t, "text/plain", w.Header().Get("Content-Type"))
	assert.Equal(t, "60", w.Header().Get("Retry-After"))
	assert.Equal(t, 1, ok.count(), "a denied request never reaches the handler")
	assert.Equal(t, decision{
		Source:     httplimit.SourceMemory,
		Policy:     "default",
		Key:        "192.0.2.1",
		Limit:      backend.Limit{Count: 1, Period: time.Minute},
		Reset:      time.Minute,
		RetryAfter: time.Minute,
	}, fieldsOf(got))
}

func TestExceededHandlerThatWritesNothingStill429(t *testing.T) {
	tests := []struct {
		name string
		give httplimit.ExceededHandler
	}{
		{name: "nothing", give: func(http.ResponseWriter, *http.Request, httplimit.Decision) {}},
		{name: "headers only", give: func(w http.ResponseWriter, _ *http.Request, _ httplimit.Decision) {
			w.Header().Set("X-Reason", "quota")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, _ := newLimiter(t, httplimit.WithLimits("1/minute"), httplimit.WithExceededHandler(tt.give))
			h, _ := newServer(l)
			require.Equal(t, http.StatusOK, serve(h, request{}).Code)
			w := serve(h, request{})
			assert.Equal(t, http.StatusTooManyRequests, w.Code)
			assert.Empty(t, w.Body.String())
			assert.NotEmpty(t, w.Header().Get("Retry-After"))
		})
	}
}

func TestDisabledPassesEverything(t *testing.T) {
	l, _ := newLimiter(t, httplimit.WithLimits("1/minute"), httplimit.WithEnabled(false))
	mux := http.NewServeMux()
	ok := &okHandler{}
	mux.Handle("/", ok)
	mux.Handle("POST /login", l.Limit("1/minute")(ok))
	h := l.Middleware(mux)
	assert.Same(t, mux, h, "a disabled Limiter's Middleware is next itself")

	assert.Equal(t, repeat(http.StatusOK, 3), statuses(h, request{}, 3))
	assert.Equal(t, repeat(http.StatusOK, 3), statuses(h, request{method: http.MethodPost, path: "/login"}, 3))
	assert.Empty(t, rateLimitHeaders(serve(h, request{}).Header()))
	assert.False(t, l.Enabled())
	assert.False(t, l.Status().Enabled)
	assert.Equal(t, httplimit.Stats{}, l.Stats())
}

func TestClosedLimiterAdmits(t *testing.T) {
	l, err := httplimit.New(httplimit.WithLimits("1/minute"), httplimit.WithLogger(discardLogger()))
	require.NoError(t, err)
	h, mux := newServer(l)
	httplimit.RegisterHealth(mux, l)
	require.NoError(t, l.Close())
	require.NoError(t, l.Close(), "Close is idempotent")
	assert.Equal(t, repeat(http.StatusOK, 2), statuses(h, request{}, 2))
	assert.Equal(t, httplimit.Stats{Allowed: 2, Errors: 2}, l.Stats())
	assert.Equal(t, http.StatusServiceUnavailable, serve(h, request{path: "/health/ratelimit/ready"}).Code)
}

// TestFailureModes fails a custom backend under each failure mode.
func TestFailureModes(t *testing.T) {
	t.Run("open admits without headers", func(t *testing.T) {
		b := &recordingBackend{err: errors.New("down")}
		l, _ := newLimiter(t, httplimit.WithBackend(b), httplimit.WithLimits("1/minute"), httplimit.WithFailureMode(httplimit.FailOpen))
		h, _ := newServer(l)
		for i := range 3 {
			w := serve(h, request{})
			assert.Equal(t, http.StatusOK, w.Code, "request %d", i)
			assert.Empty(t, rateLimitHeaders(w.Header()), "request %d", i)
		}
		assert.Equal(t, httplimit.Stats{Allowed: 3, Errors: 1, Fallback: 3}, l.Stats(),
			"one failed call opened the breaker; the rest never reached the backend")
		assert.Equal(t, httplimit.SourceOpen, l.Decide(t.Context(), l.Default(), "k", 1).Source)
	})

	t.Run("closed answers 503", func(t *testing.T) {
		b := &recordingBackend{err: errors.New("down")}
		var ran bool
		l, _ := newLimiter(t, httplimit.WithBackend(b), httplimit.WithFailureMode(httplimit.FailClosed),
			httplimit.WithExceededHandler(func(http.ResponseWriter, *http.Request, httplimit.Decision) { ran = true }))
		ok := &okHandler{}
		h := l.Middleware(ok)
		w := serve(h, request{})
		require.Equal(t, http.StatusServiceUnavailable, w.Code)
		retry, err := strconv.Atoi(w.Header().Get("Retry-After"))
		require.NoError(t, err)
		assert.GreaterOrEqual(t, retry, 1)
		assert.Equal(t, "application/json; charset=utf-8", w.Header().Get("Content-Type"))
		assert.Equal(t, `{"error":"rate limiter unavailable","retry_after":`+strconv.Itoa(retry)+`}`, w.Body.String())
		assert.Empty(t, w.Header().Get("X-RateLimit-Limit"), "nothing was decided")
		assert.False(t, ran, "the exceeded handler answers denials, not an unavailable limiter")
		assert.Zero(t, ok.count())
		assert.Equal(t, httplimit.Stats{Errors: 1, Fallback: 1, Unavailable: 1}, l.Stats())
		assert.Equal(t, httplimit.SourceClosed, l.Decide(t.Context(), l.Default(), "k", 1).Source)
	})

	t.Run("memory decides with the same limits", func(t *testing.T) {
		b := &recordingBackend{err: errors.New("down")}
		l, _ := newLimiter(t, httplimit.WithBackend(b), httplimit.WithLimits("2/minute"))
		h, _ := newServer(l)
		assert.Equal(t, []int{200, 200, 429}, statuses(h, request{}, 3))
		assert.Equal(t, "2", serve(h, request{}).Header().Get("X-RateLimit-Limit"))
		assert.Equal(t, httplimit.Stats{Allowed: 2, Denied: 2, Errors: 1, Fallback: 4, Keys: 1}, l.Stats())
		// 7s into the minute: the window ends in 53s, and 2*(1-e/60)+1 <= 2
		// at e=30s into the next one.
		assert.Equal(t, decision{
			Source:     httplimit.SourceFallback,
			Policy:     "default",
			Key:        "192.0.2.1",
			Limit:      backend.Limit{Count: 2, Period: time.Minute},
			Reset:      53 * time.Second,
			RetryAfter: 83 * time.Second,
		}, fieldsOf(l.Decide(t.Context(), l.Default(), "192.0.2.1", 1)), "the count the middleware kept in memory")
	})

	t.Run("memory with fallback limits", func(t *testing.T) {
		b := &recordingBackend{err: errors.New("down")}
		l, _ := newLimiter(t, httplimit.WithBackend(b), httplimit.WithLimits("3/minute"), httplimit.WithFallbackLimits("1/minute"))
		h, _ := newServer(l)
		w := serve(h, request{})
		assert.Equal(t, http.StatusOK, w.Code)
		assert.Equal(t, "1", w.Header().Get("X-RateLimit-Limit"))
		assert.Equal(t, http.StatusTooManyRequests, serve(h, request{}).Code)
	})

	t.Run("per route", func(t *testing.T) {
		b := &recordingBackend{err: errors.New("down")}
		l, _ := newLimiter(t, httplimit.WithBackend(b))
		h, mux := newServer(l)
		mux.Handle("POST /login", l.Limit("5/minute", httplimit.WithFailureMode(httplimit.FailClosed))(&okHandler{}))
		assert.Equal(t, http.StatusOK, serve(h, request{}).Code)
		assert.Equal(t, http.StatusServiceUnavailable, serve(h, request{method: http.MethodPost, path: "/login"}).Code)
	})
}

// TestHealthWhenBackendDown checks the health routes while a custom backend
// fails: ready while memory decides, not ready under FailClosed.
func TestHealthWhenBackendDown(t *testing.T) {
	tests := []struct {
		give      httplimit.FailureMode
		wantCode  int
		wantReady bool
	}{
		{give: httplimit.FailToMemory, wantCode: http.StatusOK, wantReady: true},
		{give: httplimit.FailOpen, wantCode: http.StatusOK, wantReady: true},
		{give: httplimit.FailClosed, wantCode: http.StatusServiceUnavailable, wantReady: false},
	}
	for _, tt := range tests {
		t.Run(tt.give.String(), func(t *testing.T) {
			b := &recordingBackend{err: errors.New("down")}
			l, _ := newLimiter(t, httplimit.WithBackend(b), httplimit.WithFailureMode(tt.give))
			h, mux := newServer(l)
			httplimit.RegisterHealth(mux, l)
			serve(h, request{}) // fails, and opens the breaker

			ready := strconv.FormatBool(tt.wantReady)
			w := serve(h, request{path: "/health/ratelimit/ready"})
			assert.Equal(t, tt.wantCode, w.Code)
			assert.JSONEq(t, `{"ready":`+ready+`,"backend":"memory","message":"In-memory rate limiting (single instance only)"}`, w.Body.String())
			w = serve(h, request{path: "/health/ratelimit"})
			assert.Equal(t, http.StatusOK, w.Code, "the summary is always served")
			assert.JSONEq(t, `{"backend":"memory","redis_connected":false,"message":"In-memory rate limiting (single instance only)","ready":`+ready+`}`,
				w.Body.String())
			st := l.Status()
			assert.Equal(t, "open", st.Breaker)
			assert.Equal(t, "down", st.LastError)
			assert.Equal(t, tt.give.String(), st.FailureMode)
		})
	}
}

func TestLimitPanicsAtSetup(t *testing.T) {
	l, _ := newLimiter(t)
	tests := []struct {
		name string
		give func()
		want string
	}{
		{
			name: "bad limits",
			give: func() { l.Limit("5 per fortnight") },
			want: `ginlimit: Limit("5 per fortnight"): WithLimits("5 per fortnight"): invalid option: invalid limit: "5 per fortnight": unknown unit "fortnight" (want e.g. "100/minute" or "500 per 7 days")`,
		},
		{
			name: "empty limits",
			give: func() { l.Limit("") },
			want: `ginlimit: Limit(""): WithLimits(""): invalid option: invalid limit: empty limits string`,
		},
		{
			name: "whole-Limiter option",
			give: func() { l.Limit("5/minute", httplimit.WithRedisURL("redis://127.0.0.1:6379")) },
			want: `ginlimit: Limit("5/minute"): invalid option: WithRedisURL applies to the whole Limiter, not to a route`,
		},
		{
			name: "another whole-Limiter option",
			give: func() { l.Limit("5/minute", httplimit.WithKeyPrefix("x")) },
			want: `ginlimit: Limit("5/minute"): invalid option: WithKeyPrefix applies to the whole Limiter, not to a route`,
		},
		{
			name: "nil option",
			give: func() { l.Limit("5/minute", nil) },
			want: `ginlimit: Limit("5/minute"): option 0: invalid option: nil`,
		},
		{
			name: "bad route option",
			give: func() { l.Limit("5/minute", httplimit.KeyByForwardedFor(0)) },
			want: `ginlimit: Limit("5/minute"): KeyByForwardedFor(0): invalid option: n must be 1 to 64`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.PanicsWithError(t, tt.want, tt.give)
		})
	}
}

// TestLimitPanicWrapsErrInvalidOption checks that the value Limit panics
// with is an error a recover can inspect.
func TestLimitPanicWrapsErrInvalidOption(t *testing.T) {
	l, _ := newLimiter(t)
	var got any
	func() {
		defer func() { got = recover() }()
		l.Limit("5/minute", httplimit.WithRedisURL("redis://127.0.0.1:6379"))
	}()
	err, ok := got.(error)
	require.True(t, ok, "got %T, want an error", got)
	assert.ErrorIs(t, err, httplimit.ErrInvalidOption)
}

func TestHealthDetailsAreNeverLimited(t *testing.T) {
	l, _ := newLimiter(t, httplimit.WithLimits("1/minute"))
	h, mux := newServer(l)
	httplimit.RegisterHealthDetails(mux, l)
	assert.Equal(t, repeat(http.StatusOK, 3), statuses(h, request{path: "/health/ratelimit"}, 3))
	assert.Equal(t, httplimit.Stats{}, l.Stats())
}
