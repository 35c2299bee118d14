package httplimit

import (
	"math/rand/v2"
	"sync/atomic"
)

// Stats is a snapshot of a Limiter's counters since it was built.
type Stats struct {
	// Allowed and Denied count decisions.
	Allowed uint64 `json:"allowed"`
	Denied  uint64 `json:"denied"`
	// Skipped counts requests WithSkip exempted.
	Skipped uint64 `json:"skipped"`
	// Errors counts decisions the shared backend failed to make (each was
	// then made by the failure mode), and requests admitted after Close.
	Errors uint64 `json:"errors"`
	// Fallback counts requests decided by the failure mode because the shared
	// backend could not decide them; Unavailable, those of them answered 503
	// (FailClosed).
	Fallback    uint64 `json:"fallback"`
	Unavailable uint64 `json:"unavailable"`
	// Keys is the number of keys the built-in memory backend holds.
	Keys int `json:"keys"`
	// Watched is the number of denied keys the Redis backend watches through
	// client-side caching, turning their requests away without a round trip.
	Watched int `json:"watched"`
	// Evictions counts keys the memory backend dropped to stay within its
	// bound (WithMemoryMaxKeys) before they expired.
	Evictions uint64 `json:"evictions"`
	// UnknownPolicies counts requests for which WithPolicyFunc (or Named)
	// named no policy, counted by the Limiter's own; InvalidLimits, requests
	// whose per-request limits (WithLimitsFunc, Policy.Override) were
	// invalid, counted by their policy's own.
	UnknownPolicies uint64 `json:"unknown_policies"`
	InvalidLimits   uint64 `json:"invalid_limits"`
	// Shadowed counts requests a policy in shadow mode (WithShadow) would
	// have refused, and admitted.
	Shadowed uint64 `json:"shadowed"`
}

// counters are the Limiter's live counts, striped over cache lines so that
// cores counting at once rarely write the same line.
type counters struct {
	stripes [8]stripe
}

type stripe struct {
	allowed, denied, skipped, errors atomic.Uint64
	fallback, unavailable            atomic.Uint64
	unknownPolicies, invalidLimits   atomic.Uint64
	shadowed                         atomic.Uint64
	_                                [56]byte // pad to two cache lines
}

// stripe returns a stripe chosen at random: the generator is per thread, so
// picking one costs a few nanoseconds and no contention.
func (c *counters) stripe() *stripe {
	return &c.stripes[rand.Uint32()%uint32(len(c.stripes))]
}

// Stats returns a snapshot of the Limiter's counters.
func (l *Limiter) Stats() Stats {
	var s Stats
	for i := range l.stats.stripes {
		st := &l.stats.stripes[i]
		s.Allowed += st.allowed.Load()
		s.Denied += st.denied.Load()
		s.Skipped += st.skipped.Load()
		s.Errors += st.errors.Load()
		s.Fallback += st.fallback.Load()
		s.Unavailable += st.unavailable.Load()
		s.UnknownPolicies += st.unknownPolicies.Load()
		s.InvalidLimits += st.invalidLimits.Load()
		s.Shadowed += st.shadowed.Load()
	}
	if r := l.remote; r != nil {
		if cur := r.cur.Load(); cur != nil {
			s.Watched = cur.watched()
		}
	}
	if m := l.memory.Load(); m != nil {
		s.Keys = m.Len()
		s.Evictions = m.Evictions()
	}
	return s
}
