package httplimit_test

import (
	"bytes"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ginlimit/ginlimit/backend"
	"github.com/ginlimit/ginlimit/backend/backendtest"
	"github.com/ginlimit/ginlimit/httplimit"
	"github.com/ginlimit/ginlimit/internal/redistest"
)

// syncBuffer is a buffer that loggers writing from several goroutines, such
// as two Limiters' background probes, may share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// eventLog collects the events of a hook.
type eventLog struct {
	mu     sync.Mutex
	events []httplimit.Event
}

func (l *eventLog) add(e httplimit.Event) {
	l.mu.Lock()
	l.events = append(l.events, e)
	l.mu.Unlock()
}

func (l *eventLog) all() []httplimit.Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.events)
}

func TestDecisionHook(t *testing.T) {
	var events eventLog
	l, _ := newLimiter(t, httplimit.WithDecisionHook(events.add))
	// Limit runs after the ServeMux has matched the route, so the route is
	// known; the Middleware in front of the mux runs before.
	mux := http.NewServeMux()
	mux.Handle("GET /items/{id}", l.Limit("2/minute", httplimit.WithStrategy(backend.FixedWindow), httplimit.WithName("items"))(&okHandler{}))
	assert.Equal(t, []int{200, 200, 429}, statuses(mux, request{path: "/items/7"}, 3))

	got := events.all()
	require.Len(t, got, 3)
	for i, e := range got {
		assert.GreaterOrEqual(t, e.Duration, time.Duration(0))
		assert.NotNil(t, e.Context, "the request's context")
		got[i].Duration, got[i].Context = 0, nil
	}
	limit := backend.Limit{Count: 2, Period: time.Minute}
	base := httplimit.Event{Policy: "items", Route: "GET /items/{id}", Key: "192.0.2.1", Source: httplimit.SourceMemory, Limit: limit, Cost: 1}
	want := []httplimit.Event{base, base, base}
	want[0].Allowed, want[0].Remaining = true, 1
	want[1].Allowed = true
	want[2].RetryAfter = time.Minute
	assert.Equal(t, want, got)

	d := l.Decide(t.Context(), l.Default(), "k", 1)
	require.True(t, d.Allowed)
	assert.Equal(t, "", events.all()[3].Route, "Decide knows no route")
	l.Peek(t.Context(), l.Default(), "k")
	assert.Len(t, events.all(), 4, "Peek is not reported")

	_, err := httplimit.New(httplimit.WithDecisionHook(nil))
	assert.ErrorIs(t, err, httplimit.ErrInvalidOption)
	_, err = httplimit.New(httplimit.WithBreakerHook(nil))
	assert.ErrorIs(t, err, httplimit.ErrInvalidOption)
}

// shadowTraffic is one client's requests: bursts that go past 3/minute,
// pauses that let the window end, and costs above one.
var shadowTraffic = []struct {
	after time.Duration
	cost  int64
}{
	{0, 1}, {time.Second, 1}, {time.Second, 1}, {time.Second, 1}, {time.Second, 2},
	{20 * time.Second, 1}, {30 * time.Second, 1}, {time.Second, 1}, {time.Second, 3},
	{time.Minute, 2}, {0, 1}, {0, 1}, {5 * time.Second, 4}, {time.Second, 1},
}

