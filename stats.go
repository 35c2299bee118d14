package ginlimit

import "sync/atomic"

// Stats is a snapshot of a Limiter's counters since it was built.
type Stats struct {
	// Allowed and Denied count decisions.
	Allowed uint64 `json:"allowed"`
	Denied  uint64 `json:"denied"`
	// Skipped counts requests WithSkip exempted.
	Skipped uint64 `json:"skipped"`
	// Errors counts requests admitted because the backend failed.
	Errors uint64 `json:"errors"`
	// Keys is the number of keys the built-in memory backend holds.
	Keys int `json:"keys"`
	// Evictions counts keys the memory backend dropped to stay within its
	// bound (WithMemoryMaxKeys) before they expired.
	Evictions uint64 `json:"evictions"`
}

// counters are the Limiter's live counts, each on its own cache line so that
// cores admitting requests do not contend with cores denying them.
type counters struct {
	allowed atomic.Uint64
	_       [56]byte
	denied  atomic.Uint64
	_       [56]byte
	skipped atomic.Uint64
	_       [56]byte
	errors  atomic.Uint64
}

// Stats returns a snapshot of the Limiter's counters.
func (l *Limiter) Stats() Stats {
	s := Stats{
		Allowed: l.stats.allowed.Load(),
		Denied:  l.stats.denied.Load(),
		Skipped: l.stats.skipped.Load(),
		Errors:  l.stats.errors.Load(),
	}
	if b, ok := l.backend.(interface{ Len() int }); ok {
		s.Keys = b.Len()
	}
	if b, ok := l.backend.(interface{ Evictions() uint64 }); ok {
		s.Evictions = b.Evictions()
	}
	return s
}
