package httplimit

import (
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"
)

// Probe backoff: the first probe after a failure comes after probeBackoffMin,
// each failed probe doubles the wait, up to probeBackoffMax, with up to a
// fifth of jitter so that instances do not probe in step.
const (
	probeBackoffMin = 250 * time.Millisecond
	probeBackoffMax = 30 * time.Second
)

// breaker is the circuit breaker in front of the shared backend. Closed,
// decisions go to the backend. Open, they go to the failure mode, and a
// probe is due at next: the first request (or background tick) after it
// starts one, and the probe's success closes the breaker.
type breaker struct {
	isOpen atomic.Bool // read on every request without the lock

	mu       sync.Mutex
	probing  bool
	failures int       // failed probes, and re-openings soon after a close
	next     time.Time // when the next probe is due
	since    time.Time // when the breaker opened
	closedAt time.Time // when it last closed
	lastErr  string    // the last failure, masked

	// maxBackoff bounds the wait between probes; zero is probeBackoffMax.
	maxBackoff time.Duration
}

// Breaker states, as Status reports them.
const (
	breakerClosed   = "closed"
	breakerOpen     = "open"
	breakerHalfOpen = "half-open"
)

func (b *breaker) open() bool { return b.isOpen.Load() }

// trip opens the breaker after a failure, and reports whether it was closed.
func (b *breaker) trip(now time.Time, errText string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.lastErr = errText
	if b.isOpen.Load() {
		return false
	}
	b.isOpen.Store(true)
	b.since = now
	// A server that answers PING but fails decisions (out of memory, a
	// read-only replica) reopens the breaker right after each probe: keep
	// the backoff growing instead of probing it every quarter second.
	if now.Sub(b.closedAt) < probeBackoffMax {
		b.failures++
	} else {
		b.failures = 0
	}
	b.next = now.Add(backoff(b.failures, b.maxBackoff))
	return true
}

// probeDue reports whether a probe should start now, and if so marks one as
// running: only one runs at a time.
func (b *breaker) probeDue(now time.Time) bool {
	if !b.isOpen.Load() {
		return false
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.probing || now.Before(b.next) {
		return false
	}
	b.probing = true
	return true
}

// probed records a probe's outcome. It returns whether the breaker closed,
// and for how long it had been open.
func (b *breaker) probed(now time.Time, errText string) (closed bool, downFor time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.probing = false
	if errText != "" {
		b.lastErr = errText
		b.failures++
		b.next = now.Add(backoff(b.failures, b.maxBackoff))
		return false, 0
	}
	if !b.isOpen.Load() {
		return false, 0
	}
	b.isOpen.Store(false)
	b.closedAt = now
	return true, now.Sub(b.since)
}

// abandonProbe ends a probe that proved nothing, such as a request its
// client cancelled: the next one is due at once.
func (b *breaker) abandonProbe() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.probing = false
}

// retryIn returns the time until the next probe, for Retry-After.
func (b *breaker) retryIn(now time.Time) time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	return max(b.next.Sub(now), 0)
}

// breakerState is what Status shows of a breaker.
type breakerState struct {
	state   string
	since   time.Time // zero when closed
	lastErr string
}

func (b *breaker) state() breakerState {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := breakerState{state: breakerClosed, lastErr: b.lastErr}
	if b.isOpen.Load() {
		s.state, s.since = breakerOpen, b.since
		if b.probing {
			s.state = breakerHalfOpen
		}
	}
	return s
}

// backoff returns the wait before the probe that follows failures failed
// ones, at most limit (probeBackoffMax when zero).
func backoff(failures int, limit time.Duration) time.Duration {
	if limit == 0 {
		limit = probeBackoffMax
	}
	d := limit
	if failures < 8 {
		d = min(probeBackoffMin<<failures, limit)
	}
	return d - time.Duration(rand.Int64N(int64(d/5)))
}