// TestShadowAdmitsExactlyWhatEnforcementRefuses sends the same traffic
// through a Limiter that enforces and one in shadow mode, on the memory
// backend and on Redis: the shadow one admits every request, and marks as
// shadow exactly those the other refuses.
func TestShadowAdmitsExactlyWhatEnforcementRefuses(t *testing.T) {
	type env struct {
		name string
		opts []httplimit.Option
	}
	srv := redistest.Start(t)
	envs := []env{
		{name: "memory"},
		{name: "redis", opts: []httplimit.Option{httplimit.WithRedisURL(srv.URL()), httplimit.WithRedisTimeout(5 * time.Second)}},
	}
	for _, e := range envs {
		for _, strategy := range []backend.Strategy{backend.FixedWindow, backend.SlidingWindow, backend.TokenBucket} {
			t.Run(e.name+"/"+strategy.String(), func(t *testing.T) {
				var logs syncBuffer
				clk := backendtest.NewClock(t0)
				var limiters [2]*httplimit.Limiter
				for i, shadow := range []bool{false, true} {
					opts := append([]httplimit.Option{httplimit.WithClock(clk.Now),
						httplimit.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))),
						httplimit.WithLimits("3/minute"), httplimit.WithStrategy(strategy), httplimit.WithShadow(shadow),
						httplimit.WithName(strategy.String() + map[bool]string{false: "-enforced", true: "-shadow"}[shadow])}, e.opts...)
					l, err := httplimit.New(opts...)
					require.NoError(t, err)
					t.Cleanup(func() { require.NoError(t, l.Close()) })
					if e.name == "redis" {
						require.Eventually(t, func() bool { return l.Status().RedisConnected }, 10*time.Second, 10*time.Millisecond)
					}
					limiters[i] = l
				}
				var refused, shadowed []int
				for i, req := range shadowTraffic {
					clk.Advance(req.after)
					enforced := limiters[0].Decide(t.Context(), limiters[0].Default(), "192.0.2.1", req.cost)
					shadow := limiters[1].Decide(t.Context(), limiters[1].Default(), "192.0.2.1", req.cost)
					require.True(t, shadow.Allowed, "request %d: shadow mode admits everything", i)
					if !enforced.Allowed {
						refused = append(refused, i)
						assert.Equal(t, enforced.RetryAfter, shadow.RetryAfter, "request %d", i)
					}
					if shadow.Shadow {
						shadowed = append(shadowed, i)
					}
				}
				require.NotEmpty(t, refused)
				assert.Equal(t, refused, shadowed)
				st := limiters[1].Stats()
				assert.Equal(t, uint64(len(refused)), st.Shadowed)
				assert.Equal(t, uint64(len(refused)), st.Denied, "Denied counts the limits' refusals, shadow or not")
				assert.Zero(t, limiters[0].Stats().Shadowed)
				lines := strings.Count(logs.String(), "shadow mode admitted")
				assert.Positive(t, lines)
				assert.Less(t, lines, len(refused), "at most one line per client per window: %s", logs.String())
			})
		}
	}
}

func TestShadowThroughTheMiddleware(t *testing.T) {
	var events eventLog
	l, _ := newLimiter(t, httplimit.WithLimits("2/minute"), httplimit.WithShadow(true), httplimit.WithDecisionHook(events.add))
	h, _ := newServer(l)
	for i := range 4 {
		w := serve(h, request{})
		assert.Equal(t, http.StatusOK, w.Code, "request %d", i)
		assert.Empty(t, w.Header().Get("Retry-After"), "request %d", i)
	}
	var shadow []bool
	for _, e := range events.all() {
		shadow = append(shadow, e.Shadow)
		assert.True(t, e.Allowed)
	}
	assert.Equal(t, []bool{false, false, true, true}, shadow)
	route, _ := newLimiter(t, httplimit.WithLimits("100/minute"))
	rh := route.Limit("1/minute", httplimit.WithShadow(true), httplimit.WithName("r"))(&okHandler{})
	assert.Equal(t, []int{200, 200}, statuses(rh, request{}, 2), "per route")
	assert.Equal(t, uint64(1), route.Stats().Shadowed)
}

func TestShadowFromEnv(t *testing.T) {
	t.Setenv(httplimit.EnvShadow, "true")
	l, _ := newLimiter(t, httplimit.FromEnv(), httplimit.WithLimits("1/minute"))
	h, _ := newServer(l)
	assert.Equal(t, []int{200, 200}, statuses(h, request{}, 2))
	assert.Equal(t, uint64(1), l.Stats().Shadowed)
}

