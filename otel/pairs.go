package ginlimitotel

import (
	"sync/atomic"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/ginlimit/ginlimit/httplimit"
)

// The attribute sets of a decision are cached per (policy, route) pair, so
// that Observe, which runs on every request, builds none: attribute.NewSet
// sorts and copies, and metric.WithAttributeSet allocates an option.

// numSources is the number of Sources httplimit defines. A Source past
// them, should httplimit add one, has its options built for each event.
const numSources = int(httplimit.SourceClosed) + 1

// outcome is what became of a request: ginlimit.outcome.
type outcome uint8

const (
	allowed outcome = iota
	denied
	shadow
	numOutcomes
)

var outcomeNames = [numOutcomes]string{"allowed", "denied", "shadow"}

func outcomeOf(e *httplimit.Event) outcome {
	switch {
	case !e.Allowed:
		return denied
	case e.Shadow:
		return shadow
	}
	return allowed
}

// unknownRoute is the route of an event without one, such as Decide's.
const unknownRoute = "unknown"

// pairKey is a policy and the route it decided for, as the event has them.
type pairKey struct {
	policy, route string
}

// pair holds the options of the measurements of one (policy, route) pair.
type pair struct {
	policy, route string // the attributes' values: route "" is "unknown"
	utilization   []metric.RecordOption
	// decisions holds the options of ginlimit.decisions per outcome and
	// Source, built when first needed.
	decisions [numOutcomes][numSources]atomic.Pointer[[]metric.AddOption]
}

func newPair(policy, route string) *pair {
	if route == "" {
		route = unknownRoute
	}
	p := &pair{policy: policy, route: route}
	set := attribute.NewSet(policyKey.String(policy), routeKey.String(route))
	p.utilization = []metric.RecordOption{metric.WithAttributeSet(set)}
	return p
}

// pairOf returns the pair of policy and route, or, past maxPairs pairs, the
// one they share.
func (in *Instruments) pairOf(policy, route string) *pair {
	if p, ok := in.pairs.Load(pairKey{policy, route}); ok {
		return p.(*pair)
	}
	if in.full.Load() {
		return in.other
	}
	// Stored under a lock, so that the bound is exact.
	in.mu.Lock()
	defer in.mu.Unlock()
	k := pairKey{policy, route}
	if p, ok := in.pairs.Load(k); ok {
		return p.(*pair)
	}
	if in.npairs >= maxPairs {
		in.full.Store(true)
		return in.other
	}
	p := newPair(policy, route)
	in.pairs.Store(k, p)
	in.npairs++
	return p
}

// decisionOptions returns the options of ginlimit.decisions for o and s.
func (p *pair) decisionOptions(o outcome, s httplimit.Source) []metric.AddOption {
	if int(s) >= numSources {
		return p.newDecisionOptions(o, s)
	}
	slot := &p.decisions[o][s]
	if opts := slot.Load(); opts != nil {
		return *opts
	}
	// Two events that race here build equal options; either may stay.
	opts := p.newDecisionOptions(o, s)
	slot.Store(&opts)
	return opts
}

func (p *pair) newDecisionOptions(o outcome, s httplimit.Source) []metric.AddOption {
	set := attribute.NewSet(
		policyKey.String(p.policy),
		routeKey.String(p.route),
		outcomeKey.String(outcomeNames[o]),
		sourceKey.String(s.String()),
	)
	return []metric.AddOption{metric.WithAttributeSet(set)}
}
