// Package ginlimitprom exports the decisions of a ginlimit Limiter, the
// changes of its breaker and its Stats as Prometheus metrics. It is a module
// of its own, so that a service that does not use Prometheus never downloads
// client_golang.
//
// A Collector is fed by the Limiter's hooks and registered like any other
// collector:
//
//	metrics := ginlimitprom.New()
//	lim, err := ginlimit.NewLimiter(
//		ginlimit.WithDecisionHook(metrics.Observe),
//		ginlimit.WithBreakerHook(metrics.ObserveBreaker),
//	)
//	...
//	metrics.Watch(lim.Engine())
//	prometheus.MustRegister(metrics)
//
// Labels hold names the service chose: policy names and route patterns
// (never a request's path, which the client chooses); a decision without a
// route, such as one of Decide, has route="unknown". Client keys are
// personal data of unbounded cardinality and never become labels. The
// (policy, route) pairs are bounded: past 1000 of them, decisions of a new
// pair are counted under policy="other", route="other".
package ginlimitprom

import (
	"fmt"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ginlimit/ginlimit/httplimit"
)

// defaultNamespace prefixes every metric name unless WithNamespace says
// otherwise.
const defaultNamespace = "ginlimit"

// maxPairs bounds the (policy, route) pairs labelled apart. Decisions of
// any pair seen after maxPairs others are counted under the policy and
// route "other".
const maxPairs = 1000

// defaultDurationBuckets are the upper bounds, in seconds, of the backend
// duration histogram: from 50µs, below which a decision from memory or the
// client-side cache (not timed: 0) falls, to a second, above which a shared backend's timeout has long struck.
var defaultDurationBuckets = []float64{
	0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
	0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,
}

// An Option configures a Collector.
type Option interface {
	apply(*config)
}

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

type config struct {
	namespace string
	buckets   []float64
}

// WithNamespace sets the prefix of every metric name; the default is
// "ginlimit". An empty namespace leaves the names unprefixed
// (decisions_total). A namespace that is not a valid metric name makes
// Register fail.
func WithNamespace(ns string) Option {
	return optionFunc(func(c *config) { c.namespace = ns })
}

// WithDurationBuckets sets the upper bounds, in seconds, of the
// ginlimit_backend_duration_seconds histogram. The default runs from 50µs
// (decisions from memory or the client-side cache, not timed, are 0) to 1s:
// .00005, .0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25,
// .5, 1. New panics if the buckets are not strictly increasing.
func WithDurationBuckets(b []float64) Option {
	return optionFunc(func(c *config) { c.buckets = slices.Clone(b) })
}

// Collector is a prometheus.Collector of a Limiter's metrics. Give its
// Observe method to WithDecisionHook, its ObserveBreaker method to
// WithBreakerHook, and, for the series read from Stats, the Limiter to
// Watch. It is safe for concurrent use.
type Collector struct {
	decisionsDesc, utilizationDesc, durationDesc *prometheus.Desc

	// pairs maps a pairKey to its *pairMetrics, for Observe. Pairs are
	// created under mu, which lists them in all, for Collect.
	pairs sync.Map
	mu    sync.Mutex
	all   []*pairMetrics
	other *pairMetrics // the pair of the decisions past maxPairs

	// stripes hands each P its stripe of every striped block.
	stripes *stripes
	// durations holds, in each stripe, the duration histogram of each
	// source: durationWidth counters apiece (see observeDuration).
	durations       striped
	durationBuckets []float64
	durationWidth   int

	transitions  *prometheus.CounterVec
	breakerState *prometheus.Desc
	breaker      atomic.Int32 // breakerValue+1 of the last whole-backend event; 0 before any

	stats   []statSeries
	watched atomic.Pointer[httplimit.Limiter]
}

// New returns a Collector configured by opts. It panics if the duration
// buckets are not strictly increasing.
func New(opts ...Option) *Collector {
	cfg := config{namespace: defaultNamespace, buckets: defaultDurationBuckets}
	for _, o := range opts {
		o.apply(&cfg)
	}
	if len(cfg.buckets) == 0 {
		cfg.buckets = defaultDurationBuckets
	}
	for i := 1; i < len(cfg.buckets); i++ {
		if !(cfg.buckets[i] > cfg.buckets[i-1]) {
			panic(fmt.Sprintf("ginlimitprom: WithDurationBuckets(%v): the buckets are not strictly increasing", cfg.buckets))
		}
	}
	ns := cfg.namespace
	n := stripeCount()
	c := &Collector{
		decisionsDesc: prometheus.NewDesc(prometheus.BuildFQName(ns, "", "decisions_total"),
			"Rate-limit decisions, by policy, route pattern, outcome (allowed, denied, shadow) and source.",
			[]string{"policy", "route", "outcome", "source"}, nil),
		utilizationDesc: prometheus.NewDesc(prometheus.BuildFQName(ns, "", "limit_utilization"),
			"Share of the limit closest to exhaustion that the client had used after the decision, from 0 to 1.",
			[]string{"policy", "route"}, nil),
		durationDesc: prometheus.NewDesc(prometheus.BuildFQName(ns, "", "backend_duration_seconds"),
			"Time the backend took to decide a request, failure mode included, by source.",
			[]string{"source"}, nil),
		stripes:         newStripes(n),
		durationBuckets: cfg.buckets,
		// The buckets, one past the last bound, and the sum.
		durationWidth: len(cfg.buckets) + 2,
		transitions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Name: "breaker_transitions_total",
			Help: "Changes of the shared backend's breakers, Redis Cluster slots' included, by the state entered.",
		}, []string{"state"}),
		breakerState: prometheus.NewDesc(prometheus.BuildFQName(ns, "", "breaker_state"),
			"State of the shared backend's breaker: 0 closed, 1 half-open, 2 open.", nil, nil),
		stats: newStatSeries(ns),
	}
	c.durations = newStriped(n, numSources*c.durationWidth)
	c.other = c.newPairMetrics(otherLabel, otherLabel)
	return c
}

// Watch makes the Collector read the series of l's Stats (errors, fallback,
// keys, ...) when it is scraped. A later call replaces l, and Watch(nil)
// stops reading; without a Limiter, those series are absent. For a Gin
// Limiter, pass lim.Engine().
func (c *Collector) Watch(l *httplimit.Limiter) {
	c.watched.Store(l)
}

// Describe sends the descriptors of every series the Collector may collect.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.decisionsDesc
	ch <- c.utilizationDesc
	ch <- c.durationDesc
	c.transitions.Describe(ch)
	ch <- c.breakerState
	for _, s := range c.stats {
		ch <- s.desc
	}
}

// Collect sends the current value of every series: those of the hooks, and
// those of the watched Limiter's Stats, read now. A series appears once it
// has counted something.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	for _, p := range c.allPairs() {
		c.collectPair(ch, p)
	}
	c.collectPair(ch, c.other)
	c.collectDurations(ch)
	c.transitions.Collect(ch)
	if v := c.breaker.Load(); v > 0 {
		ch <- prometheus.MustNewConstMetric(c.breakerState, prometheus.GaugeValue, float64(v-1))
	}
	if l := c.watched.Load(); l != nil {
		st := l.Stats()
		for _, s := range c.stats {
			ch <- prometheus.MustNewConstMetric(s.desc, s.kind, s.value(&st))
		}
	}
}

var _ prometheus.Collector = (*Collector)(nil)
