package ginlimitotel_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/ginlimit/ginlimit/httplimit"
	ginlimitotel "github.com/ginlimit/ginlimit/otel"
)

// spanEvent is a span event's name and attributes.
type spanEvent struct {
	name  string
	attrs []attribute.KeyValue
}

// TestSpanEvents sends requests in a span each and checks what the span
// recorded: nothing for an admitted request, an event and a flag for a
// refused one or one admitted by shadow mode, unless span events are off.
func TestSpanEvents(t *testing.T) {
	// The sliding window of the first request, 7 seconds into a minute,
	// admits the next one at the end of the next minute: 113 seconds on.
	refusal := []attribute.KeyValue{
		attribute.String("ginlimit.policy", "login"),
		attribute.String("ginlimit.route", "GET /login"),
		attribute.Float64("ginlimit.retry_after", 113),
		attribute.Bool("ginlimit.blocked", false),
		attribute.String("ginlimit.source", "memory"),
	}
	tests := []struct {
		name       string
		opts       []ginlimitotel.Option
		shadow     bool
		requests   int
		wantCode   int
		wantEvents []spanEvent
		wantAttrs  []attribute.KeyValue
	}{
		{name: "admitted", requests: 1, wantCode: 200},
		{
			name: "denied", requests: 2, wantCode: 429,
			wantEvents: []spanEvent{{name: "ginlimit.denied", attrs: refusal}},
			wantAttrs:  []attribute.KeyValue{attribute.Bool("ginlimit.denied", true)},
		},
		{
			name: "shadow", shadow: true, requests: 2, wantCode: 200,
			wantEvents: []spanEvent{{name: "ginlimit.shadow", attrs: refusal}},
			wantAttrs:  []attribute.KeyValue{attribute.Bool("ginlimit.shadow", true)},
		},
		{name: "off", opts: []ginlimitotel.Option{ginlimitotel.WithSpanEvents(false)}, requests: 2, wantCode: 429},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in, _ := newInstruments(t, tt.opts...)
			lim, _ := newLimiter(t, httplimit.WithDecisionHook(in.Observe))
			mux := http.NewServeMux()
			mux.Handle("GET /login", lim.Limit("1/minute", httplimit.WithName("login"), httplimit.WithShadow(tt.shadow))(ok))
			rec := tracetest.NewSpanRecorder()
			tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
			t.Cleanup(func() { require.NoError(t, tp.Shutdown(context.Background())) })

			for range tt.requests - 1 {
				require.Equal(t, 200, get(mux, "/login"), "before the request in the span")
			}
			ctx, span := tp.Tracer("test").Start(context.Background(), "GET /login")
			assert.Equal(t, tt.wantCode, serve(mux, httptest.NewRequest(http.MethodGet, "/login", nil).WithContext(ctx)))
			span.End()

			ended := rec.Ended()
			require.Len(t, ended, 1)
			var events []spanEvent
			for _, e := range ended[0].Events() {
				events = append(events, spanEvent{name: e.Name, attrs: e.Attributes})
			}
			assert.Equal(t, tt.wantEvents, events)
			assert.Equal(t, tt.wantAttrs, ended[0].Attributes())
		})
	}
}

// TestSpanEventsOfBlocked checks ginlimit.blocked and ginlimit.retry_after
// on a refusal of a blocked client.
func TestSpanEventsOfBlocked(t *testing.T) {
	in, _ := newInstruments(t)
	lim, _ := newLimiter(t, httplimit.WithLimits("5/minute"), httplimit.WithDecisionHook(in.Observe))
	require.NoError(t, lim.Block(context.Background(), lim.Default(), "client", 90*time.Second))
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { require.NoError(t, tp.Shutdown(context.Background())) })

	ctx, span := tp.Tracer("test").Start(context.Background(), "decide")
	require.False(t, lim.Decide(ctx, lim.Default(), "client", 1).Allowed)
	span.End()

	require.Len(t, rec.Ended(), 1)
	events := rec.Ended()[0].Events()
	require.Len(t, events, 1)
	assert.Equal(t, []attribute.KeyValue{
		attribute.String("ginlimit.policy", "default"),
		attribute.String("ginlimit.route", "unknown"),
		attribute.Float64("ginlimit.retry_after", 90),
		attribute.Bool("ginlimit.blocked", true),
		attribute.String("ginlimit.source", "memory"),
	}, events[0].Attributes)
}
