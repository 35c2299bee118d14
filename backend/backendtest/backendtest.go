// Package backendtest is the conformance suite that every backend.Backend must
// pass. A backend's test is then a few lines:
//
//	func TestConformance(t *testing.T) {
//		backendtest.Run(t, func(t *testing.T, now func() time.Time) backend.Backend {
//			s, err := memory.New(memory.WithClock(now))
//			require.NoError(t, err)
//			t.Cleanup(func() { s.Close() })
//			return s
//		})
//	}
//
// The suite drives time with a Clock, so it never sleeps. It is exact except
// where a backend that counts whole milliseconds, such as Redis, cannot be:
// a RetryAfter is checked by a denial one millisecond before it ends and an
// admission when it ends, and a Reset may be off by up to a millisecond.
package backendtest

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ginlimit/ginlimit/backend"
)

// Factory returns a fresh, empty backend whose time comes from now. It
// registers its own cleanup (t.Cleanup) to close the backend.
type Factory func(t *testing.T, now func() time.Time) backend.Backend

// Run runs the whole suite as subtests of t, grouped by strategy, each with a
// fresh backend from newBackend and a fresh Clock. Subtests use distinct keys,
// so backends that share a server between subtests pass too.
func Run(t *testing.T, newBackend Factory) {
	for _, s := range strategies {
		t.Run(s.String(), func(t *testing.T) {
			for _, tc := range slices.Concat(everyStrategy, byStrategy[s], controlTests) {
				t.Run(tc.name, func(t *testing.T) {
					tc.run(t, suite{newBackend: newBackend, strategy: s})
				})
			}
		})
	}
}

var strategies = []backend.Strategy{backend.FixedWindow, backend.SlidingWindow, backend.TokenBucket}

// test is one conformance test, run for one strategy.
type test struct {
	name string
	run  func(t *testing.T, s suite)
}

// start is where every clock starts unless a test sets it on purpose. It is
// aligned to neither a second nor a minute, so a backend that aligns windows
// it should not, or fails to align those it should, is caught.
var start = time.Date(2026, time.January, 1, 0, 0, 17, 250*int(time.Millisecond), time.UTC)

// resetTolerance is how far a reported Reset may be from the exact value.
const resetTolerance = time.Millisecond

// suite is what a test needs to make its environments.
type suite struct {
	newBackend Factory
	strategy   backend.Strategy
}

// env returns a fresh backend, with a fresh clock at start, for t.
func (s suite) env(t *testing.T) *env {
	t.Helper()
	clock := NewClock(start)
	return &env{t: t, b: s.newBackend(t, clock.Now), clock: clock, strategy: s.strategy}
}

// env is one backend under test, its clock, and helpers that check every
// result they see.
type env struct {
	t        *testing.T
	b        backend.Backend
	clock    *Clock
	strategy backend.Strategy
}

// key returns a key unique to the test and name.
func (e *env) key(name string) string { return "backendtest/" + e.t.Name() + "/" + name }

// policy returns a policy of the env's strategy with limits in the notation of
// backend.ParseLimits.
func (e *env) policy(limits string) backend.Policy {
	return e.policyOf(e.strategy, limits)
}

func (e *env) policyOf(s backend.Strategy, limits string) backend.Policy {
	e.t.Helper()
	parsed, err := backend.ParseLimits(limits)
	require.NoError(e.t, err)
	p := backend.Policy{Strategy: s, Limits: parsed}
	require.NoError(e.t, p.Validate())
	return p
}

// at sets the clock to d after start.
func (e *env) at(d time.Duration) { e.clock.Set(start.Add(d)) }

// allow asks the backend and checks that the result is well formed.
func (e *env) allow(key string, p backend.Policy, cost int64) backend.Result {
	e.t.Helper()
	r, err := e.b.Allow(context.Background(), key, p, cost)
	require.NoError(e.t, err)
	requireWellFormed(e.t, p, r)
	require.WithinDuration(e.t, e.clock.Now(), r.Now, resetTolerance, "Result.Now")
	return r
}

// admit is allow that requires the request to be admitted.
func (e *env) admit(key string, p backend.Policy, cost int64) backend.Result {
	e.t.Helper()
	r := e.allow(key, p, cost)
	require.True(e.t, r.Allowed, "%s cost %d at %v: denied, want admitted", key, cost, e.since())
	return r
}

