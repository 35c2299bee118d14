package ginlimitprom_test

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ginlimit/ginlimit"
	"github.com/ginlimit/ginlimit/backend"
	"github.com/ginlimit/ginlimit/backend/backendtest"
	"github.com/ginlimit/ginlimit/httplimit"
	ginlimitprom "github.com/ginlimit/ginlimit/prometheus"
)

const (
	decisionsHeader = `# HELP ginlimit_decisions_total Rate-limit decisions, by policy, route pattern, outcome (allowed, denied, shadow) and source.
# TYPE ginlimit_decisions_total counter
`
	utilizationHeader = `# HELP ginlimit_limit_utilization Share of the limit closest to exhaustion that the client had used after the decision, from 0 to 1.
# TYPE ginlimit_limit_utilization histogram
`
)

// utilizationSeries returns the exposition lines of the utilization
// histogram of a pair: cumulative holds the counts of the buckets 0.1,
// 0.25, 0.5, 0.75, 0.8, 0.9, 0.95, 0.99 and 1.
func utilizationSeries(policy, route string, cumulative [9]int, sum float64) string {
	var b strings.Builder
	labels := fmt.Sprintf(`policy=%q,route=%q`, policy, route)
	for i, le := range []string{"0.1", "0.25", "0.5", "0.75", "0.8", "0.9", "0.95", "0.99", "1"} {
		fmt.Fprintf(&b, "ginlimit_limit_utilization_bucket{%s,le=%q} %d\n", labels, le, cumulative[i])
	}
	fmt.Fprintf(&b, "ginlimit_limit_utilization_bucket{%s,le=\"+Inf\"} %d\n", labels, cumulative[8])
	fmt.Fprintf(&b, "ginlimit_limit_utilization_sum{%s} %v\n", labels, sum)
	fmt.Fprintf(&b, "ginlimit_limit_utilization_count{%s} %d\n", labels, cumulative[8])
	return b.String()
}

// TestDecisionsThroughNetHTTP sends requests through a real Limiter on the
// memory backend: a route of 2/minute, admitted twice and denied once; a
// route of 1/minute in shadow mode, admitted once and then twice in shadow;
// and a decision without a route.
func TestDecisionsThroughNetHTTP(t *testing.T) {
	c := ginlimitprom.New()
	l := newLimiter(t, httplimit.WithDecisionHook(c.Observe))
	mux := http.NewServeMux()
	mux.Handle("GET /items/{id}", l.Limit("2/minute", httplimit.WithName("items"))(okHandler))
	mux.Handle("GET /beta", l.Limit("1/minute", httplimit.WithName("beta"), httplimit.WithShadow(true))(okHandler))

	const client = "192.0.2.1:1234"
	var codes []int
	for _, path := range []string{"/items/1", "/items/2", "/items/3", "/beta", "/beta", "/beta"} {
		codes = append(codes, get(mux, path, client))
	}
	require.Equal(t, []int{200, 200, 429, 200, 200, 200}, codes)
	require.True(t, l.Decide(t.Context(), l.Default(), "k", 1).Allowed) // 1 of 100/minute

	assert.NoError(t, testutil.CollectAndCompare(c, strings.NewReader(decisionsHeader+`
ginlimit_decisions_total{outcome="allowed",policy="items",route="GET /items/{id}",source="memory"} 2
ginlimit_decisions_total{outcome="denied",policy="items",route="GET /items/{id}",source="memory"} 1
ginlimit_decisions_total{outcome="allowed",policy="beta",route="GET /beta",source="memory"} 1
ginlimit_decisions_total{outcome="shadow",policy="beta",route="GET /beta",source="memory"} 2
ginlimit_decisions_total{outcome="allowed",policy="default",route="unknown",source="memory"} 1
`), "ginlimit_decisions_total"))

	// items: half the limit used, then all of it, twice; beta: all of it,
	// three times; default: 1 of 100.
	assert.NoError(t, testutil.CollectAndCompare(c, strings.NewReader(utilizationHeader+
		utilizationSeries("items", "GET /items/{id}", [9]int{0, 0, 1, 1, 1, 1, 1, 1, 3}, 2.5)+
		utilizationSeries("beta", "GET /beta", [9]int{0, 0, 0, 0, 0, 0, 0, 0, 3}, 3)+
		utilizationSeries("default", "unknown", [9]int{1, 1, 1, 1, 1, 1, 1, 1, 1}, 0.01),
	), "ginlimit_limit_utilization"))

	durations := gather(t, c)["ginlimit_backend_duration_seconds"]
	require.NotNil(t, durations)
	require.Len(t, durations.GetMetric(), 1, "the memory backend decided everything")
	m := durations.GetMetric()[0]
	assert.Equal(t, "source", m.GetLabel()[0].GetName())
	assert.Equal(t, "memory", m.GetLabel()[0].GetValue())
	assert.Equal(t, uint64(7), m.GetHistogram().GetSampleCount())
	assert.Less(t, m.GetHistogram().GetSampleSum(), 1.0, "the memory backend takes nanoseconds")
}

