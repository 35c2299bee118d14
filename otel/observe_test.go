package ginlimitotel_test

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"

	"github.com/ginlimit/ginlimit/backend"
	"github.com/ginlimit/ginlimit/httplimit"
	ginlimitotel "github.com/ginlimit/ginlimit/otel"
)

// TestDecisions sends requests through a Limiter on a ServeMux, admitted,
// refused and admitted by shadow mode, and checks every data point.
func TestDecisions(t *testing.T) {
	in, reader := newInstruments(t)
	lim, _ := newLimiter(t, httplimit.WithDecisionHook(in.Observe))
	mux := http.NewServeMux()
	mux.Handle("GET /login", lim.Limit("2/minute", httplimit.WithName("login"))(ok))
	mux.Handle("GET /search", lim.Limit("1/minute", httplimit.WithName("search"), httplimit.WithShadow(true))(ok))

	codes := []int{get(mux, "/login"), get(mux, "/login"), get(mux, "/login"), get(mux, "/search"), get(mux, "/search")}
	require.Equal(t, []int{200, 200, 429, 200, 200}, codes)

	got := collect(t, reader)
	metricdatatest.AssertEqual(t, decisionsSum(
		decision{policy: "login", route: "GET /login", outcome: "allowed", source: "memory", count: 2},
		decision{policy: "login", route: "GET /login", outcome: "denied", source: "memory", count: 1},
		decision{policy: "search", route: "GET /search", outcome: "allowed", source: "memory", count: 1},
		decision{policy: "search", route: "GET /search", outcome: "shadow", source: "memory", count: 1},
	), got["ginlimit.decisions"], metricdatatest.IgnoreTimestamp())

	// login: half its limit used by the first request, all of it by the
	// second, and by the refused third; search: all of it by the first,
	// and by the second, which shadow mode admitted.
	metricdatatest.AssertEqual(t, metricdata.Metrics{
		Name:        "ginlimit.limit.utilization",
		Description: "Share of the limit closest to exhaustion used once the request is counted.",
		Unit:        "1",
		Data: metricdata.Histogram[float64]{
			Temporality: metricdata.CumulativeTemporality,
			DataPoints: []metricdata.HistogramDataPoint[float64]{
				utilizationPoint("login", "GET /login", 3, 2.5, 0.5, 1, []uint64{0, 0, 1, 0, 0, 0, 0, 0, 2, 0}),
				utilizationPoint("search", "GET /search", 2, 2, 1, 1, []uint64{0, 0, 0, 0, 0, 0, 0, 0, 2, 0}),
			},
		},
	}, got["ginlimit.limit.utilization"], metricdatatest.IgnoreTimestamp(), metricdatatest.IgnoreExemplars())

	assert.Equal(t, map[string]uint64{"memory": 5}, durationCounts(t, got["ginlimit.backend.duration"]))
}

func utilizationPoint(policy, route string, count uint64, sum, lowest, highest float64, buckets []uint64) metricdata.HistogramDataPoint[float64] {
	return metricdata.HistogramDataPoint[float64]{
		Attributes:   attribute.NewSet(attribute.String("ginlimit.policy", policy), attribute.String("http.route", route)),
		Count:        count,
		Sum:          sum,
		Min:          metricdata.NewExtrema(lowest),
		Max:          metricdata.NewExtrema(highest),
		Bounds:       []float64{0.1, 0.25, 0.5, 0.75, 0.8, 0.9, 0.95, 0.99, 1},
		BucketCounts: buckets,
	}
}

// durationCounts returns the count of ginlimit.backend.duration per
// ginlimit.source, the durations themselves being real time, after checking
// the histogram's shape.
func durationCounts(t *testing.T, m metricdata.Metrics) map[string]uint64 {
	t.Helper()
	assert.Equal(t, "s", m.Unit)
	h, isHistogram := m.Data.(metricdata.Histogram[float64])
	require.True(t, isHistogram, "ginlimit.backend.duration is a float64 histogram: %T", m.Data)
	counts := map[string]uint64{}
	for _, p := range h.DataPoints {
		require.Equal(t, 1, p.Attributes.Len(), "ginlimit.source alone: %v", p.Attributes.ToSlice())
		source, _ := p.Attributes.Value("ginlimit.source")
		counts[source.AsString()] = p.Count
		assert.Equal(t, 0.00001, p.Bounds[0], "the first bucket ends at 10µs")
		assert.Equal(t, 1.0, p.Bounds[len(p.Bounds)-1], "the last bucket ends at 1s")
		var inBuckets uint64
		for _, n := range p.BucketCounts {
			inBuckets += n
		}
		assert.Equal(t, p.Count, inBuckets)
	}
	return counts
}

// TestSourceOfFailureModes checks ginlimit.source and ginlimit.outcome
// while the shared backend fails, for each failure mode, and once it
// recovers.
func TestSourceOfFailureModes(t *testing.T) {
	tests := []struct {
		give     httplimit.FailureMode
		wantCode int
		want     decision
	}{
		{give: httplimit.FailToMemory, wantCode: 200, want: decision{outcome: "allowed", source: "fallback"}},
		{give: httplimit.FailOpen, wantCode: 200, want: decision{outcome: "allowed", source: "open"}},
		{give: httplimit.FailClosed, wantCode: 503, want: decision{outcome: "denied", source: "closed"}},
	}
	for _, tt := range tests {
		t.Run(tt.give.String(), func(t *testing.T) {
			in, reader := newInstruments(t)
			b := &flakyBackend{}
			lim, clk := newLimiter(t, httplimit.WithBackend(b), httplimit.WithFailureMode(tt.give),
				httplimit.WithDecisionHook(in.Observe))
			mux := http.NewServeMux()
			mux.Handle("GET /api", lim.Limit("10/minute", httplimit.WithName("api"))(ok))

			b.fail(errors.New("connection refused"))
			assert.Equal(t, tt.wantCode, get(mux, "/api"), "failing")
			b.fail(nil)
			clk.Advance(time.Second) // past the breaker's backoff: the next request probes
			assert.Equal(t, 200, get(mux, "/api"), "recovered")

			failed := tt.want
			failed.policy, failed.route, failed.count = "api", "GET /api", 1
			got := collect(t, reader)
			metricdatatest.AssertEqual(t, decisionsSum(
				failed,
				decision{policy: "api", route: "GET /api", outcome: "allowed", source: "shared", count: 1},
			), got["ginlimit.decisions"], metricdatatest.IgnoreTimestamp())
			assert.Equal(t, map[string]uint64{tt.want.source: 1, "shared": 1}, durationCounts(t, got["ginlimit.backend.duration"]))
		})
	}
}

