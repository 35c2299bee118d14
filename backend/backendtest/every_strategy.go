package backendtest

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ginlimit/ginlimit/backend"
)

// everyStrategy are the tests that run once for each strategy.
var everyStrategy = []test{
	{"AdmitsCountThenDenies", testAdmitsCountThenDenies},
	{"DenialConsumesNothing", testDenialConsumesNothing},
	{"RetryAfterIsExact", testRetryAfterIsExact},
	{"AllLimitsMustAdmit", testAllLimitsMustAdmit},
	{"LimitsAgreeWithEachAlone", testLimitsAgreeWithEachAlone},
	{"CostAboveOne", testCostAboveOne},
	{"CostAboveCount", testCostAboveCount},
	{"CostZero", testCostZero},
	{"KeysAreIndependent", testKeysAreIndependent},
	{"ExactUnderConcurrency", testExactUnderConcurrency},
	{"PoliciesAreIndependent", testPoliciesAreIndependent},
	{"CountsFollowTheShape", testCountsFollowTheShape},
}

func testAdmitsCountThenDenies(t *testing.T, s suite) {
	tests := []struct {
		name string
		give string
	}{
		{name: "OnePerSecond", give: "1/second"},
		{name: "FivePerMinute", give: "5/minute"},
		{name: "HundredPerHour", give: "100/hour"},
		{name: "ThreePerWeek", give: "3/7 days"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := s.env(t)
			p, key := e.policy(tt.give), e.key("k")
			count := p.Limits[0].Count

			for i := range count {
				r := e.admit(key, p, 1)
				require.Equal(t, count-1-i, r.States[0].Remaining, "Remaining after %d admitted", i+1)
			}
			r := e.deny(key, p, 1)
			require.Zero(t, r.States[0].Remaining, "Remaining when denied")
		})
	}
}

// testDenialConsumesNothing sends the same admitted requests for two keys, and
// many denied ones for one of them only: both must see the same results.
func testDenialConsumesNothing(t *testing.T, s suite) {
	e := s.env(t)
	p := e.policy("4/minute")
	quiet, noisy := e.key("quiet"), e.key("noisy")

	for step := range 20 {
		quietAdmitted, quietDenial := e.admitAll(quiet, p, 1)
		noisyAdmitted, noisyDenial := e.admitAll(noisy, p, 1)
		for range 50 {
			e.deny(noisy, p, 1)
		}
		e.deny(noisy, p, 3)
		e.deny(noisy, p, 5) // more than the limit's count

		require.Equal(t, quietAdmitted, noisyAdmitted, "admitted at step %d", step)
		requireSameResult(t, quietDenial, noisyDenial, "denial at step %d", step)
		e.clock.Advance(7 * time.Second)
	}
}

func testRetryAfterIsExact(t *testing.T, s suite) {
	tests := []struct {
		name string
		give string
		cost int64
	}{
		{name: "OnePerSecond", give: "1/second", cost: 1},
		{name: "FivePerMinute", give: "5/minute", cost: 1},
		{name: "FivePerMinuteCostTwo", give: "5/minute", cost: 2},
		{name: "CostIsCount", give: "3/minute", cost: 3},
		{name: "SevenPerHourCostThree", give: "7/hour", cost: 3},
		{name: "TwoLimits", give: "2/second;5/minute", cost: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := s.env(t)
			p, key := e.policy(tt.give), e.key("k")
			for range 10 {
				_, denial := e.admitAll(key, p, tt.cost)
				e.requireRetryAfterExact(key, p, tt.cost, denial)
			}
		})
	}
}

func testAllLimitsMustAdmit(t *testing.T, s suite) {
	e := s.env(t)
	p, key := e.policy("2/second;5/minute"), e.key("k")

	require.Equal(t, []int64{1, 4}, remaining(p, e.admit(key, p, 1)))
	require.Equal(t, []int64{0, 3}, remaining(p, e.admit(key, p, 1)))

	// The second limit denies; the minute limit keeps its 3.
	denial := e.deny(key, p, 1)
	require.Equal(t, []int64{0, 3}, remaining(p, denial))
	requireSameResult(t, backend.Result{Allowed: true, States: denial.States}, e.admit(key, p, 0),
		"asking after the denial")

	e.requireRetryAfterExact(key, p, 1, denial)
	require.Equal(t, int64(2), e.admit(key, p, 0).States[1].Remaining, "minute limit's Remaining")

	// Once the second limit has refilled, two more exhaust the minute limit.
	e.clock.Advance(2 * time.Second)
	require.Equal(t, []int64{1, 1}, remaining(p, e.admit(key, p, 1)))
	require.Equal(t, []int64{0, 0}, remaining(p, e.admit(key, p, 1)))

	// Now the minute limit denies; the second limit keeps its 2.
	e.clock.Advance(2 * time.Second)
	denial = e.deny(key, p, 1)
	require.Equal(t, []int64{2, 0}, remaining(p, denial))
	require.Greater(t, denial.RetryAfter, time.Second, "RetryAfter is the minute limit's")
	require.Equal(t, []int64{2, 0}, remaining(p, e.admit(key, p, 0)), "asking after the denial")
	e.requireRetryAfterExact(key, p, 1, denial)
}