// TestEventFields checks the labels and histograms of events given
// directly: every source, every outcome, no limit, and empty names.
func TestEventFields(t *testing.T) {
	c := ginlimitprom.New(ginlimitprom.WithDurationBuckets([]float64{0.001, 0.1}))
	limit := backend.Limit{Count: 10, Period: time.Minute}
	events := []httplimit.Event{
		{Policy: "p", Route: "/r", Allowed: true, Source: httplimit.SourceShared, Limit: limit, Remaining: 9, Duration: 2 * time.Millisecond},
		{Policy: "p", Route: "/r", Source: httplimit.SourceShared, Limit: limit, Duration: 200 * time.Millisecond},
		{Policy: "p", Route: "/r", Allowed: true, Cached: true, Source: httplimit.SourceShared, Limit: limit, Remaining: 5},
		{Policy: "p", Route: "/r", Allowed: true, Source: httplimit.SourceFallback, Limit: limit, Remaining: 7, Duration: time.Millisecond},
		// The failure mode decides without a limit: no utilization.
		{Policy: "p", Route: "/r", Allowed: true, Source: httplimit.SourceOpen, Duration: 300 * time.Millisecond},
		{Policy: "p", Route: "/r", Source: httplimit.SourceClosed, Duration: 300 * time.Millisecond},
		{Policy: "p", Route: "/r", Allowed: true, Shadow: true, Blocked: true, Source: httplimit.SourceShared, Limit: limit},
		{Allowed: true, Source: httplimit.SourceMemory, Limit: limit, Remaining: 20}, // more left than the limit: 0
	}
	for _, e := range events {
		c.Observe(e)
	}
	assert.NoError(t, testutil.CollectAndCompare(c, strings.NewReader(decisionsHeader+`
ginlimit_decisions_total{outcome="allowed",policy="p",route="/r",source="shared"} 2
ginlimit_decisions_total{outcome="denied",policy="p",route="/r",source="shared"} 1
ginlimit_decisions_total{outcome="shadow",policy="p",route="/r",source="shared"} 1
ginlimit_decisions_total{outcome="allowed",policy="p",route="/r",source="fallback"} 1
ginlimit_decisions_total{outcome="allowed",policy="p",route="/r",source="open"} 1
ginlimit_decisions_total{outcome="denied",policy="p",route="/r",source="closed"} 1
ginlimit_decisions_total{outcome="allowed",policy="unknown",route="unknown",source="memory"} 1
`), "ginlimit_decisions_total"))

	// 0.1, 1, 0.5, 0.3 and 1; and 0.
	assert.NoError(t, testutil.CollectAndCompare(c, strings.NewReader(utilizationHeader+
		utilizationSeries("p", "/r", [9]int{1, 1, 3, 3, 3, 3, 3, 3, 5}, 2.9)+
		utilizationSeries("unknown", "unknown", [9]int{1, 1, 1, 1, 1, 1, 1, 1, 1}, 0),
	), "ginlimit_limit_utilization"))

	assert.NoError(t, testutil.CollectAndCompare(c, strings.NewReader(`
# HELP ginlimit_backend_duration_seconds Time the backend took to decide a request, failure mode included, by source.
# TYPE ginlimit_backend_duration_seconds histogram
ginlimit_backend_duration_seconds_bucket{source="shared",le="0.001"} 2
ginlimit_backend_duration_seconds_bucket{source="shared",le="0.1"} 3
ginlimit_backend_duration_seconds_bucket{source="shared",le="+Inf"} 4
ginlimit_backend_duration_seconds_sum{source="shared"} 0.202
ginlimit_backend_duration_seconds_count{source="shared"} 4
ginlimit_backend_duration_seconds_bucket{source="memory",le="0.001"} 1
ginlimit_backend_duration_seconds_bucket{source="memory",le="0.1"} 1
ginlimit_backend_duration_seconds_bucket{source="memory",le="+Inf"} 1
ginlimit_backend_duration_seconds_sum{source="memory"} 0
ginlimit_backend_duration_seconds_count{source="memory"} 1
ginlimit_backend_duration_seconds_bucket{source="fallback",le="0.001"} 1
ginlimit_backend_duration_seconds_bucket{source="fallback",le="0.1"} 1
ginlimit_backend_duration_seconds_bucket{source="fallback",le="+Inf"} 1
ginlimit_backend_duration_seconds_sum{source="fallback"} 0.001
ginlimit_backend_duration_seconds_count{source="fallback"} 1
ginlimit_backend_duration_seconds_bucket{source="open",le="0.001"} 0
ginlimit_backend_duration_seconds_bucket{source="open",le="0.1"} 0
ginlimit_backend_duration_seconds_bucket{source="open",le="+Inf"} 1
ginlimit_backend_duration_seconds_sum{source="open"} 0.3
ginlimit_backend_duration_seconds_count{source="open"} 1
ginlimit_backend_duration_seconds_bucket{source="closed",le="0.001"} 0
ginlimit_backend_duration_seconds_bucket{source="closed",le="0.1"} 0
ginlimit_backend_duration_seconds_bucket{source="closed",le="+Inf"} 1
ginlimit_backend_duration_seconds_sum{source="closed"} 0.3
ginlimit_backend_duration_seconds_count{source="closed"} 1
`), "ginlimit_backend_duration_seconds"))
}