// TestUnknownRoute checks that a decision without a route, such as
// Decide's, is reported under http.route "unknown".
func TestUnknownRoute(t *testing.T) {
	in, reader := newInstruments(t)
	lim, _ := newLimiter(t, httplimit.WithLimits("5/minute"), httplimit.WithDecisionHook(in.Observe))
	require.True(t, lim.Decide(context.Background(), lim.Default(), "client", 1).Allowed)

	metricdatatest.AssertEqual(t, decisionsSum(
		decision{policy: "default", route: "unknown", outcome: "allowed", source: "memory", count: 1},
	), collect(t, reader)["ginlimit.decisions"], metricdatatest.IgnoreTimestamp())
}

// TestPairsAreBounded checks that the first 1000 (policy, route) pairs
// have series of their own, and that the rest share "other".
func TestPairsAreBounded(t *testing.T) {
	in, reader := newInstruments(t)
	const pairs = 1000
	for i := range pairs + 50 {
		e := httplimit.Event{Policy: "p", Route: "/r" + strconv.Itoa(i), Allowed: true, Source: httplimit.SourceMemory}
		in.Observe(e)
		in.Observe(e)
	}
	in.Observe(httplimit.Event{Policy: "p", Route: "/r0", Allowed: true, Source: httplimit.SourceMemory})

	sum, isSum := collect(t, reader)["ginlimit.decisions"].Data.(metricdata.Sum[int64])
	require.True(t, isSum)
	require.Len(t, sum.DataPoints, pairs+1)
	counts := map[string]int64{}
	for _, p := range sum.DataPoints {
		route, _ := p.Attributes.Value("http.route")
		policy, _ := p.Attributes.Value("ginlimit.policy")
		if route.AsString() == "other" {
			assert.Equal(t, "other", policy.AsString())
		}
		counts[route.AsString()] = p.Value
	}
	assert.Equal(t, int64(3), counts["/r0"], "a pair seen first keeps its series")
	assert.Equal(t, int64(2), counts["/r999"])
	assert.NotContains(t, counts, "/r1000")
	assert.Equal(t, int64(100), counts["other"], "50 pairs past the bound, twice each")
}

// TestNewWithoutMeterProvider checks that a nil MeterProvider is the
// global one, which records nothing until the application sets one.
func TestNewWithoutMeterProvider(t *testing.T) {
	in, err := ginlimitotel.New(nil, nil, ginlimitotel.WithSpanEvents(false))
	require.NoError(t, err)
	in.Observe(httplimit.Event{Policy: "p", Allowed: true, Limit: backend.Limit{Count: 1, Period: time.Minute}})
	in.ObserveBreaker(httplimit.BreakerEvent{State: "open", Slot: -1})
}

// refusingProvider is a MeterProvider whose meter refuses to create
// counters.
type refusingProvider struct{ noop.MeterProvider }

func (refusingProvider) Meter(string, ...metric.MeterOption) metric.Meter { return refusingMeter{} }

type refusingMeter struct{ noop.Meter }

func (refusingMeter) Int64Counter(string, ...metric.Int64CounterOption) (metric.Int64Counter, error) {
	return nil, errors.New("no counters here")
}

func TestNewFailsWhenAnInstrumentIsRefused(t *testing.T) {
	in, err := ginlimitotel.New(refusingProvider{})
	assert.Nil(t, in)
	assert.EqualError(t, err, "ginlimit: otel: ginlimit.decisions: no counters here\n"+
		"ginlimit: otel: ginlimit.breaker.transitions: no counters here")
}

// TestObserveConcurrently observes the same new pairs from many goroutines,
// for the race detector, and checks that no decision is lost.
func TestObserveConcurrently(t *testing.T) {
	in, reader := newInstruments(t)
	const goroutines, routes = 8, 50
	var wg sync.WaitGroup
	for range goroutines {
		wg.Go(func() {
			for i := range routes {
				for _, o := range []httplimit.Event{{Allowed: true}, {}, {Allowed: true, Shadow: true}} {
					// Source(5), which httplimit does not define, takes the slow path.
					o.Policy, o.Route, o.Source = "p", "/r"+strconv.Itoa(i), httplimit.Source(i%6)
					in.Observe(o)
				}
			}
		})
	}
	wg.Wait()

	sum, isSum := collect(t, reader)["ginlimit.decisions"].Data.(metricdata.Sum[int64])
	require.True(t, isSum)
	assert.Len(t, sum.DataPoints, routes*3)
	var total int64
	for _, p := range sum.DataPoints {
		assert.Equal(t, int64(goroutines), p.Value, "%v", p.Attributes.ToSlice())
		total += p.Value
	}
	assert.Equal(t, int64(goroutines*routes*3), total)
}
