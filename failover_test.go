package ginlimit_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/redis/rueidis"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ginlimit/ginlimit"
	"github.com/ginlimit/ginlimit/httplimit"
)

// pingBackend is a recordingBackend that can be pinged, failing with the
// error it is given.
type pingBackend struct {
	recordingBackend
	pingMu  sync.Mutex
	pingErr error
}

func (b *pingBackend) Ping(context.Context) error {
	b.pingMu.Lock()
	defer b.pingMu.Unlock()
	return b.pingErr
}

func (b *pingBackend) setPingErr(err error) {
	b.pingMu.Lock()
	defer b.pingMu.Unlock()
	b.pingErr = err
}

// hookRecorder records the calls of a WithOnFallbackChange hook.
type hookRecorder struct {
	mu    sync.Mutex
	calls []bool
}

func (h *hookRecorder) hook(active bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.calls = append(h.calls, active)
}

func (h *hookRecorder) get() []bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]bool(nil), h.calls...)
}

// TestBackendFailureFallsBackToMemoryAndRecovers fails a custom backend: the
// requests are decided in memory with the same limits, the fallback is
// logged and hooked once, and a request after the breaker's backoff tries
// the backend again and brings it back.
func TestBackendFailureFallsBackToMemoryAndRecovers(t *testing.T) {
	b := &recordingBackend{err: errors.New("store unreachable")}
	var logs logBuffer
	var hook hookRecorder
	l, err := ginlimit.NewLimiter(ginlimit.WithBackend(b), ginlimit.WithLimits("2/minute"),
		ginlimit.WithLogger(logs.logger()), ginlimit.WithOnFallbackChange(hook.hook))
	require.NoError(t, err)
	defer l.Close()
	r := newRouter(l)

	assert.Equal(t, []int{200, 200, 429, 429}, statuses(r, request{}, 4), "decided in memory, same limits")
	assert.Equal(t, ginlimit.Stats{Allowed: 2, Denied: 2, Errors: 1, Fallback: 4, Keys: 1}, l.Stats(),
		"one failed call opened the breaker; the rest never reached the backend")
	st := l.Status()
	assert.Equal(t, "memory", st.Backend)
	assert.Equal(t, ginlimit.MessageMemory, st.Message)
	assert.Equal(t, "open", st.Breaker)
	assert.Equal(t, "store unreachable", st.LastError)
	assert.NotNil(t, st.DegradedSince)
	assert.True(t, st.Ready, "deciding in memory is ready")
	assert.Equal(t, []bool{true}, hook.get())

	b.setErr(nil)
	require.Eventually(t, func() bool {
		serve(r, request{})
		return l.Status().Breaker == "closed"
	}, 3*time.Second, 20*time.Millisecond, "a request after the backoff probes the backend")
	assert.Equal(t, []bool{true, false}, hook.get())
	assert.Equal(t, http.StatusOK, serve(r, request{}).Code, "the backend decides again")
	assert.Nil(t, l.Status().DegradedSince)

	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	require.Len(t, lines, 3, logs.String())
	assert.Contains(t, lines[0], `level=INFO msg="ginlimit: rate limiting configured"`)
	assert.Contains(t, lines[1], `level=WARN msg="ginlimit: shared backend unavailable, deciding by the failure mode until it recovers"`)
	assert.Contains(t, lines[1], `error="store unreachable"`)
	assert.Contains(t, lines[2], `level=INFO msg="ginlimit: shared backend recovered"`)
}

func TestFailOpenAdmitsWithoutHeaders(t *testing.T) {
	b := &recordingBackend{err: errors.New("down")}
	l, _ := newLimiter(t, ginlimit.WithBackend(b), ginlimit.WithLimits("1/minute"), ginlimit.WithFailureMode(ginlimit.FailOpen))
	r := newRouter(l)
	assert.Equal(t, repeat(http.StatusOK, 3), statuses(r, request{}, 3))
	assert.Empty(t, rateLimitHeaders(serve(r, request{}).Header()))
	assert.Equal(t, uint64(4), l.Stats().Fallback)
}

func TestFailClosedAnswers503(t *testing.T) {
	b := &recordingBackend{err: errors.New("down")}
	l, _ := newLimiter(t, ginlimit.WithBackend(b), ginlimit.WithFailureMode(ginlimit.FailClosed))
	r := newRouter(l)
	ginlimit.RegisterHealth(r, l)
	w := serve(r, request{})
	require.Equal(t, http.StatusServiceUnavailable, w.Code)
	retry, err := strconv.Atoi(w.Header().Get("Retry-After"))
	require.NoError(t, err)
	assert.GreaterOrEqual(t, retry, 1)
	assert.JSONEq(t, `{"error":"rate limiter unavailable","retry_after":`+strconv.Itoa(retry)+`}`, w.Body.String())
	assert.Equal(t, uint64(1), l.Stats().Unavailable)
	assert.False(t, l.Status().Ready, "a Limiter answering 503 is not ready")
	assert.Equal(t, http.StatusServiceUnavailable, serve(r, request{path: "/health/ratelimit/ready"}).Code)
	assert.Equal(t, http.StatusOK, serve(r, request{path: "/health/ratelimit"}).Code, "the health body is always served")
}