// TestEmptyNamesShareTheUnknownSeries checks that a decision without a
// route and one of a route named "unknown" count in one series: two series
// of the same labels would fail the scrape.
func TestEmptyNamesShareTheUnknownSeries(t *testing.T) {
	c := ginlimitprom.New()
	for _, route := range []string{"", "unknown", "", "unknown"} {
		c.Observe(httplimit.Event{Policy: "p", Route: route, Allowed: true, Source: httplimit.SourceMemory})
	}
	c.Observe(httplimit.Event{Policy: "", Route: "", Allowed: true, Source: httplimit.SourceMemory})
	c.Observe(httplimit.Event{Policy: "unknown", Route: "unknown", Allowed: true, Source: httplimit.SourceMemory})
	gather(t, c) // no duplicate
	assert.NoError(t, testutil.CollectAndCompare(c, strings.NewReader(decisionsHeader+`
ginlimit_decisions_total{outcome="allowed",policy="p",route="unknown",source="memory"} 4
ginlimit_decisions_total{outcome="allowed",policy="unknown",route="unknown",source="memory"} 2
`), "ginlimit_decisions_total"))
}

// TestGinRoutes checks that the route label is Gin's route pattern: the
// Limiter's middleware for every route, a route's own Limit, and a path
// that matched no route.
func TestGinRoutes(t *testing.T) {
	c := ginlimitprom.New()
	clk := backendtest.NewClock(t0)
	lim, err := ginlimit.NewLimiter(ginlimit.WithLimits("2/minute"), ginlimit.WithClock(clk.Now),
		ginlimit.WithLogger(discardLogger()), ginlimit.WithDecisionHook(c.Observe))
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, lim.Close()) })
	r := gin.New()
	require.NoError(t, r.SetTrustedProxies(nil))
	r.Use(lim.Middleware())
	r.GET("/users/:id", func(*gin.Context) {})
	r.GET("/login", lim.Limit("1/minute"), func(*gin.Context) {})

	var codes []int
	for _, req := range []struct{ path, client string }{
		{"/users/1", "192.0.2.1:1"}, {"/users/2", "192.0.2.1:1"}, {"/users/3", "192.0.2.1:1"},
		{"/nowhere", "192.0.2.2:1"},
		{"/login", "192.0.2.3:1"}, {"/login", "192.0.2.3:1"},
	} {
		codes = append(codes, get(r, req.path, req.client))
	}
	require.Equal(t, []int{200, 200, 429, 404, 200, 429}, codes)

	// Each /login request is decided twice: by the Limiter's own limits,
	// then by the route's, named after the route.
	assert.NoError(t, testutil.CollectAndCompare(c, strings.NewReader(decisionsHeader+`
ginlimit_decisions_total{outcome="allowed",policy="default",route="/users/:id",source="memory"} 2
ginlimit_decisions_total{outcome="denied",policy="default",route="/users/:id",source="memory"} 1
ginlimit_decisions_total{outcome="allowed",policy="default",route="unknown",source="memory"} 1
ginlimit_decisions_total{outcome="allowed",policy="default",route="/login",source="memory"} 2
ginlimit_decisions_total{outcome="allowed",policy="/login",route="/login",source="memory"} 1
ginlimit_decisions_total{outcome="denied",policy="/login",route="/login",source="memory"} 1
`), "ginlimit_decisions_total"))
}

