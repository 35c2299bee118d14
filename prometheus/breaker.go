package ginlimitprom

import "github.com/ginlimit/ginlimit/httplimit"

// ObserveBreaker records a change of a breaker: give it to WithBreakerHook.
// Every event counts in ginlimit_breaker_transitions_total; those of the
// whole backend (Slot -1), not a Redis Cluster slot's, set
// ginlimit_breaker_state.
func (c *Collector) ObserveBreaker(e httplimit.BreakerEvent) {
	c.transitions.WithLabelValues(e.State).Inc()
	if e.Slot >= 0 {
		return
	}
	if v, ok := breakerValue(e.State); ok {
		c.breaker.Store(v + 1)
	}
}

// breakerValue returns the ginlimit_breaker_state value of a state.
func breakerValue(state string) (int32, bool) {
	switch state {
	case "closed":
		return 0, true
	case "half-open":
		return 1, true
	case "open":
		return 2, true
	}
	return 0, false
}
