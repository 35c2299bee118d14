package ginlimit_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ginlimit/ginlimit"
)

// TestAllocationsPerAdmittedRequest pins what an admitted request costs in
// allocations on top of gin: the key, gin's ClientIP, one slice for the legacy
// headers' values, and, unless the strategy is the sliding window, whose
// reset all keys share, the reset's text (Remaining's is cached for counts up
// to 1024).
func TestAllocationsPerAdmittedRequest(t *testing.T) {
	if testing.CoverMode() != "" || raceEnabled {
		t.Skip("instrumented builds allocate more")
	}
	tests := []struct {
		headers  ginlimit.Headers
		strategy ginlimit.Strategy
		want     float64
	}{
		{headers: ginlimit.HeadersNone, strategy: ginlimit.SlidingWindow, want: 2},
		{headers: ginlimit.HeadersLegacy, strategy: ginlimit.SlidingWindow, want: 3},
		{headers: ginlimit.HeadersLegacy, strategy: ginlimit.FixedWindow, want: 4},
		{headers: ginlimit.HeadersLegacy, strategy: ginlimit.TokenBucket, want: 4},
	}
	for _, tt := range tests {
		t.Run(tt.headers.String()+"/"+tt.strategy.String(), func(t *testing.T) {
			l, _ := newLimiter(t, ginlimit.WithLimits("1000/minute"), ginlimit.WithHeaders(tt.headers), ginlimit.WithStrategy(tt.strategy))
			r := benchRouterT(t, l)
			req := httptest.NewRequest(http.MethodGet, "/", nil)
			w := &discardWriter{header: make(http.Header)}
			serveOne := func() {
				clear(w.header)
				r.ServeHTTP(w, req)
			}
			serveOne()
			require.Equal(t, http.StatusNoContent, w.code)
			assert.Equal(t, tt.want, testing.AllocsPerRun(100, serveOne))
			require.Equal(t, http.StatusNoContent, w.code, "still admitted")
		})
	}
}