func TestBreaker(t *testing.T) {
	c := ginlimitprom.New()
	assert.Zero(t, testutil.CollectAndCount(c, "ginlimit_breaker_state", "ginlimit_breaker_transitions_total"),
		"absent before the breaker changes")

	tests := []struct {
		give httplimit.BreakerEvent
		want float64
	}{
		{give: httplimit.BreakerEvent{State: "half-open", Slot: -1}, want: 1},
		{give: httplimit.BreakerEvent{State: "closed", Slot: -1}, want: 0},
		{give: httplimit.BreakerEvent{State: "open", Slot: -1, Error: "dial tcp: connection refused"}, want: 2},
		// A cluster slot's breaker leaves the whole backend's state alone.
		{give: httplimit.BreakerEvent{State: "half-open", Slot: 7}, want: 2},
		{give: httplimit.BreakerEvent{State: "closed", Slot: 7, DownFor: time.Second}, want: 2},
		{give: httplimit.BreakerEvent{State: "half-open", Slot: -1}, want: 1},
		{give: httplimit.BreakerEvent{State: "closed", Slot: -1, DownFor: 3 * time.Second}, want: 0},
	}
	for i, tt := range tests {
		c.ObserveBreaker(tt.give)
		assert.NoError(t, testutil.CollectAndCompare(c, strings.NewReader(fmt.Sprintf(`
# HELP ginlimit_breaker_state State of the shared backend's breaker: 0 closed, 1 half-open, 2 open.
# TYPE ginlimit_breaker_state gauge
ginlimit_breaker_state %v
`, tt.want)), "ginlimit_breaker_state"), "after event %d: %v", i, tt.give)
	}
	assert.NoError(t, testutil.CollectAndCompare(c, strings.NewReader(`
# HELP ginlimit_breaker_transitions_total Changes of the shared backend's breakers, Redis Cluster slots' included, by the state entered.
# TYPE ginlimit_breaker_transitions_total counter
ginlimit_breaker_transitions_total{state="closed"} 3
ginlimit_breaker_transitions_total{state="half-open"} 3
ginlimit_breaker_transitions_total{state="open"} 1
`), "ginlimit_breaker_transitions_total"))
}

// statsText returns the exposition of the Stats series for s.
func statsText(s httplimit.Stats) string {
	return fmt.Sprintf(`
# HELP ginlimit_skipped_total Requests exempted from limiting by WithSkip.
# TYPE ginlimit_skipped_total counter
ginlimit_skipped_total %d
# HELP ginlimit_unknown_policies_total Requests for which the policy function named no policy, decided by the Limiter's own.
# TYPE ginlimit_unknown_policies_total counter
ginlimit_unknown_policies_total %d
# HELP ginlimit_invalid_limits_total Requests whose per-request limits were invalid, decided by their policy's own.
# TYPE ginlimit_invalid_limits_total counter
ginlimit_invalid_limits_total %d
# HELP ginlimit_errors_total Decisions the shared backend failed to make, and requests admitted after Close.
# TYPE ginlimit_errors_total counter
ginlimit_errors_total %d
# HELP ginlimit_fallback_total Requests decided by the failure mode because the shared backend could not decide them.
# TYPE ginlimit_fallback_total counter
ginlimit_fallback_total %d
# HELP ginlimit_watched_keys Denied keys the Redis backend watches through client-side caching.
# TYPE ginlimit_watched_keys gauge
ginlimit_watched_keys %d
# HELP ginlimit_memory_keys Keys the built-in memory backend holds.
# TYPE ginlimit_memory_keys gauge
ginlimit_memory_keys %d
# HELP ginlimit_memory_evictions_total Keys the memory backend dropped to stay within its bound before they expired.
# TYPE ginlimit_memory_evictions_total counter
ginlimit_memory_evictions_total %d
`, s.Skipped, s.UnknownPolicies, s.InvalidLimits, s.Errors, s.Fallback, s.Watched, s.Keys, s.Evictions)
}

var statsNames = []string{"ginlimit_skipped_total", "ginlimit_unknown_policies_total", "ginlimit_invalid_limits_total",
	"ginlimit_errors_total", "ginlimit_fallback_total", "ginlimit_watched_keys", "ginlimit_memory_keys", "ginlimit_memory_evictions_total"}

