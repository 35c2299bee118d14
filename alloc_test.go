package ginlimit_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ginlimit/ginlimit"
	"github.com/ginlimit/ginlimit/httplimit"
)

// TestAllocationsPerAdmittedRequest pins what an admitted request costs in
// allocations on top of gin: gin's ClientIP, one slice for the legacy
// headers' values, and, unless the strategy is the sliding window, whose
// reset all keys share, the reset's text. The memory backend's key is built
// on the stack, and Remaining's text is cached (all values for counts up to
// 1024, the highest 1025 for larger ones).
func TestAllocationsPerAdmittedRequest(t *testing.T) {
	if testing.CoverMode() != "" || raceEnabled {
		t.Skip("instrumented builds allocate more")
	}
	tests := []struct {
		headers  ginlimit.Headers
		strategy ginlimit.Strategy
		limits   string
		want     float64
	}{
		{headers: ginlimit.HeadersNone, strategy: ginlimit.SlidingWindow, limits: "1000/minute", want: 1},
		{headers: ginlimit.HeadersLegacy, strategy: ginlimit.SlidingWindow, limits: "1000/minute", want: 2},
		{headers: ginlimit.HeadersLegacy, strategy: ginlimit.SlidingWindow, limits: "1000000000/hour", want: 2},
		{headers: ginlimit.HeadersLegacy, strategy: ginlimit.FixedWindow, limits: "1000/minute", want: 3},
		{headers: ginlimit.HeadersLegacy, strategy: ginlimit.TokenBucket, limits: "1000/minute", want: 3},
	}
	for _, tt := range tests {
		t.Run(tt.headers.String()+"/"+tt.strategy.String()+"/"+tt.limits, func(t *testing.T) {
			l, _ := newLimiter(t, ginlimit.WithLimits(tt.limits), ginlimit.WithHeaders(tt.headers), ginlimit.WithStrategy(tt.strategy))
			allocs, _ := allocsPerAdmitted(t, l)
			assert.Equal(t, tt.want, allocs)
		})
	}
}

// TestAllocationsThroughPlans pins that choosing a plan by name, and giving
// a request limits of its own once they are compiled, allocate nothing more
// than a fixed policy's request.
func TestAllocationsThroughPlans(t *testing.T) {
	if testing.CoverMode() != "" || raceEnabled {
		t.Skip("instrumented builds allocate more")
	}
	for name, opt := range map[string]ginlimit.Option{
		"named":    ginlimit.WithPolicyFunc(func(*gin.Context) string { return "pro" }),
		"override": ginlimit.WithLimitsFunc(func(*gin.Context) string { return "2000/minute" }),
	} {
		t.Run(name, func(t *testing.T) {
			l, _ := newLimiter(t, ginlimit.WithLimits("1000/minute"), ginlimit.WithPolicy("pro", "1500/minute"), opt)
			allocs, h := allocsPerAdmitted(t, l)
			assert.Equal(t, float64(2), allocs, "as a fixed sliding window's with legacy headers")
			assert.NotEqual(t, "1000", h.Get("X-RateLimit-Limit"), "the plan counted it")
		})
	}
}

// allocsPerAdmitted returns the allocations of an admitted request through
// l's middleware, and the response's headers.
func allocsPerAdmitted(t *testing.T, l *ginlimit.Limiter) (float64, http.Header) {
	t.Helper()
	r := benchRouterT(t, l)
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	w := &discardWriter{header: make(http.Header)}
	serveOne := func() {
		clear(w.header)
		r.ServeHTTP(w, req)
	}
	serveOne()
	require.Equal(t, http.StatusNoContent, w.code)
	allocs := testing.AllocsPerRun(100, serveOne)
	require.Equal(t, http.StatusNoContent, w.code, "still admitted")
	return allocs, w.header
}

// TestAllocationsWithHook pins that a decision hook that keeps nothing
// costs no allocation through Gin either.
func TestAllocationsWithHook(t *testing.T) {
	if testing.CoverMode() != "" || raceEnabled {
		t.Skip("instrumented builds allocate more")
	}
	l, _ := newLimiter(t, ginlimit.WithLimits("1000/minute"), ginlimit.WithDecisionHook(func(httplimit.Event) {}))
	allocs, _ := allocsPerAdmitted(t, l)
	assert.Equal(t, float64(2), allocs, "as without a hook")
}
