package httplimit

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/ginlimit/ginlimit/backend"
)

// Observability: a hook that sees every decision (WithDecisionHook), one
// that sees the breaker change state (WithBreakerHook), and shadow mode
// (WithShadow), which reports what a policy would refuse and refuses
// nothing. The prometheus/ and otel/ modules of this repository build
// metrics on the hooks.

// Event describes one decision to the hook of WithDecisionHook.
//
// Key is the client key: personal data (an IP address, a user ID) and of
// unbounded cardinality. Never make it a metric label; log it only where
// personal data may go.
type Event struct {
	// Context is the request's context, the one given to Decide: a tracing
	// hook finds the request's span in it.
	Context context.Context
	// Policy is the name of the policy that decided, and Route the pattern
	// the router matched, "" when the adapter did not say (Decide).
	Policy, Route string
	Key           string
	// Allowed reports whether the request proceeds; Shadow, that the policy
	// would have refused it and shadow mode admitted it (Allowed is then
	// true); Blocked, that the client is blocked.
	Allowed, Shadow, Blocked bool
	// Source is what decided: the shared backend, the memory backend, the
	// memory fallback, or the failure mode (open, closed).
	Source Source
	// Limit is the limit closest to exhaustion, with its Remaining units.
	// RetryAfter is, for a refusal (or a shadow one), when the request could
	// be admitted.
	Limit      backend.Limit
	Remaining  int64
	RetryAfter time.Duration
	// Cost is the units the request asked for.
	Cost int64
	// Duration is the time the shared backend took to decide, a failed call
	// included; it is zero for a decision made in memory (well under a
	// microsecond, and not timed, to spare two clock reads) or from the
	// client-side cache. Cached reports a shared store's decision made
	// without a round trip, from its client-side cache.
	Duration time.Duration
	Cached   bool
}

// BreakerEvent describes a change of the shared backend's breaker to the
// hook of WithBreakerHook.
type BreakerEvent struct {
	// State is "open" (requests go to the failure mode), "half-open" (a
	// probe is checking whether the backend is back) or "closed" (the
	// backend decides again).
	State string
	// Slot is the Redis Cluster hash slot whose breaker changed, or -1 for
	// the whole backend's.
	Slot int
	// Error is the failure that opened the breaker, without credentials.
	Error string
	// DownFor is, for "closed", how long the backend was unavailable.
	DownFor time.Duration
}

// WithDecisionHook calls hook with an Event for every decision, after the
// decision, outside every lock. hook must be fast and must not block: it runs
// on the request's goroutine. An Event is passed by value, so a hook that
// keeps nothing costs no allocation. Decisions made by Peek are not
// reported.
func WithDecisionHook(hook func(Event)) Option {
	return limiterOption("WithDecisionHook", func(c *config) error {
		if hook == nil {
			return invalidf("WithDecisionHook(nil)", "the hook is nil")
		}
		c.hook = hook
		return nil
	})
}

// WithBreakerHook calls hook when the shared backend's breaker changes
// state: open (on a failure, and on each failed probe), half-open (a probe
// starts) and closed. A Redis Cluster whose nodes fail apart reports "open"
// with the first failed slot, and "closed" with the last one when every
// slot has recovered. It runs on the goroutine that saw the change, outside
// the breaker's lock, and must not block; events from different goroutines
// may arrive out of order. WithOnFallbackChange still reports the outage
// and the recovery of the whole backend once each.
func WithBreakerHook(hook func(BreakerEvent)) Option {
	return limiterOption("WithBreakerHook", func(c *config) error {
		if hook == nil {
			return invalidf("WithBreakerHook(nil)", "the hook is nil")
		}
		c.onBreaker = hook
		return nil
	})
}

// WithShadow turns shadow mode on or off, for the Limiter or, given to
// Limit or WithPolicy, for a route or a plan. In shadow mode a request the
// policy's limits would refuse (or a block would, WithPenalty) is admitted, with no 429 and no Retry-After, and is
// reported: Decision.Shadow and Event.Shadow are set, Stats.Shadowed counts
// it, and one log line per client and policy says so at most once until the
// refusal would have ended. It consumes nothing, as a refusal consumes
// nothing, so the requests admitted in shadow are exactly those enforcement
// would refuse. The failure mode is not the limits': FailClosed still
// answers 503 while the shared backend cannot decide. A penalty in shadow
// mode still blocks, as enforcement would, and the block outlasts shadow
// mode. Roll a new limit out in shadow, watch, then turn it off.
func WithShadow(on bool) Option {
	return routeOption("WithShadow", func(c *config) error {
		c.shadow = on
		return nil
	})
}

// maxShadowLogged bounds the clients whose shadow refusal has been logged
// and whose refusal has not ended: past it, the record starts afresh, and a
// client may be logged once more.
const maxShadowLogged = 10_000

// shadowLog remembers, per policy and client, until when a shadow refusal
// has been logged.
type shadowLog struct {
	mu     sync.Mutex
	logged map[string]time.Time
}

// shadow admits a refused request in shadow mode, counts it, and logs it
// once per client and policy until the refusal would have ended.
func (l *Limiter) shadow(d *Decision) {
	d.Allowed, d.Shadow = true, true
	l.stats.stripe().shadowed.Add(1)
	now := l.now()
	id := d.Policy + "\x00" + d.Key
	sl := &l.shadowLog
	sl.mu.Lock()
	if until, ok := sl.logged[id]; ok && now.Before(until) {
		sl.mu.Unlock()
		return
	}
	if sl.logged == nil || len(sl.logged) >= maxShadowLogged {
		sl.logged = make(map[string]time.Time)
	}
	sl.logged[id] = now.Add(max(d.RetryAfter, time.Second))
	sl.mu.Unlock()
	attrs := []any{"policy", d.Policy, "key", d.Key, "source", d.Source.String(),
		"retry_after", d.RetryAfter.Round(time.Millisecond).String()}
	if d.Limit != (backend.Limit{}) {
		attrs = append(attrs, "limit", d.Limit.String())
	}
	if d.Blocked {
		attrs = append(attrs, "blocked", true)
	}
	l.cfg.logger.Info("ginlimit: shadow mode admitted a request the limits refuse", attrs...)
}

// breakerEvent reports a change of a breaker to the hook, if any.
func (r *remote) breakerEvent(state string, slot int, errText string, downFor time.Duration) {
	if r.onBreaker != nil {
		r.onBreaker(BreakerEvent{State: state, Slot: slot, Error: errText, DownFor: downFor})
	}
}

// String describes the event, for logs and test failures.
func (e BreakerEvent) String() string {
	s := e.State
	if e.Slot >= 0 {
		s = fmt.Sprintf("%s (slot %d)", s, e.Slot)
	}
	if e.Error != "" {
		s += ": " + e.Error
	}
	return s
}