// TestWatch checks the series read from Stats: a policy function that names
// a policy no one declared, per-request limits that do not parse, skipped
// requests, and a Limiter closed under its requests.
func TestWatch(t *testing.T) {
	c := ginlimitprom.New()
	l := newLimiter(t,
		httplimit.WithPolicy("pro", "10/minute"),
		httplimit.WithPolicyFunc(func(r *http.Request) string { return r.URL.Query().Get("plan") }),
		httplimit.WithLimitsFunc(func(r *http.Request) string { return r.URL.Query().Get("limits") }),
		httplimit.WithSkip(func(r *http.Request) bool { return r.URL.Path == "/skip" }),
	)
	h := l.Middleware(okHandler)
	for i, path := range []string{"/?plan=pro", "/?plan=gold", "/?plan=gold", "/?limits=ten/minute", "/skip", "/skip", "/skip"} {
		require.Equal(t, http.StatusOK, get(h, path, fmt.Sprintf("192.0.2.%d:1", i+1)), path)
	}
	assert.Zero(t, testutil.CollectAndCount(c, statsNames...), "nothing watched yet")

	c.Watch(l)
	want := httplimit.Stats{Skipped: 3, UnknownPolicies: 2, InvalidLimits: 1, Keys: 4}
	assert.NoError(t, testutil.CollectAndCompare(c, strings.NewReader(statsText(want)), statsNames...))

	// Read at scrape time: a request after Close is admitted and counted as
	// an error.
	closed := newLimiter(t, httplimit.WithMemoryMaxKeys(2))
	h = closed.Middleware(okHandler)
	for i := range 3 {
		require.Equal(t, http.StatusOK, get(h, "/", fmt.Sprintf("192.0.2.%d:1", i+1)))
	}
	c.Watch(closed) // replaces l
	st := closed.Stats()
	require.Equal(t, 2, st.Keys)
	require.Equal(t, uint64(1), st.Evictions)
	assert.NoError(t, testutil.CollectAndCompare(c, strings.NewReader(statsText(st)), statsNames...))
	require.NoError(t, closed.Close())
	require.Equal(t, http.StatusOK, get(h, "/", "192.0.2.9:1"))
	st.Errors = 1
	assert.NoError(t, testutil.CollectAndCompare(c, strings.NewReader(statsText(st)), statsNames...))

	c.Watch(nil)
	assert.Zero(t, testutil.CollectAndCount(c, statsNames...), "no longer watched")
}

// TestPairsAreBounded checks that the pairs past MaxPairs fold into
// policy="other", route="other", however many there are.
func TestPairsAreBounded(t *testing.T) {
	c := ginlimitprom.New()
	limit := backend.Limit{Count: 4, Period: time.Minute}
	const extra = 25
	for i := range ginlimitprom.MaxPairs + extra {
		for range 2 {
			c.Observe(httplimit.Event{Policy: "p", Route: fmt.Sprintf("/r%d", i), Allowed: true, Source: httplimit.SourceMemory, Limit: limit, Remaining: 3})
		}
	}
	assert.Equal(t, ginlimitprom.MaxPairs+1, testutil.CollectAndCount(c, "ginlimit_decisions_total"))
	assert.Equal(t, ginlimitprom.MaxPairs+1, testutil.CollectAndCount(c, "ginlimit_limit_utilization"))
	families := gather(t, c)
	counts := map[string]float64{}
	for _, m := range families["ginlimit_decisions_total"].GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		counts[labels["policy"]+" "+labels["route"]] = m.GetCounter().GetValue()
	}
	assert.Equal(t, 2.0, counts["p /r0"])
	assert.Equal(t, 2.0, counts[fmt.Sprintf("p /r%d", ginlimitprom.MaxPairs-1)])
	assert.NotContains(t, counts, fmt.Sprintf("p /r%d", ginlimitprom.MaxPairs))
	assert.Equal(t, float64(2*extra), counts["other other"])
	for _, m := range families["ginlimit_limit_utilization"].GetMetric() {
		if m.GetLabel()[0].GetValue() == "other" {
			assert.Equal(t, uint64(2*extra), m.GetHistogram().GetSampleCount())
			assert.Equal(t, 0.25*2*extra, m.GetHistogram().GetSampleSum())
		}
	}
}