// deny is allow that requires the request to be denied.
func (e *env) deny(key string, p backend.Policy, cost int64) backend.Result {
	e.t.Helper()
	r := e.allow(key, p, cost)
	require.False(e.t, r.Allowed, "%s cost %d at %v: admitted, want denied", key, cost, e.since())
	return r
}

// admitAll sends requests until one is denied, and returns how many were
// admitted and the denial.
func (e *env) admitAll(key string, p backend.Policy, cost int64) (int, backend.Result) {
	e.t.Helper()
	const most = 100_000 // more means the backend never denies
	for admitted := range most {
		if r := e.allow(key, p, cost); !r.Allowed {
			return admitted, r
		}
	}
	require.FailNow(e.t, "never denied", "%s: %d requests admitted", key, most)
	return 0, backend.Result{}
}

// requireRetryAfterExact checks a denial r, just received, against its
// RetryAfter: the request is denied a millisecond before RetryAfter ends and
// admitted when it ends. It leaves the clock there.
func (e *env) requireRetryAfterExact(key string, p backend.Policy, cost int64, r backend.Result) {
	e.t.Helper()
	require.False(e.t, r.Allowed)
	deniedAt := e.clock.Now()
	if r.RetryAfter > time.Millisecond {
		e.clock.Set(deniedAt.Add(r.RetryAfter - time.Millisecond))
		early := e.deny(key, p, cost)
		require.Equal(e.t, time.Millisecond, early.RetryAfter, "RetryAfter 1ms before the end of %v", r.RetryAfter)
	}
	e.clock.Set(deniedAt.Add(r.RetryAfter))
	e.admit(key, p, cost)
}

// since returns the clock's time as an offset from start, for messages.
func (e *env) since() time.Duration { return e.clock.Now().Sub(start) }

// requireWellFormed checks what holds for every result: RetryAfter is zero
// exactly when admitted, every state is within its limit, and states past the
// policy's limits are zero.
func requireWellFormed(t *testing.T, p backend.Policy, r backend.Result) {
	t.Helper()
	if r.Allowed {
		require.Zero(t, r.RetryAfter, "RetryAfter of an admitted request")
	} else {
		require.Positive(t, r.RetryAfter, "RetryAfter of a denied request")
	}
	for i, l := range p.Limits {
		st := r.States[i]
		require.GreaterOrEqual(t, st.Remaining, int64(0), "States[%d].Remaining for %v", i, l)
		require.LessOrEqual(t, st.Remaining, l.Count, "States[%d].Remaining for %v", i, l)
		require.GreaterOrEqual(t, st.Reset, time.Duration(0), "States[%d].Reset for %v", i, l)
		require.LessOrEqual(t, st.Reset, l.Period+resetTolerance, "States[%d].Reset for %v", i, l)
	}
	for i := len(p.Limits); i < backend.MaxLimits; i++ {
		require.Zero(t, r.States[i], "States[%d] past the policy's %d limits", i, len(p.Limits))
	}
}

// requireReset checks a Reset, allowing resetTolerance.
func requireReset(t *testing.T, want, got time.Duration, msgAndArgs ...any) {
	t.Helper()
	require.InDelta(t, float64(want), float64(got), float64(resetTolerance), msgAndArgs...)
}

// requireSameState checks that two states are equal, allowing resetTolerance
// on Reset.
func requireSameState(t *testing.T, want, got backend.LimitState, msgAndArgs ...any) {
	t.Helper()
	require.Equal(t, want.Remaining, got.Remaining, msgAndArgs...)
	requireReset(t, want.Reset, got.Reset, msgAndArgs...)
}

// requireSameResult checks that two results are equal, allowing
// resetTolerance on each Reset.
func requireSameResult(t *testing.T, want, got backend.Result, msgAndArgs ...any) {
	t.Helper()
	require.Equal(t, want.Allowed, got.Allowed, msgAndArgs...)
	require.Equal(t, want.RetryAfter, got.RetryAfter, msgAndArgs...)
	for i := range want.States {
		requireSameState(t, want.States[i], got.States[i], msgAndArgs...)
	}
}

// remaining returns the Remaining of each of p's limits in r.
func remaining(p backend.Policy, r backend.Result) []int64 {
	out := make([]int64, len(p.Limits))
	for i := range p.Limits {
		out[i] = r.States[i].Remaining
	}
	return out
}