// testLimitsAgreeWithEachAlone runs a policy of several limits beside one key
// per limit holding that limit alone, sending the alone keys only what the
// policy admitted. States[i] must be the i-th alone key's state, a denial's
// RetryAfter the longest wait among the alone keys that deny, and nothing may
// be consumed on a denial, or the keys would drift apart.
func testLimitsAgreeWithEachAlone(t *testing.T, s suite) {
	tests := []struct {
		name string
		give string
	}{
		{name: "ShortFirst", give: "2/second;5/minute"},
		{name: "LongFirst", give: "5/minute;2/second"},
		{name: "Three", give: "1/second;3/10 seconds;6/minute"},
	}
	steps := []time.Duration{150 * time.Millisecond, 400 * time.Millisecond, 1100 * time.Millisecond, 7 * time.Second}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := s.env(t)
			p, key := e.policy(tt.give), e.key("all")
			alone := make([]backend.Policy, len(p.Limits))
			aloneKeys := make([]string, len(p.Limits))
			for i, l := range p.Limits {
				alone[i] = backend.Policy{Strategy: p.Strategy, Limits: []backend.Limit{l}}
				aloneKeys[i] = e.key(l.String())
			}

			var admitted, denied int
			for step := 0; e.since() < 3*time.Minute; step++ {
				r := e.allow(key, p, 1)
				if r.Allowed {
					admitted++
					for i := range p.Limits {
						a := e.admit(aloneKeys[i], alone[i], 1)
						requireSameState(t, a.States[0], r.States[i], "States[%d] at step %d", i, step)
					}
					e.clock.Advance(steps[step%len(steps)])
					continue
				}

				denied++
				var wait time.Duration
				for i := range p.Limits {
					a := e.admit(aloneKeys[i], alone[i], 0)
					requireSameState(t, a.States[0], r.States[i], "States[%d] at step %d", i, step)
					if a.States[0].Remaining < 1 {
						wait = max(wait, e.deny(aloneKeys[i], alone[i], 1).RetryAfter)
					}
				}
				require.Equal(t, wait, r.RetryAfter, "RetryAfter at step %d", step)
				e.clock.Advance(r.RetryAfter)
			}
			require.Positive(t, admitted)
			require.Positive(t, denied)
		})
	}
}

func testCostAboveOne(t *testing.T, s suite) {
	e := s.env(t)
	p, key := e.policy("5/minute"), e.key("k")

	require.Equal(t, int64(2), e.admit(key, p, 3).States[0].Remaining)
	require.Equal(t, int64(2), e.deny(key, p, 3).States[0].Remaining)
	require.Equal(t, int64(0), e.admit(key, p, 2).States[0].Remaining)
	e.deny(key, p, 1)
}

func testCostAboveCount(t *testing.T, s suite) {
	tests := []struct {
		name string
		give string
		cost int64
		want time.Duration
	}{
		{name: "OneLimit", give: "5/minute", cost: 6, want: time.Minute},
		{name: "OtherLimitAdmits", give: "5/minute;100/hour", cost: 6, want: time.Minute},
		{name: "ShortLimitTooSmall", give: "2/second;50/minute", cost: 3, want: time.Second},
		{name: "BothTooSmall", give: "2/second;5/minute", cost: 6, want: time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := s.env(t)
			p, key := e.policy(tt.give), e.key("k")
			counts := make([]int64, len(p.Limits))
			for i, l := range p.Limits {
				counts[i] = l.Count
			}

			for _, wait := range []time.Duration{0, tt.want, 24 * time.Hour} {
				e.clock.Advance(wait)
				r := e.deny(key, p, tt.cost)
				require.Equal(t, tt.want, r.RetryAfter, "RetryAfter after %v", wait)
				require.Equal(t, counts, remaining(p, r), "Remaining after %v", wait)
			}
			r := e.admit(key, p, 1)
			for i := range counts {
				counts[i]--
			}
			require.Equal(t, counts, remaining(p, r), "Remaining after admitting cost 1")
		})
	}
}

