package ginlimitprom

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ginlimit/ginlimit/httplimit"
)

// statSeries is a series read from the watched Limiter's Stats at scrape
// time. The decisions' counts are not among them: ginlimit_decisions_total
// has them, by label.
type statSeries struct {
	desc  *prometheus.Desc
	kind  prometheus.ValueType
	value func(*httplimit.Stats) float64
}

func newStatSeries(ns string) []statSeries {
	series := func(name, help string, kind prometheus.ValueType, value func(*httplimit.Stats) float64) statSeries {
		return statSeries{desc: prometheus.NewDesc(prometheus.BuildFQName(ns, "", name), help, nil, nil), kind: kind, value: value}
	}
	counter, gauge := prometheus.CounterValue, prometheus.GaugeValue
	return []statSeries{
		series("skipped_total", "Requests exempted from limiting by WithSkip.",
			counter, func(s *httplimit.Stats) float64 { return float64(s.Skipped) }),
		series("unknown_policies_total", "Requests for which the policy function named no policy, decided by the Limiter's own.",
			counter, func(s *httplimit.Stats) float64 { return float64(s.UnknownPolicies) }),
		series("invalid_limits_total", "Requests whose per-request limits were invalid, decided by their policy's own.",
			counter, func(s *httplimit.Stats) float64 { return float64(s.InvalidLimits) }),
		series("errors_total", "Decisions the shared backend failed to make, and requests admitted after Close.",
			counter, func(s *httplimit.Stats) float64 { return float64(s.Errors) }),
		series("fallback_total", "Requests decided by the failure mode because the shared backend could not decide them.",
			counter, func(s *httplimit.Stats) float64 { return float64(s.Fallback) }),
		series("watched_keys", "Denied keys the Redis backend watches through client-side caching.",
			gauge, func(s *httplimit.Stats) float64 { return float64(s.Watched) }),
		series("memory_keys", "Keys the built-in memory backend holds.",
			gauge, func(s *httplimit.Stats) float64 { return float64(s.Keys) }),
		series("memory_evictions_total", "Keys the memory backend dropped to stay within its bound before they expired.",
			counter, func(s *httplimit.Stats) float64 { return float64(s.Evictions) }),
	}
}
