package httplimit

import (
	"fmt"
	"slices"
	"strings"

	"github.com/ginlimit/ginlimit/backend"
)

// FailureMode says how requests are decided while the shared backend (Redis,
// or a backend given by WithBackend) cannot decide them: it is unreachable,
// too slow, or its circuit breaker is open.
type FailureMode uint8

// The failure modes. FailToMemory is the default.
const (
	// FailToMemory decides requests in the built-in memory backend, with the
	// same strategy and limits (made stricter by WithFallbackLimits). Each
	// instance then counts alone: with N instances, up to N times the limit
	// gets through.
	FailToMemory FailureMode = iota
	// FailOpen admits every request, without rate-limit headers.
	FailOpen
	// FailClosed answers 503 Service Unavailable with Retry-After.
	FailClosed
)

var failureModeNames = [...]string{FailToMemory: "memory", FailOpen: "open", FailClosed: "closed"}

// String returns "memory", "open" or "closed".
func (m FailureMode) String() string {
	if int(m) < len(failureModeNames) {
		return failureModeNames[m]
	}
	return fmt.Sprintf("FailureMode(%d)", uint8(m))
}

// ParseFailureMode reads "memory", "open" or "closed", in any case.
func ParseFailureMode(s string) (FailureMode, error) {
	for m, name := range failureModeNames {
		if strings.EqualFold(s, name) {
			return FailureMode(m), nil
		}
	}
	return 0, fmt.Errorf("unknown failure mode %q (want memory, open or closed)", s)
}

// MarshalText makes a FailureMode appear by name in JSON.
func (m FailureMode) MarshalText() ([]byte, error) { return []byte(m.String()), nil }

// WithFailureMode sets how requests are decided while the shared backend
// cannot decide them: FailToMemory (the default), FailOpen or FailClosed. It
// may be given to Limit, so that a sensitive route fails closed while the
// rest fail to memory:
//
//	mux.Handle("POST /login", lim.Limit("5/minute", httplimit.WithFailureMode(httplimit.FailClosed))(login))
func WithFailureMode(m FailureMode) Option {
	return routeOption("WithFailureMode", func(c *config) error {
		if m > FailClosed {
			return invalidf(fmt.Sprintf("WithFailureMode(%d)", m), "unknown failure mode")
		}
		c.failure, c.from.failure = m, fmt.Sprintf("WithFailureMode(%v)", m)
		return nil
	})
}

// WithFallbackLimits sets stricter limits for the time requests are decided
// in memory (FailToMemory), in the notation of WithLimits. Each instance then
// counts alone, so with N instances up to N times a limit gets through;
// fallback limits of about the limit divided by N keep the total near it.
//
// They tighten every policy, never loosen one: during a fallback, a policy is
// decided by its own limits and the fallback limits together, and of two
// limits with one period the smaller count applies. By default a policy keeps
// its own limits.
func WithFallbackLimits(limits string) Option {
	return limiterOption("WithFallbackLimits", func(c *config) error {
		parsed, err := backend.ParseLimits(limits)
		if err != nil {
			return invalid(fmt.Sprintf("WithFallbackLimits(%q)", limits), err)
		}
		c.fallbackLimits, c.from.fallback = parsed, fmt.Sprintf("WithFallbackLimits(%q)", limits)
		return nil
	})
}

// WithOnFallbackChange calls f with true when the shared backend becomes
// unavailable and requests start being decided by the failure mode, and with
// false when it recovers. f runs on the goroutine that saw the change (a
// request's, or a probe's), outside any lock, and must return quickly.
func WithOnFallbackChange(f func(active bool)) Option {
	return limiterOption("WithOnFallbackChange", func(c *config) error {
		if f == nil {
			return invalidf("WithOnFallbackChange(nil)", "the function is nil")
		}
		c.onFallback = f
		return nil
	})
}

// fallbackPolicy returns p tightened by the fallback limits: for each period
// the smaller count, and the fallback limits of other periods added.
func fallbackPolicy(p backend.Policy, fallback []backend.Limit) backend.Policy {
	limits := slices.Clone(p.Limits)
	for _, f := range fallback {
		i := slices.IndexFunc(limits, func(l backend.Limit) bool { return l.Period == f.Period })
		if i < 0 {
			limits = append(limits, f)
			continue
		}
		limits[i].Count = min(limits[i].Count, f.Count)
	}
	return backend.Policy{Strategy: p.Strategy, Limits: limits, Penalty: p.Penalty}
}
