package ginlimitotel

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/ginlimit/ginlimit/httplimit"
)

// spanEventNames are the names of the span event and of the span's flag,
// per outcome; an admitted request has none.
var spanEventNames = [numOutcomes]string{denied: "ginlimit.denied", shadow: "ginlimit.shadow"}

// addSpanEvent marks the span of ctx, if it records, with the refusal (or
// the shadow one) e describes.
func addSpanEvent(ctx context.Context, e *httplimit.Event, o outcome) {
	span := trace.SpanFromContext(ctx)
	if !span.IsRecording() {
		return
	}
	route := e.Route
	if route == "" {
		route = unknownRoute
	}
	name := spanEventNames[o]
	span.AddEvent(name, trace.WithAttributes(
		attribute.String("ginlimit.policy", e.Policy),
		attribute.String("ginlimit.route", route),
		attribute.Float64("ginlimit.retry_after", e.RetryAfter.Seconds()),
		attribute.Bool("ginlimit.blocked", e.Blocked),
		attribute.String("ginlimit.source", e.Source.String()),
	))
	span.SetAttributes(attribute.Bool(name, true))
}