// TestFailureModePerRoute fails a sensitive route closed while the rest of
// the service decides in memory.
func TestFailureModePerRoute(t *testing.T) {
	b := &recordingBackend{err: errors.New("down")}
	l, _ := newLimiter(t, ginlimit.WithBackend(b))
	r := newRouter(l)
	r.POST("/login", l.Limit("5/minute", ginlimit.WithFailureMode(ginlimit.FailClosed)), func(*gin.Context) {})
	assert.Equal(t, http.StatusOK, serve(r, request{}).Code)
	assert.Equal(t, http.StatusServiceUnavailable, serve(r, request{method: http.MethodPost, path: "/login"}).Code)
}

// TestFallbackLimitsTighten checks that the fallback limits apply in memory
// only, never loosen a policy, and show in the headers.
func TestFallbackLimitsTighten(t *testing.T) {
	b := &recordingBackend{err: errors.New("down")}
	l, _ := newLimiter(t, ginlimit.WithBackend(b), ginlimit.WithLimits("3/minute"), ginlimit.WithFallbackLimits("1/minute;100/hour"))
	r := newRouter(l)
	r.POST("/strict", l.Limit("1/hour"), func(*gin.Context) {})
	w := serve(r, request{})
	assert.Equal(t, http.StatusOK, w.Code)
	assert.Equal(t, "1", w.Header().Get("X-RateLimit-Limit"), "the fallback's 1/minute is the tightest")
	assert.Equal(t, http.StatusTooManyRequests, serve(r, request{}).Code)
	// 1/hour stays 1/hour: a fallback limit of 100/hour does not loosen it.
	strict := request{method: http.MethodPost, path: "/strict", remoteAddr: "192.0.2.9:1"}
	assert.Equal(t, []int{200, 429}, statuses(r, strict, 2))
	assert.Equal(t, []string{"1/minute", "100/hour"}, l.Status().FallbackLimits)
}

func TestFallbackLimitsMustFitWithEveryPolicy(t *testing.T) {
	_, err := ginlimit.NewLimiter(ginlimit.WithLimits("1/second;2/minute;3/hour;4/day;5/month;6/year;7 per 2 seconds;8 per 3 seconds"),
		ginlimit.WithFallbackLimits("1 per 5 seconds"), ginlimit.WithLogger(discardLogger()))
	require.ErrorIs(t, err, ginlimit.ErrInvalidOption)
	assert.Contains(t, err.Error(), `ginlimit: WithFallbackLimits("1 per 5 seconds"): invalid option: with the limits "1/second;`)
	assert.Contains(t, err.Error(), `9 limits, at most 8 are allowed`)
}

// TestPingFailureOpensBreaker checks the health check's ping: a failing
// ping takes the backend out of use, and the probes bring it back.
func TestPingFailureOpensBreaker(t *testing.T) {
	b := &pingBackend{pingErr: errors.New("connection refused")}
	l, clk := newLimiter(t, ginlimit.WithBackend(b))
	r := newRouter(l)
	ginlimit.RegisterHealth(r, l)
	w := serve(r, request{path: "/health/ratelimit/ready"})
	assert.Equal(t, http.StatusOK, w.Code, "ready: memory decides")
	assert.Contains(t, w.Body.String(), `"backend":"memory"`)
	st := l.Status()
	assert.Equal(t, "open", st.Breaker)
	assert.Equal(t, "connection refused", st.LastError)

	b.setPingErr(nil)
	require.Eventually(t, func() bool {
		clk.Advance(100 * time.Millisecond) // the breaker follows the Limiter's clock
		serve(r, request{})                 // requests drive the probes
		return l.Status().Breaker == "closed"
	}, 3*time.Second, 20*time.Millisecond)
	assert.Contains(t, l.Status().Backend, "pingBackend")
}

// TestCancelledRequestDoesNotOpenBreaker checks that a client going away is
// not counted against the backend.
func TestCancelledRequestDoesNotOpenBreaker(t *testing.T) {
	b := &recordingBackend{err: context.Canceled}
	l, _ := newLimiter(t, ginlimit.WithBackend(b))
	r := newRouter(l)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "/", nil)
	require.NoError(t, err)
	req.RemoteAddr = "192.0.2.1:1234"
	r.ServeHTTP(httptest.NewRecorder(), req)
	assert.Equal(t, "closed", l.Status().Breaker)
}

