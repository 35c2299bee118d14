// Package ginlimitotel reports ginlimit's decisions and the changes of its
// shared backend's breaker as OpenTelemetry metrics, and marks the traces of
// the requests it refuses with span events. It is a module of its own, so
// that an application that does not use OpenTelemetry never downloads it.
//
// Give New the MeterProvider of the application's OpenTelemetry setup, and
// the Instruments' methods to the Limiter's hooks:
//
//	in, err := ginlimitotel.New(meterProvider)
//	if err != nil {
//		return err
//	}
//	lim, err := ginlimit.NewLimiter(
//		ginlimit.WithDecisionHook(in.Observe),
//		ginlimit.WithBreakerHook(in.ObserveBreaker),
//	)
//
// The instruments, all of the meter "github.com/ginlimit/ginlimit/otel":
//
//   - ginlimit.decisions (counter, {decision}): every decision, by
//     ginlimit.policy, http.route, ginlimit.outcome ("allowed", "denied" or
//     "shadow") and ginlimit.source ("shared", "memory", "fallback", "open"
//     or "closed").
//   - ginlimit.backend.duration (histogram, s): the time the shared backend
//     took (Event.Duration: 0 for a decision made in memory or from the
//     client-side cache), by ginlimit.source.
//   - ginlimit.limit.utilization (histogram, 1): the share of the limit
//     closest to exhaustion that is used once the request is counted, by
//     ginlimit.policy and http.route, for the decisions a backend made.
//   - ginlimit.breaker.state (gauge): the whole shared backend's breaker, 0
//     closed, 1 half-open, 2 open.
//   - ginlimit.breaker.transitions (counter, {transition}): the changes of
//     every breaker, a Redis Cluster slot's included, by
//     ginlimit.breaker.state.
//
// The client key never becomes an attribute: it is personal data, and
// unbounded. The policies and routes are bounded by the application's
// configuration; should one make more than 1000 pairs of them, the decisions
// of the pairs past the 1000th are reported under ginlimit.policy and
// http.route "other".
package ginlimitotel

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/ginlimit/ginlimit/httplimit"
)

// scopeName is the name of the meter the instruments belong to.
const scopeName = "github.com/ginlimit/ginlimit/otel"

// maxPairs bounds the (policy, route) pairs that have series of their own.
const maxPairs = 1000

// otherLabel stands for the policy and the route of the pairs past maxPairs.
const otherLabel = "other"

// The instruments' names.
const (
	decisionsName    = "ginlimit.decisions"
	durationName     = "ginlimit.backend.duration"
	utilizationName  = "ginlimit.limit.utilization"
	breakerStateName = "ginlimit.breaker.state"
	transitionsName  = "ginlimit.breaker.transitions"
)

// The attribute keys.
const (
	policyKey       = attribute.Key("ginlimit.policy")
	routeKey        = attribute.Key("http.route")
	outcomeKey      = attribute.Key("ginlimit.outcome")
	sourceKey       = attribute.Key("ginlimit.source")
	breakerStateKey = attribute.Key("ginlimit.breaker.state")
)

// utilizationBounds are the buckets of ginlimit.limit.utilization: finer
// near exhaustion, where an operator decides whether a limit is too tight.
var utilizationBounds = []float64{0.1, 0.25, 0.5, 0.75, 0.8, 0.9, 0.95, 0.99, 1}

// durationBounds are the buckets of ginlimit.backend.duration, in seconds:
// Redis decides in a fraction of a millisecond, which OpenTelemetry's
// default buckets (0, 5, 10, ... 10000) would all put in the first one.
var durationBounds = []float64{
	0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005,
	0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,
}

// Option configures New.
type Option interface {
	apply(*config)
}

type config struct {
	spanEvents bool
}

type spanEventsOption bool

func (o spanEventsOption) apply(c *config) { c.spanEvents = bool(o) }

// WithSpanEvents turns the span events on or off; they are on by default.
// On a refused request, or one admitted by shadow mode, the span of the
// request's context (Event.Context), if it is recording, gets an event
// "ginlimit.denied" or "ginlimit.shadow" with the attributes
// ginlimit.policy, ginlimit.route, ginlimit.retry_after (seconds),
// ginlimit.blocked and ginlimit.source, and the attribute ginlimit.denied
// or ginlimit.shadow, true, so that the traces of such requests are found
// by a query on the span.
func WithSpanEvents(on bool) Option { return spanEventsOption(on) }

