package ginlimitprom

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ginlimit/ginlimit/httplimit"
)

// Observe records a decision: give it to WithDecisionHook. It allocates
// nothing once the decision's (policy, route) pair has been seen: the pair's
// counts are found by one lookup, and added to without locks, each core
// to counters of its own (see striped.go).
func (c *Collector) Observe(e httplimit.Event) {
	p := c.pair(e.Policy, e.Route)
	st := c.stripes.get()
	if s := int(e.Source); s < numSources {
		p.counts.row(st.i)[decisionIndex(outcomeOf(e.Allowed, e.Shadow), s)].Add(1)
		c.observeDuration(st.i, s, e.Duration)
	}
	if e.Limit.Count > 0 {
		p.observeUtilization(st.i, utilization(e.Limit.Count, e.Remaining))
	}
	c.stripes.put(st)
}

// numSources is the number of sources counted apart: httplimit's five,
// and room for three more, which the label names by Source.String. A
// decision of a source past them counts in the utilization only.
const numSources = 8

// outcome is the outcome label of a decision.
type outcome uint8

const (
	allowed outcome = iota
	denied
	shadow // refused by the policy, admitted by shadow mode
	numOutcomes
)

var outcomeNames = [numOutcomes]string{"allowed", "denied", "shadow"}

// outcomeOf returns the outcome of an Event's Allowed and Shadow: an Event
// is large, and not worth copying for two fields.
func outcomeOf(admitted, shadowed bool) outcome {
	switch {
	case shadowed:
		return shadow
	case admitted:
		return allowed
	default:
		return denied
	}
}

// utilization returns the share of a limit of count units used when
// remaining are left, within [0, 1].
func utilization(count, remaining int64) float64 {
	used := min(max(count-remaining, 0), count)
	return float64(used) / float64(count)
}

// utilizationBuckets are the upper bounds of the utilization histogram:
// coarse below half the limit, fine near it, where clients get refused.
// A utilization is at most 1, so no observation falls past them.
var utilizationBuckets = [...]float64{0.1, 0.25, 0.5, 0.75, 0.8, 0.9, 0.95, 0.99, 1}

// utilizationScale is the unit of the utilization sum: millionths, so that
// it is summed by atomic adds of integers.
const utilizationScale = 1e6

// A pair's counters, in each stripe: its decisions by outcome and source,
// then its utilization histogram's buckets, then the histogram's sum.
const (
	utilizationBucketsAt = int(numOutcomes) * numSources
	utilizationSumAt     = utilizationBucketsAt + len(utilizationBuckets)
	pairCounters         = utilizationSumAt + 1
)

func decisionIndex(o outcome, s int) int { return int(o)*numSources + s }

// unknownLabel is the route label of a decision made without a route: by
// Decide, or by a middleware that runs before the router matches one (the
// net/http Middleware in front of a ServeMux, Gin's for an unmatched path);
// and the policy label of one without a policy name.
const unknownLabel = "unknown"

// otherLabel is the policy and route label of the decisions of the pairs
// seen after maxPairs others.
const otherLabel = "other"

// pairKey identifies a (policy, route) pair as the Event names it.
type pairKey struct{ policy, route string }

// pairMetrics holds the counts of a (policy, route) pair.
type pairMetrics struct {
	policy, route string // the label values
	counts        striped
}

// pair returns the counts of a (policy, route) pair, creating them on its
// first decision.
func (c *Collector) pair(policy, route string) *pairMetrics {
	if p, ok := c.pairs.Load(pairKey{policy, route}); ok {
		return p.(*pairMetrics)
	}
	return c.newPair(policy, route)
}

func (c *Collector) newPair(policy, route string) *pairMetrics {
	c.mu.Lock()
	defer c.mu.Unlock()
	key := pairKey{policy, route}
	if p, ok := c.pairs.Load(key); ok {
		return p.(*pairMetrics)
	}
	// A route "" and a route "unknown" have the same labels: they must
	// share their series, or the scrape would fail on the duplicate.
	labels := pairKey{orUnknown(policy), orUnknown(route)}
	if p, ok := c.pairs.Load(labels); ok {
		c.pairs.Store(key, p)
		return p.(*pairMetrics)
	}
	if len(c.all) >= maxPairs {
		// Not stored: an unbounded stream of names must not grow the map.
		return c.other
	}
	p := c.newPairMetrics(labels.policy, labels.route)
	c.pairs.Store(key, p)
	c.pairs.Store(labels, p)
	c.all = append(c.all, p)
	return p
}

func orUnknown(label string) string {
	if label == "" {
		return unknownLabel
	}
	return label
}

// allPairs returns the pairs created so far.
func (c *Collector) allPairs() []*pairMetrics {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.all // appended to only: the pairs it holds now never change
}

func (c *Collector) newPairMetrics(policy, route string) *pairMetrics {
	return &pairMetrics{policy: policy, route: route, counts: newStriped(len(c.stripes.tokens), pairCounters)}
}

func (p *pairMetrics) observeUtilization(stripe int, u float64) {
	row := p.counts.row(stripe)
	for i, bound := range utilizationBuckets {
		if u <= bound {
			row[utilizationBucketsAt+i].Add(1)
			break
		}
	}
	row[utilizationSumAt].Add(uint64(u*utilizationScale + 0.5))
}

// observeDuration counts d in the duration histogram of source s. A
// source's counters, in each stripe, are its buckets, the last one past
// every bound, then its sum in nanoseconds.
func (c *Collector) observeDuration(stripe, s int, d time.Duration) {
	d = max(d, 0)
	row := c.durations.row(stripe)[s*c.durationWidth:]
	seconds, bounds := d.Seconds(), c.durationBuckets
	i := 0
	for i < len(bounds) && seconds > bounds[i] {
		i++
	}
	row[i].Add(1)
	row[len(bounds)+1].Add(uint64(d))
}

// collectPair sends the series of a pair that has counted anything.
func (c *Collector) collectPair(ch chan<- prometheus.Metric, p *pairMetrics) {
	for o := range numOutcomes {
		for s := range numSources {
			if n := p.counts.sum(decisionIndex(o, s)); n > 0 {
				ch <- prometheus.MustNewConstMetric(c.decisionsDesc, prometheus.CounterValue, float64(n),
					p.policy, p.route, outcomeNames[o], httplimit.Source(s).String())
			}
		}
	}
	buckets := make(map[float64]uint64, len(utilizationBuckets))
	var count uint64
	for i, bound := range utilizationBuckets {
		count += p.counts.sum(utilizationBucketsAt + i)
		buckets[bound] = count
	}
	if count > 0 {
		sum := float64(p.counts.sum(utilizationSumAt)) / utilizationScale
		ch <- prometheus.MustNewConstHistogram(c.utilizationDesc, count, sum, buckets, p.policy, p.route)
	}
}

// collectDurations sends the duration histogram of every source that has
// decided anything.
func (c *Collector) collectDurations(ch chan<- prometheus.Metric) {
	bounds := c.durationBuckets
	for s := range numSources {
		at := s * c.durationWidth
		buckets := make(map[float64]uint64, len(bounds))
		var count uint64
		for i, bound := range bounds {
			count += c.durations.sum(at + i)
			buckets[bound] = count
		}
		count += c.durations.sum(at + len(bounds))
		if count == 0 {
			continue
		}
		sum := float64(c.durations.sum(at+len(bounds)+1)) / float64(time.Second)
		ch <- prometheus.MustNewConstHistogram(c.durationDesc, count, sum, buckets, httplimit.Source(s).String())
	}
}