func TestRedisOptionErrors(t *testing.T) {
	tests := []struct {
		name string
		give []ginlimit.Option
		want string
	}{
		{"timeout zero", []ginlimit.Option{ginlimit.WithRedisTimeout(0)}, `ginlimit: WithRedisTimeout(0s): invalid option: want 1ms to 10s`},
		{"timeout long", []ginlimit.Option{ginlimit.WithRedisTimeout(time.Minute)}, `WithRedisTimeout(1m0s)`},
		{"scheme", []ginlimit.Option{ginlimit.WithRedisURL("http://u:hunter22@host:1")}, `ginlimit: WithRedisURL("http://xxxxx@host:1"): invalid option:`},
		{"empty url", []ginlimit.Option{ginlimit.WithRedisURL("")}, `WithRedisURL(""): invalid option:`},
		{"nil client", []ginlimit.Option{ginlimit.WithRedisClient(nil)}, `ginlimit: WithRedisClient(nil): invalid option: the client is nil`},
		{"no address", []ginlimit.Option{ginlimit.WithRedisOptions(rueidis.ClientOption{})}, `ginlimit: WithRedisOptions: invalid option: InitAddress is empty`},
		{"backend and redis", []ginlimit.Option{ginlimit.WithBackend(&recordingBackend{}), ginlimit.WithRedisURL("redis://127.0.0.1:1")}, `ginlimit: WithRedisURL("redis://127.0.0.1:1"): invalid option: a Limiter counts in Redis or in a custom backend, not both, and WithBackend gives a custom backend`},
		{"ca without tls", []ginlimit.Option{ginlimit.WithRedisURL("redis://127.0.0.1:1"), ginlimit.WithRedisCAFile("/dev/null")}, `ginlimit: WithRedisCAFile("/dev/null"): invalid option: WithRedisURL("redis://127.0.0.1:1") does not use TLS: use rediss:// or valkeys://`},
		{"ca without redis", []ginlimit.Option{ginlimit.WithRedisCAFile("/dev/null")}, `ginlimit: WithRedisCAFile("/dev/null"): invalid option: no Redis URL is configured: set REDIS_URL or use WithRedisURL`},
		{"ca empty", []ginlimit.Option{ginlimit.WithRedisCAFile("")}, `ginlimit: WithRedisCAFile(""): invalid option: the path is empty`},
		{"ca with a caller's client", []ginlimit.Option{ginlimit.WithRedisClient(callerClient(t)), ginlimit.WithRedisCAFile("/dev/null")}, `ginlimit: WithRedisCAFile("/dev/null"): invalid option: a client given by WithRedisClient carries its own TLS configuration`},
		{"ca unreadable", []ginlimit.Option{ginlimit.WithRedisURL("rediss://127.0.0.1:1"), ginlimit.WithRedisCAFile("/nonexistent/ca.pem")}, `ginlimit: WithRedisCAFile("/nonexistent/ca.pem"): invalid option: cannot read CA file "/nonexistent/ca.pem": no such file or directory`},
		{"failure mode", []ginlimit.Option{ginlimit.WithFailureMode(9)}, `ginlimit: WithFailureMode(9): invalid option: unknown failure mode`},
		{"fallback limits", []ginlimit.Option{ginlimit.WithFallbackLimits("x")}, `ginlimit: WithFallbackLimits("x"): invalid option: invalid limit`},
		{"hook", []ginlimit.Option{ginlimit.WithOnFallbackChange(nil)}, `ginlimit: WithOnFallbackChange(nil): invalid option: the function is nil`},
		{"token bucket too fast for redis", []ginlimit.Option{ginlimit.WithRedisURL("redis://127.0.0.1:1"), ginlimit.WithStrategy(ginlimit.TokenBucket), ginlimit.WithLimits("2000000/second")}, `ginlimit: WithLimits("2000000/second"): invalid option: redis: invalid policy: token bucket 2000000/second admits more than one unit a microsecond (with WithStrategy(token-bucket), WithRedisURL("redis://127.0.0.1:1"))`},
		{"fallback limits with the limits", []ginlimit.Option{ginlimit.WithRedisURL("redis://127.0.0.1:1"), ginlimit.WithLimits("1/1 second;2/2 seconds;3/3 seconds;4/4 seconds;5/5 seconds;6/6 seconds;7/7 seconds;8/8 seconds"), ginlimit.WithFallbackLimits("9/9 seconds")}, `ginlimit: WithFallbackLimits("9/9 seconds"): invalid option: with the limits "1/second;2/2 seconds;3/3 seconds;4/4 seconds;5/5 seconds;6/6 seconds;7/7 seconds;8/8 seconds" (with WithLimits(`},
		{"disabled still checks", []ginlimit.Option{ginlimit.WithEnabled(false), ginlimit.WithRedisURL("rediss://127.0.0.1:1"), ginlimit.WithRedisCAFile("/nonexistent/ca.pem")}, `ginlimit: WithRedisCAFile("/nonexistent/ca.pem"): invalid option: cannot read CA file`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := ginlimit.NewLimiter(append(tt.give, ginlimit.WithLogger(discardLogger()))...)
			require.Error(t, err)
			assert.Nil(t, l)
			assert.ErrorIs(t, err, ginlimit.ErrInvalidOption)
			assert.Contains(t, err.Error(), tt.want)
			assert.NotContains(t, err.Error(), "hunter22")
		})
	}
}