// Instruments records ginlimit's events in OpenTelemetry instruments: give
// Observe to WithDecisionHook and ObserveBreaker to WithBreakerHook. Its
// methods are safe for concurrent use. One Instruments may serve several
// Limiters; their decisions then add up, and the breaker gauge holds the
// last change any of them reported.
type Instruments struct {
	decisions    metric.Int64Counter
	duration     metric.Float64Histogram
	utilization  metric.Float64Histogram
	breakerState metric.Int64Gauge
	transitions  metric.Int64Counter

	spanEvents bool

	// bySource holds the options of ginlimit.backend.duration, per Source.
	bySource [numSources][]metric.RecordOption
	// byState holds the options of ginlimit.breaker.transitions, per state.
	byState [len(breakerStates)][]metric.AddOption

	pairs  sync.Map // pairKey to *pair
	mu     sync.Mutex
	npairs int         // pairs stored, guarded by mu
	full   atomic.Bool // npairs reached maxPairs
	other  *pair       // the pair the pairs past maxPairs share
}

// New returns the instruments of ginlimit in a meter of mp, or of the
// global MeterProvider (otel.GetMeterProvider) when mp is nil. It fails
// only if mp refuses to create an instrument.
func New(mp metric.MeterProvider, opts ...Option) (*Instruments, error) {
	cfg := config{spanEvents: true}
	for _, o := range opts {
		if o != nil {
			o.apply(&cfg)
		}
	}
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	m := mp.Meter(scopeName)
	in := &Instruments{spanEvents: cfg.spanEvents, other: newPair(otherLabel, otherLabel)}
	var errs []error
	check := func(name string, err error) {
		if err != nil {
			errs = append(errs, fmt.Errorf("ginlimit: otel: %s: %w", name, err))
		}
	}
	var err error
	in.decisions, err = m.Int64Counter(decisionsName,
		metric.WithUnit("{decision}"),
		metric.WithDescription("Rate-limiting decisions, by policy, route, outcome and source."))
	check(decisionsName, err)
	in.duration, err = m.Float64Histogram(durationName,
		metric.WithUnit("s"),
		metric.WithDescription("Time the rate-limiting backend took to decide, failure mode included."),
		metric.WithExplicitBucketBoundaries(durationBounds...))
	check(durationName, err)
	in.utilization, err = m.Float64Histogram(utilizationName,
		metric.WithUnit("1"),
		metric.WithDescription("Share of the limit closest to exhaustion used once the request is counted."),
		metric.WithExplicitBucketBoundaries(utilizationBounds...))
	check(utilizationName, err)
	in.breakerState, err = m.Int64Gauge(breakerStateName,
		metric.WithDescription("State of the shared backend's breaker: 0 closed, 1 half-open, 2 open."))
	check(breakerStateName, err)
	in.transitions, err = m.Int64Counter(transitionsName,
		metric.WithUnit("{transition}"),
		metric.WithDescription("Changes of state of the shared backend's breakers, Redis Cluster slots' included."))
	check(transitionsName, err)
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	for s := range in.bySource {
		in.bySource[s] = []metric.RecordOption{metric.WithAttributeSet(sourceSet(httplimit.Source(s)))}
	}
	for i, state := range breakerStates {
		in.byState[i] = []metric.AddOption{metric.WithAttributeSet(attribute.NewSet(breakerStateKey.String(state)))}
	}
	return in, nil
}

// Observe records e: give it to WithDecisionHook. It allocates nothing for
// a (policy, route) pair it has seen, unless the request's span records a
// span event.
func (in *Instruments) Observe(e httplimit.Event) {
	ctx := e.Context
	if ctx == nil {
		ctx = context.Background()
	}
	p := in.pairOf(e.Policy, e.Route)
	o := outcomeOf(&e)
	in.decisions.Add(ctx, 1, p.decisionOptions(o, e.Source)...)
	in.duration.Record(ctx, e.Duration.Seconds(), in.sourceOptions(e.Source)...)
	if e.Limit.Count > 0 {
		used := float64(e.Limit.Count-e.Remaining) / float64(e.Limit.Count)
		in.utilization.Record(ctx, used, p.utilization...)
	}
	if in.spanEvents && o != allowed {
		addSpanEvent(ctx, &e, o)
	}
}

// sourceOptions returns the options of ginlimit.backend.duration for s.
func (in *Instruments) sourceOptions(s httplimit.Source) []metric.RecordOption {
	if int(s) < numSources {
		return in.bySource[s]
	}
	return []metric.RecordOption{metric.WithAttributeSet(sourceSet(s))}
}

func sourceSet(s httplimit.Source) attribute.Set {
	return attribute.NewSet(sourceKey.String(s.String()))
}
