package ginlimitotel_test

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"

	"github.com/ginlimit/ginlimit/httplimit"
)

// TestObserveBreaker feeds breaker events and checks the gauge, which only
// the whole backend's breaker sets, and the transitions, which count every
// breaker's.
func TestObserveBreaker(t *testing.T) {
	tests := []struct {
		name      string
		give      []httplimit.BreakerEvent
		wantState int64 // -1: no gauge
		wantMoves map[string]int64
	}{
		{
			name:      "open",
			give:      []httplimit.BreakerEvent{{State: "open", Slot: -1, Error: "connection refused"}},
			wantState: 2,
			wantMoves: map[string]int64{"open": 1},
		},
		{
			name: "recovered",
			give: []httplimit.BreakerEvent{
				{State: "open", Slot: -1}, {State: "half-open", Slot: -1}, {State: "open", Slot: -1},
				{State: "half-open", Slot: -1}, {State: "closed", Slot: -1, DownFor: time.Second},
			},
			wantState: 0,
			wantMoves: map[string]int64{"open": 2, "half-open": 2, "closed": 1},
		},
		{
			name:      "probing",
			give:      []httplimit.BreakerEvent{{State: "open", Slot: -1}, {State: "half-open", Slot: -1}},
			wantState: 1,
			wantMoves: map[string]int64{"open": 1, "half-open": 1},
		},
		{
			name:      "slots only",
			give:      []httplimit.BreakerEvent{{State: "open", Slot: 866}, {State: "half-open", Slot: 866}, {State: "closed", Slot: 866}},
			wantState: -1,
			wantMoves: map[string]int64{"open": 1, "half-open": 1, "closed": 1},
		},
		{
			name:      "slot after whole",
			give:      []httplimit.BreakerEvent{{State: "open", Slot: -1}, {State: "closed", Slot: 12}},
			wantState: 2,
			wantMoves: map[string]int64{"open": 1, "closed": 1},
		},
		{
			name:      "unknown state",
			give:      []httplimit.BreakerEvent{{State: "tripped", Slot: -1}},
			wantState: -1,
			wantMoves: map[string]int64{"tripped": 1},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in, reader := newInstruments(t)
			for _, e := range tt.give {
				in.ObserveBreaker(e)
			}
			got := collect(t, reader)
			assert.Equal(t, tt.wantMoves, transitions(t, got["ginlimit.breaker.transitions"]))
			gauge, ok := got["ginlimit.breaker.state"]
			if tt.wantState < 0 {
				assert.False(t, ok, "no gauge: %v", gauge)
				return
			}
			metricdatatest.AssertEqual(t, breakerGauge(tt.wantState), gauge, metricdatatest.IgnoreTimestamp())
		})
	}
}

// TestBreakerOfLimiter checks the events of a real breaker: the shared
// backend fails, and a request probes it once the backoff has passed.
func TestBreakerOfLimiter(t *testing.T) {
	in, reader := newInstruments(t)
	b := &flakyBackend{}
	lim, clk := newLimiter(t, httplimit.WithBackend(b), httplimit.WithBreakerHook(in.ObserveBreaker))
	h := lim.Middleware(ok)

	b.fail(errors.New("connection refused"))
	require.Equal(t, 200, get(h, "/"))
	metricdatatest.AssertEqual(t, breakerGauge(2), collect(t, reader)["ginlimit.breaker.state"], metricdatatest.IgnoreTimestamp())

	b.fail(nil)
	clk.Advance(time.Second)
	require.Equal(t, 200, get(h, "/"))
	got := collect(t, reader)
	metricdatatest.AssertEqual(t, breakerGauge(0), got["ginlimit.breaker.state"], metricdatatest.IgnoreTimestamp())
	assert.Equal(t, map[string]int64{"open": 1, "half-open": 1, "closed": 1}, transitions(t, got["ginlimit.breaker.transitions"]))
}

func breakerGauge(state int64) metricdata.Metrics {
	return metricdata.Metrics{
		Name:        "ginlimit.breaker.state",
		Description: "State of the shared backend's breaker: 0 closed, 1 half-open, 2 open.",
		Data:        metricdata.Gauge[int64]{DataPoints: []metricdata.DataPoint[int64]{{Attributes: *attribute.EmptySet(), Value: state}}},
	}
}

// transitions returns the sums of ginlimit.breaker.transitions by state.
func transitions(t *testing.T, m metricdata.Metrics) map[string]int64 {
	t.Helper()
	assert.Equal(t, "{transition}", m.Unit)
	sum, isSum := m.Data.(metricdata.Sum[int64])
	require.True(t, isSum, "a counter: %T", m.Data)
	assert.True(t, sum.IsMonotonic)
	got := map[string]int64{}
	for _, p := range sum.DataPoints {
		require.Equal(t, 1, p.Attributes.Len(), "ginlimit.breaker.state alone: %v", p.Attributes.ToSlice())
		state, _ := p.Attributes.Value("ginlimit.breaker.state")
		got[state.AsString()] = p.Value
	}
	return got
}
