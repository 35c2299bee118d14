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
// allocations on top of gin: the key, gin's ClientIP, and one slice for the
// legacy headers' values (their text is cached for counts up to 1024).
func TestAllocationsPerAdmittedRequest(t *testing.T) {
	if testing.CoverMode() != "" || raceEnabled {
		t.Skip("instrumented builds allocate more")
	}
	tests := []struct {
		give ginlimit.Headers
		want float64
	}{
		{give: ginlimit.HeadersNone, want: 2},
		{give: ginlimit.HeadersLegacy, want: 3},
	}
	for _, tt := range tests {
		t.Run(tt.give.String(), func(t *testing.T) {
			l, _ := newLimiter(t, ginlimit.WithLimits("1000/minute"), ginlimit.WithHeaders(tt.give))
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
