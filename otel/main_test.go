package ginlimitotel_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.uber.org/goleak"

	"github.com/ginlimit/ginlimit/backend"
	"github.com/ginlimit/ginlimit/backend/backendtest"
	"github.com/ginlimit/ginlimit/httplimit"
	ginlimitotel "github.com/ginlimit/ginlimit/otel"
)

func TestMain(m *testing.M) {
	gin.SetMode(gin.TestMode)
	goleak.VerifyTestMain(m)
}

// t0 is not aligned to a minute, so that sliding windows start mid-window.
var t0 = time.Date(2026, 1, 1, 12, 0, 7, 0, time.UTC)

// newInstruments returns Instruments of opts in an SDK MeterProvider, and
// the reader that collects what they recorded.
func newInstruments(t testing.TB, opts ...ginlimitotel.Option) (*ginlimitotel.Instruments, *sdkmetric.ManualReader) {
	t.Helper()
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	t.Cleanup(func() { require.NoError(t, mp.Shutdown(context.Background())) })
	in, err := ginlimitotel.New(mp, opts...)
	require.NoError(t, err)
	return in, reader
}

// collect returns the metrics reader holds, by name.
func collect(t *testing.T, reader *sdkmetric.ManualReader) map[string]metricdata.Metrics {
	t.Helper()
	var rm metricdata.ResourceMetrics
	require.NoError(t, reader.Collect(context.Background(), &rm))
	got := map[string]metricdata.Metrics{}
	for _, sm := range rm.ScopeMetrics {
		require.Equal(t, "github.com/ginlimit/ginlimit/otel", sm.Scope.Name)
		for _, m := range sm.Metrics {
			got[m.Name] = m
		}
	}
	return got
}

// newLimiter builds a Limiter on a manual clock at t0 and closes it after
// the test.
func newLimiter(t *testing.T, opts ...httplimit.Option) (*httplimit.Limiter, *backendtest.Clock) {
	t.Helper()
	clk := backendtest.NewClock(t0)
	opts = append([]httplimit.Option{httplimit.WithClock(clk.Now), httplimit.WithLogger(slog.New(slog.DiscardHandler))}, opts...)
	l, err := httplimit.New(opts...)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, l.Close()) })
	return l, clk
}

// ok answers 200 "ok".
var ok = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) })

// get sends a GET for path to h from one client, and returns the status.
func get(h http.Handler, path string) int {
	return serve(h, httptest.NewRequest(http.MethodGet, path, nil))
}

func serve(h http.Handler, r *http.Request) int {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w.Code
}

// decision is one data point of ginlimit.decisions.
type decision struct {
	policy, route, outcome, source string
	count                          int64
}

func (d decision) point() metricdata.DataPoint[int64] {
	return metricdata.DataPoint[int64]{
		Attributes: attribute.NewSet(
			attribute.String("ginlimit.policy", d.policy),
			attribute.String("http.route", d.route),
			attribute.String("ginlimit.outcome", d.outcome),
			attribute.String("ginlimit.source", d.source),
		),
		Value: d.count,
	}
}

// decisionsSum is the ginlimit.decisions metric of the data points want.
func decisionsSum(want ...decision) metricdata.Metrics {
	points := make([]metricdata.DataPoint[int64], len(want))
	for i, d := range want {
		points[i] = d.point()
	}
	return metricdata.Metrics{
		Name:        "ginlimit.decisions",
		Description: "Rate-limiting decisions, by policy, route, outcome and source.",
		Unit:        "{decision}",
		Data:        metricdata.Sum[int64]{Temporality: metricdata.CumulativeTemporality, IsMonotonic: true, DataPoints: points},
	}
}

// flakyBackend admits every request, or fails while its error is set. It
// cannot be pinged, so a request probes its breaker.
type flakyBackend struct {
	mu  sync.Mutex
	err error
}

func (b *flakyBackend) Allow(_ context.Context, _ string, p backend.Policy, cost int64) (backend.Result, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.err != nil {
		return backend.Result{}, b.err
	}
	res := backend.Result{Allowed: true}
	for i, l := range p.Limits {
		res.States[i] = backend.LimitState{Remaining: l.Count - cost, Reset: l.Period}
	}
	return res, nil
}

func (b *flakyBackend) fail(err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.err = err
}