func testCostZero(t *testing.T, s suite) {
	e := s.env(t)
	p, key := e.policy("3/minute;10/hour"), e.key("k")

	require.Equal(t, []int64{3, 10}, remaining(p, e.admit(key, p, 0)), "asking a new key")
	for range 3 {
		e.admit(key, p, 1)
	}
	for range 5 {
		require.Equal(t, []int64{0, 7}, remaining(p, e.admit(key, p, 0)), "asking an exhausted key")
	}
	e.deny(key, p, 1)
}

func testKeysAreIndependent(t *testing.T, s suite) {
	e := s.env(t)
	p := e.policy("2/minute")
	a, b, c := e.key("a"), e.key("b"), e.key("c")

	admitted, _ := e.admitAll(a, p, 1)
	require.Equal(t, 2, admitted, "admitted for a")
	admitted, _ = e.admitAll(b, p, 1)
	require.Equal(t, 2, admitted, "admitted for b after a")
	e.deny(a, p, 1)
	require.Equal(t, int64(1), e.admit(c, p, 1).States[0].Remaining, "Remaining for c")
}

// testExactUnderConcurrency starts many goroutines at once, each sending one
// request for the same key while the clock stands still: exactly the limit's
// count must be admitted.
func testExactUnderConcurrency(t *testing.T, s suite) {
	const (
		goroutines = 10_000
		count      = 100
	)
	e := s.env(t)
	p, key := e.policy("100/hour"), e.key("k")

	var (
		admitted atomic.Int64
		wg       sync.WaitGroup
		begin    = make(chan struct{})
	)
	for range goroutines {
		wg.Go(func() {
			<-begin
			r, err := e.b.Allow(t.Context(), key, p, 1)
			if assert.NoError(t, err) && r.Allowed {
				admitted.Add(1)
			}
		})
	}
	close(begin)
	wg.Wait()

	require.Equal(t, int64(count), admitted.Load(), "admitted by %d goroutines", goroutines)
	e.deny(key, p, 1)
}

// testPoliciesAreIndependent sends one key several policies of different
// shapes, interleaved: a backend counts each (key, shape) pair apart, so no
// policy can reset another's counts, and each admits exactly its own count.
func testPoliciesAreIndependent(t *testing.T, s suite) {
	e := s.env(t)
	key := e.key("k")
	other := backend.FixedWindow
	if s.strategy == other {
		other = backend.TokenBucket
	}
	policies := []backend.Policy{
		e.policy("2/minute"),
		e.policy("3/hour"),
		e.policyOf(other, "2/minute"),
		e.policy("2/minute;10/hour"),
		e.policy("10/hour;2/minute"), // the same limits in another order
	}
	wants := []int{2, 3, 2, 2, 2}
	admitted := make([]int, len(policies))
	for range 4 {
		for i, p := range policies {
			if e.allow(key, p, 1).Allowed {
				admitted[i]++
			}
		}
	}
	assert.Equal(t, wants, admitted, "admitted per policy, interleaved on one key")
}

// testCountsFollowTheShape moves one key between policies of one shape and
// other Counts, as a client changes plans: the units it used stay used. A
// window keeps its count of units; a token bucket keeps its debt in time,
// which is the share of its capacity used, so that a faster plan refills it
// at its own rate.
func testCountsFollowTheShape(t *testing.T, s suite) {
	e := s.env(t)
	key := e.key("k")
	for range 3 {
		e.admit(key, e.policy("5/minute"), 1)
	}
	n, _ := e.admitAll(key, e.policy("4/minute"), 1)
	assert.Equal(t, 1, n, "admitted by 4/minute after 3 units of 5/minute")
	// Windows: 4 units used of 10. Token bucket: 3 tokens of 12 s and one of
	// 15 s make 51 s of debt, 85% of a minute: 1.5 tokens of 10 left.
	want := 6
	if s.strategy == backend.TokenBucket {
		want = 1
	}
	n, _ = e.admitAll(key, e.policy("10/minute"), 1)
	assert.Equal(t, want, n, "admitted by 10/minute after 4 units")
	n, _ = e.admitAll(key, e.policy("4/hour"), 1)
	assert.Equal(t, 4, n, "admitted by 4/hour, of another shape")
}
