package httplimit_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ginlimit/ginlimit/backend"
	"github.com/ginlimit/ginlimit/httplimit"
)

// allocKeys is how many distinct clients the allocation tests spread their
// requests over: more than AllocsPerRun's runs, so that no client repeats.
const allocKeys = 1024

// TestAllocationsPerAdmittedRequest pins what an admitted request costs in
// allocations through the Middleware, on top of the ServeMux: one slice for
// the legacy headers' values, and, unless the strategy is the sliding
// window, whose reset all keys share, the reset's text. The peer address is
// cut from r.RemoteAddr without a copy, the memory backend's key is built on
// the stack, and Remaining's text is cached (all values for counts up to
// 1024, the highest 1025 for larger ones). Gin adds one for its ClientIP.
func TestAllocationsPerAdmittedRequest(t *testing.T) {
	if testing.CoverMode() != "" || raceEnabled {
		t.Skip("instrumented builds allocate more")
	}
	tests := []struct {
		headers  httplimit.Headers
		strategy backend.Strategy
		limits   string
		want     float64
	}{
		{headers: httplimit.HeadersNone, strategy: backend.SlidingWindow, limits: "1000/minute", want: 0},
		{headers: httplimit.HeadersLegacy, strategy: backend.SlidingWindow, limits: "1000/minute", want: 1},
		{headers: httplimit.HeadersLegacy, strategy: backend.SlidingWindow, limits: "1000000000/hour", want: 1},
		{headers: httplimit.HeadersLegacy, strategy: backend.FixedWindow, limits: "1000/minute", want: 2},
		{headers: httplimit.HeadersLegacy, strategy: backend.TokenBucket, limits: "1000/minute", want: 2},
	}
	// Plans (a named one, and per-request limits once compiled) and a
	// decision hook cost what a fixed policy of the same limits does.
	plans := map[string]httplimit.Option{
		"":         nil,
		"/named":   httplimit.WithPolicyFunc(func(*http.Request) string { return "pro" }),
		"/limits":  httplimit.WithLimitsFunc(func(*http.Request) string { return "2000/minute" }),
		"/unknown": httplimit.WithPolicyFunc(func(*http.Request) string { return "gold" }),
		// A decision hook that keeps nothing costs nothing either.
		"/hook": httplimit.WithDecisionHook(func(httplimit.Event) {}),
	}
	for _, tt := range tests {
		for plan, choose := range plans {
			opts := []httplimit.Option{httplimit.WithLimits(tt.limits), httplimit.WithHeaders(tt.headers), httplimit.WithStrategy(tt.strategy)}
			if choose != nil {
				opts = append(opts, httplimit.WithPolicy("pro", "1500/minute"), choose)
			}
			t.Run(tt.headers.String()+"/"+tt.strategy.String()+"/"+tt.limits+plan, func(t *testing.T) {
				allocsPerAdmitted(t, tt.want, opts...)
			})
		}
	}
}

// allocsPerAdmitted checks that an admitted request through a Limiter of
// opts allocates want times.
func allocsPerAdmitted(t *testing.T, want float64, opts ...httplimit.Option) {
	t.Helper()
	l, _ := newLimiter(t, opts...)
	h := l.Middleware(noContentMux())
	addrs := distinctAddrs(t, allocKeys)
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	w := &discardWriter{header: make(http.Header)}
	next := 0
	serveOne := func() {
		clear(w.header)
		w.code = 0
		req.RemoteAddr = addrs[next%len(addrs)]
		next++
		h.ServeHTTP(w, req)
	}
	// Every client is seen once first: the memory backend allocates
	// nothing for a key it holds.
	for range addrs {
		serveOne()
		require.Equal(t, http.StatusNoContent, w.code)
	}
	assert.Equal(t, want, testing.AllocsPerRun(100, serveOne))
	require.Equal(t, http.StatusNoContent, w.code, "still admitted")
}

// TestDecideDoesNotAllocate pins Decide alone, admitted and denied, on the
// memory backend: the key is built on the stack, and the Decision is a
// value.
func TestDecideDoesNotAllocate(t *testing.T) {
	if testing.CoverMode() != "" || raceEnabled {
		t.Skip("instrumented builds allocate more")
	}
	const runs = 100
	tests := []struct {
		name   string
		limits string
		want   int // requests admitted, of the runs and AllocsPerRun's warm-up
	}{
		{name: "admitted", limits: "1000000000/hour", want: runs + 1},
		{name: "denied", limits: "1/hour", want: 0},
	}
	for _, strategy := range []backend.Strategy{backend.SlidingWindow, backend.FixedWindow, backend.TokenBucket} {
		for _, tt := range tests {
			t.Run(strategy.String()+"/"+tt.name, func(t *testing.T) {
				l, _ := newLimiter(t, httplimit.WithLimits(tt.limits), httplimit.WithStrategy(strategy))
				keys := make([]string, allocKeys)
				for i := range keys {
					keys[i] = fmt.Sprintf("10.0.%d.%d", i>>8, i&0xff)
					l.Decide(t.Context(), l.Default(), keys[i], 1)
				}
				ctx, p := t.Context(), l.Default()
				next, admitted := 0, 0
				allocs := testing.AllocsPerRun(runs, func() {
					if l.Decide(ctx, p, keys[next%len(keys)], 1).Allowed {
						admitted++
					}
					next++
				})
				assert.Zero(t, allocs)
				assert.Equal(t, tt.want, admitted)
			})
		}
	}
}