// TestBreakerHook stops Redis under a Limiter and starts it again: the hook
// sees the breaker open, a probe (half-open) and close.
func TestBreakerHook(t *testing.T) {
	srv := redistest.Start(t)
	var mu sync.Mutex
	var states []string
	l, err := httplimit.New(httplimit.WithRedisURL(srv.URL()), httplimit.WithRedisTimeout(200*time.Millisecond),
		httplimit.WithLogger(discardLogger()), httplimit.WithBreakerHook(func(e httplimit.BreakerEvent) {
			mu.Lock()
			states = append(states, e.State)
			mu.Unlock()
			assert.Equal(t, -1, e.Slot)
		}))
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, l.Close()) })
	require.Eventually(t, func() bool { return l.Status().RedisConnected }, 10*time.Second, 10*time.Millisecond)
	seen := func() []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Compact(slices.Clone(states))
	}
	require.Equal(t, []string{"half-open", "closed"}, seen(), "connected: the first connection is a probe")

	srv.Kill(t)
	h, _ := newServer(l)
	require.Eventually(t, func() bool {
		serve(h, request{})
		return slices.Contains(seen(), "open")
	}, 10*time.Second, 10*time.Millisecond)
	srv.Restart(t)
	require.Eventually(t, func() bool {
		serve(h, request{})
		s := seen()
		return s[len(s)-1] == "closed"
	}, 20*time.Second, 10*time.Millisecond)
	s := seen()
	assert.Equal(t, []string{"half-open", "closed", "open"}, s[:3])
	assert.Equal(t, []string{"half-open", "closed"}, s[len(s)-2:], "a probe closed it: %v", s)
}

// TestShadowGivesNothingBack counts only failures, in shadow mode: a
// success admitted in shadow consumed nothing, and gives nothing back.
func TestShadowGivesNothingBack(t *testing.T) {
	l, _ := newLimiter(t, httplimit.WithLimits("2/minute"), httplimit.WithShadow(true),
		httplimit.WithCountIf(func(_ *http.Request, status int) bool { return status >= 400 }))
	mux := http.NewServeMux()
	mux.HandleFunc("/ok", func(w http.ResponseWriter, _ *http.Request) {})
	mux.HandleFunc("/fail", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusUnauthorized) })
	h := l.Middleware(mux)
	assert.Equal(t, []int{401, 401}, statuses(h, request{path: "/fail"}, 2))
	assert.Equal(t, http.StatusOK, serve(h, request{path: "/ok"}).Code, "admitted in shadow")
	assert.Equal(t, uint64(1), l.Stats().Shadowed)
	assert.Equal(t, int64(0), l.Peek(t.Context(), l.Default(), "192.0.2.1").Remaining, "the two failures still count")
}

// TestShadowKeepsFailClosed: the failure mode is not the limits, and shadow
// mode leaves its 503 alone.
func TestShadowKeepsFailClosed(t *testing.T) {
	l, _ := newLimiter(t, httplimit.WithRedisURL("redis://127.0.0.1:1"), httplimit.WithFailureMode(httplimit.FailClosed),
		httplimit.WithShadow(true))
	h, _ := newServer(l)
	assert.Equal(t, http.StatusServiceUnavailable, serve(h, request{}).Code)
	assert.Zero(t, l.Stats().Shadowed)
}

// TestDecisionHookOnRedis: a decision of Redis is timed; one from the
// client-side cache is Cached, and costs no time worth timing.
func TestDecisionHookOnRedis(t *testing.T) {
	srv := redistest.Start(t)
	var events eventLog
	limiters, servers := redisPair(t, srv, httplimit.WithLimits("1/hour"), httplimit.WithDecisionHook(events.add))
	assert.Equal(t, []int{200, 429}, statuses(servers[0], request{}, 2))
	require.Eventually(t, func() bool { return limiters[0].Stats().Watched == 1 }, 5*time.Second, time.Millisecond)
	assert.Equal(t, http.StatusTooManyRequests, serve(servers[0], request{}).Code)
	got := events.all()
	require.Len(t, got, 3)
	for i, e := range got[:2] {
		assert.Equal(t, httplimit.SourceShared, e.Source, "event %d", i)
		assert.Positive(t, e.Duration, "event %d: a round trip", i)
		assert.False(t, e.Cached, "event %d", i)
	}
	assert.True(t, got[2].Cached, "denied from the cache")
	assert.Zero(t, got[2].Duration)
	assert.False(t, got[2].Allowed)
}