func TestOptions(t *testing.T) {
	c := ginlimitprom.New(ginlimitprom.WithNamespace("api_limits"), ginlimitprom.WithDurationBuckets([]float64{0.5}))
	c.Observe(httplimit.Event{Policy: "p", Route: "/", Allowed: true, Source: httplimit.SourceMemory, Duration: time.Second})
	c.ObserveBreaker(httplimit.BreakerEvent{State: "open", Slot: -1})
	c.Watch(newLimiter(t))
	names := []string{"api_limits_decisions_total", "api_limits_backend_duration_seconds",
		"api_limits_breaker_state", "api_limits_breaker_transitions_total", "api_limits_memory_keys"}
	assert.Equal(t, len(names), testutil.CollectAndCount(c, names...))
	assert.NoError(t, testutil.CollectAndCompare(c, strings.NewReader(`
# HELP api_limits_backend_duration_seconds Time the backend took to decide a request, failure mode included, by source.
# TYPE api_limits_backend_duration_seconds histogram
api_limits_backend_duration_seconds_bucket{source="memory",le="0.5"} 0
api_limits_backend_duration_seconds_bucket{source="memory",le="+Inf"} 1
api_limits_backend_duration_seconds_sum{source="memory"} 1
api_limits_backend_duration_seconds_count{source="memory"} 1
`), "api_limits_backend_duration_seconds"))

	// No buckets are the default ones.
	c = ginlimitprom.New(ginlimitprom.WithDurationBuckets(nil))
	c.Observe(httplimit.Event{Policy: "p", Route: "/", Allowed: true, Source: httplimit.SourceMemory})
	h := gather(t, c)["ginlimit_backend_duration_seconds"].GetMetric()[0].GetHistogram()
	assert.Len(t, h.GetBucket(), 14)

	assert.PanicsWithValue(t, "ginlimitprom: WithDurationBuckets([0.1 0.1]): the buckets are not strictly increasing", func() {
		ginlimitprom.New(ginlimitprom.WithDurationBuckets([]float64{0.1, 0.1}))
	})
}

// TestConcurrentObserveAndCollect runs decisions from many goroutines while
// scraping, for the race detector, and checks that nothing was lost.
func TestConcurrentObserveAndCollect(t *testing.T) {
	c := ginlimitprom.New()
	const goroutines, each = 8, 1000
	limit := backend.Limit{Count: 2, Period: time.Minute}
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range each {
				c.Observe(httplimit.Event{Policy: "p", Route: fmt.Sprintf("/r%d", (g+i)%4), Allowed: true,
					Source: httplimit.SourceMemory, Limit: limit, Remaining: 1})
			}
		})
	}
	for range 10 {
		gather(t, c)
	}
	wg.Wait()
	var total float64
	for _, m := range gather(t, c)["ginlimit_decisions_total"].GetMetric() {
		total += m.GetCounter().GetValue()
	}
	assert.Equal(t, float64(goroutines*each), total)
}

// TestObserveDoesNotAllocate pins Observe at no allocation once its pair,
// outcome and source have been seen.
func TestObserveDoesNotAllocate(t *testing.T) {
	if testing.CoverMode() != "" || raceEnabled {
		t.Skip("instrumented builds allocate more")
	}
	c := ginlimitprom.New()
	limit := backend.Limit{Count: 1000, Period: time.Minute}
	// Names built at run time, as a router's are, not constants.
	policy, route := strings.Repeat("p", 7), "GET /items/"+strings.Repeat("x", 5)
	events := []httplimit.Event{
		{Policy: policy, Route: route, Allowed: true, Source: httplimit.SourceMemory, Limit: limit, Remaining: 500, Duration: time.Microsecond},
		{Policy: policy, Route: route, Source: httplimit.SourceShared, Limit: limit, Duration: time.Millisecond},
		{Policy: policy, Route: route, Allowed: true, Shadow: true, Source: httplimit.SourceFallback, Limit: limit},
		{Policy: policy, Route: route, Allowed: true, Source: httplimit.SourceOpen},
	}
	for _, e := range events {
		c.Observe(e)
	}
	next := 0
	assert.Zero(t, testing.AllocsPerRun(1000, func() {
		c.Observe(events[next%len(events)])
		next++
	}))
	// Past the bound, too: the folded pairs are not stored.
	for i := range ginlimitprom.MaxPairs {
		c.Observe(httplimit.Event{Policy: "q", Route: fmt.Sprint(i)})
	}
	folded := httplimit.Event{Policy: "new", Route: route, Allowed: true, Limit: limit}
	assert.Zero(t, testing.AllocsPerRun(1000, func() { c.Observe(folded) }))
}
