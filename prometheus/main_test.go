package ginlimitprom_test

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/ginlimit/ginlimit/backend/backendtest"
	"github.com/ginlimit/ginlimit/httplimit"
)

func TestMain(m *testing.M) {
	gin.SetMode(gin.TestMode)
	goleak.VerifyTestMain(m)
}

// t0 is not aligned to a minute, so that sliding windows start mid-window.
var t0 = time.Date(2026, 1, 1, 12, 0, 7, 0, time.UTC)

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// newLimiter builds a Limiter on a manual clock at t0 and closes it after
// the test.
func newLimiter(t *testing.T, opts ...httplimit.Option) *httplimit.Limiter {
	t.Helper()
	clk := backendtest.NewClock(t0)
	opts = append([]httplimit.Option{httplimit.WithClock(clk.Now), httplimit.WithLogger(discardLogger())}, opts...)
	l, err := httplimit.New(opts...)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, l.Close()) })
	return l
}

// get serves GET path from the client at addr and returns the status.
func get(h http.Handler, path, addr string) int {
	r := httptest.NewRequest(http.MethodGet, path, nil)
	r.RemoteAddr = addr
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w.Code
}

// okHandler answers 200.
var okHandler = http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})

// gather registers c alone in a pedantic registry, which checks that
// Collect sends only what Describe announced, and returns the families by
// name.
func gather(t *testing.T, c prometheus.Collector) map[string]*dto.MetricFamily {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	require.NoError(t, reg.Register(c))
	mfs, err := reg.Gather()
	require.NoError(t, err)
	byName := make(map[string]*dto.MetricFamily, len(mfs))
	for _, mf := range mfs {
		byName[mf.GetName()] = mf
	}
	return byName
}
