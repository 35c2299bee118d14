package ginlimitotel

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/ginlimit/ginlimit/httplimit"
)

// breakerStates are the states of BreakerEvent.State, in the order of the
// values of ginlimit.breaker.state.
var breakerStates = [...]string{"closed", "half-open", "open"}

// ObserveBreaker records e: give it to WithBreakerHook. Every change counts
// in ginlimit.breaker.transitions; a change of the whole backend's breaker
// (Slot -1) also sets ginlimit.breaker.state.
func (in *Instruments) ObserveBreaker(e httplimit.BreakerEvent) {
	ctx := context.Background()
	state := -1
	for i, name := range breakerStates {
		if e.State == name {
			state = i
		}
	}
	if state < 0 {
		// A state this package does not know: counted, not gauged.
		in.transitions.Add(ctx, 1, metric.WithAttributeSet(attribute.NewSet(breakerStateKey.String(e.State))))
		return
	}
	in.transitions.Add(ctx, 1, in.byState[state]...)
	if e.Slot < 0 {
		in.breakerState.Record(ctx, int64(state))
	}
}
