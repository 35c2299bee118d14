package ginlimitotel_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/ginlimit/ginlimit/backend"
	"github.com/ginlimit/ginlimit/httplimit"
	ginlimitotel "github.com/ginlimit/ginlimit/otel"
)

// events are decisions of every outcome and of every Source, on two
// routes, as a Limiter reports them.
func events() []httplimit.Event {
	minute := backend.Limit{Count: 100, Period: time.Minute}
	ctx := context.Background()
	return []httplimit.Event{
		{Context: ctx, Policy: "api", Route: "GET /api", Key: "192.0.2.1", Allowed: true, Source: httplimit.SourceMemory,
			Limit: minute, Remaining: 40, Cost: 1, Duration: 800 * time.Nanosecond},
		{Context: ctx, Policy: "api", Route: "GET /api", Key: "192.0.2.2", Source: httplimit.SourceShared,
			Limit: minute, RetryAfter: 20 * time.Second, Cost: 1, Duration: 300 * time.Microsecond},
		{Context: ctx, Policy: "api", Route: "POST /api", Key: "192.0.2.3", Allowed: true, Shadow: true, Source: httplimit.SourceFallback,
			Limit: minute, RetryAfter: 20 * time.Second, Cost: 1, Duration: time.Microsecond},
		{Context: ctx, Policy: "api", Route: "POST /api", Key: "192.0.2.4", Allowed: true, Source: httplimit.SourceOpen, Cost: 1},
		{Context: ctx, Policy: "api", Route: "POST /api", Key: "192.0.2.5", Source: httplimit.SourceClosed, RetryAfter: time.Second, Cost: 1},
	}
}

// TestObserveDoesNotAllocate pins Observe, once it has seen each pair and
// combination, at no allocation with the SDK's MeterProvider: the attribute
// sets and the options are built once, and the SDK finds the series of a
// set it holds without allocating. A refusal in a context without a
// recording span costs nothing either, and neither does an admitted request
// in a sampled span, whose measurements the SDK offers as exemplars. (A
// refusal in a recording span allocates its span event: 5 allocations with
// go.opentelemetry.io/otel/sdk/trace v1.47.0.)
func TestObserveDoesNotAllocate(t *testing.T) {
	if testing.CoverMode() != "" || raceEnabled {
		t.Skip("instrumented builds allocate more")
	}
	tp := sdktrace.NewTracerProvider()
	t.Cleanup(func() { require.NoError(t, tp.Shutdown(context.Background())) })
	sampled, span := tp.Tracer("test").Start(context.Background(), "request")
	t.Cleanup(func() { span.End() })
	require.True(t, span.SpanContext().IsSampled())
	var admitted []httplimit.Event
	for _, e := range events() {
		if e.Allowed && !e.Shadow {
			e.Context = sampled
			admitted = append(admitted, e)
		}
	}
	tests := []struct {
		name   string
		opts   []ginlimitotel.Option
		events []httplimit.Event
	}{
		{name: "span events", events: events()},
		{name: "no span events", opts: []ginlimitotel.Option{ginlimitotel.WithSpanEvents(false)}, events: events()},
		{name: "sampled span", events: admitted},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in, _ := newInstruments(t, tt.opts...)
			for _, e := range tt.events {
				in.Observe(e)
			}
			next := 0
			allocs := testing.AllocsPerRun(1000, func() {
				in.Observe(tt.events[next%len(tt.events)])
				next++
			})
			assert.Zero(t, allocs)
		})
	}
}

// TestObserveBreakerDoesNotAllocate pins ObserveBreaker, which runs far
// less often, at no allocation too.
func TestObserveBreakerDoesNotAllocate(t *testing.T) {
	if testing.CoverMode() != "" || raceEnabled {
		t.Skip("instrumented builds allocate more")
	}
	in, _ := newInstruments(t)
	es := []httplimit.BreakerEvent{{State: "open", Slot: -1}, {State: "half-open", Slot: -1}, {State: "closed", Slot: -1}, {State: "open", Slot: 7}}
	for _, e := range es {
		in.ObserveBreaker(e)
	}
	next := 0
	assert.Zero(t, testing.AllocsPerRun(1000, func() {
		in.ObserveBreaker(es[next%len(es)])
		next++
	}))
}

// BenchmarkObserve measures Observe with the SDK's MeterProvider, on one
// goroutine and on all of them.
func BenchmarkObserve(b *testing.B) {
	in, _ := newInstruments(b)
	es := events()
	for _, e := range es {
		in.Observe(e)
	}
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			in.Observe(es[i%len(es)])
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for i := 0; pb.Next(); i++ {
				in.Observe(es[i%len(es)])
			}
		})
	})
}