func TestParseFailureMode(t *testing.T) {
	for _, give := range []string{"memory", "open", "closed", "OPEN"} {
		m, err := httplimit.ParseFailureMode(give)
		require.NoError(t, err)
		assert.Equal(t, strings.ToLower(give), m.String())
	}
	_, err := httplimit.ParseFailureMode("fail")
	assert.EqualError(t, err, `unknown failure mode "fail" (want memory, open or closed)`)
}

// TestHookMayReadStatus calls Status from the hook, which a health check
// also reaches: no lock of the Limiter's is held while the hook runs.
func TestHookMayReadStatus(t *testing.T) {
	b := &pingBackend{pingErr: errors.New("down")}
	var l *ginlimit.Limiter
	var seen []string
	l, _ = newLimiter(t, ginlimit.WithBackend(b), ginlimit.WithOnFallbackChange(func(bool) {
		seen = append(seen, l.Status().Backend)
	}))
	st := l.Status() // the health ping fails and opens the breaker
	assert.Equal(t, "memory", st.Backend)
	assert.Equal(t, []string{"memory"}, seen)
}

func TestClosedLimiterAdmitsWhateverTheFailureMode(t *testing.T) {
	b := &recordingBackend{}
	l, err := ginlimit.NewLimiter(ginlimit.WithBackend(b), ginlimit.WithFailureMode(ginlimit.FailClosed), ginlimit.WithLogger(discardLogger()))
	require.NoError(t, err)
	r := newRouter(l)
	require.NoError(t, l.Close())
	assert.Equal(t, repeat(http.StatusOK, 2), statuses(r, request{}, 2))
	assert.Equal(t, ginlimit.Stats{Allowed: 2, Errors: 2}, l.Stats())
}

// callerClient returns a rueidis client the test owns, on a server nobody
// needs to reach: ForceSingleClient connects on first use.
func callerClient(t *testing.T) rueidis.Client {
	t.Helper()
	c, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{"127.0.0.1:1"}, ForceSingleClient: true, DisableCache: true})
	require.NotNil(t, c, "%v", err)
	t.Cleanup(c.Close)
	return c
}

// TestHealthDoesNotCloseBreakerOfUnpingableBackend checks that health checks
// leave a backend that cannot be pinged to be probed by a request: only a
// request that succeeds closes its breaker.
func TestHealthDoesNotCloseBreakerOfUnpingableBackend(t *testing.T) {
	b := &recordingBackend{err: errors.New("down")}
	l, clk := newLimiter(t, ginlimit.WithBackend(b))
	r := newRouter(l)
	serve(r, request{})
	clk.Advance(300 * time.Millisecond) // past the first backoff
	for range 5 {
		assert.Equal(t, "open", l.Status().Breaker)
	}
	assert.Equal(t, "down", l.Status().LastError)
}

// redisNamedBackend is a custom backend that calls itself "redis".
type redisNamedBackend struct{ recordingBackend }

func (*redisNamedBackend) Name() string { return "redis" }

// TestCustomBackendHealth checks that a custom backend's health names it,
// and that one calling itself "redis" is not taken for ginlimit's Redis.
func TestCustomBackendHealth(t *testing.T) {
	l, err := ginlimit.NewLimiter(ginlimit.WithBackend(&redisNamedBackend{}), ginlimit.WithLogger(discardLogger()))
	require.NoError(t, err)
	defer l.Close()
	s := l.Status()
	assert.Equal(t, "redis", s.Backend)
	assert.Equal(t, "Custom backend rate limiting (redis)", s.Message)
	assert.False(t, s.RedisConnected)
	assert.False(t, s.RedisConfigured)
}
