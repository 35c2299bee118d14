package backendtest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ginlimit/ginlimit/backend"
)

// byStrategy are the tests of what makes each strategy what it is: where its
// windows begin and end, and what its Reset means.
var byStrategy = map[backend.Strategy][]test{
	backend.FixedWindow: {
		{"WindowStartsAtFirstAdmittedHit", testFixedWindowStartsAtFirstAdmittedHit},
		{"ResetIsTimeToWindowEnd", testFixedWindowReset},
	},
	backend.SlidingWindow: {
		{"PreviousWindowIsWeighted", testSlidingWindowWeighsPreviousWindow},
		{"ResetIsTimeToAlignedWindowEnd", testSlidingWindowReset},
	},
	backend.TokenBucket: {
		{"RefillsOneTokenPerInterval", testTokenBucketRefills},
		{"ResetIsTimeUntilFull", testTokenBucketReset},
	},
}

func testFixedWindowStartsAtFirstAdmittedHit(t *testing.T, s suite) {
	e := s.env(t)
	p, key := e.policy("1/minute"), e.key("k")

	// Neither asking nor a denied request starts a window.
	e.admit(key, p, 0)
	e.deny(key, p, 2)

	e.at(10 * time.Second)
	requireReset(t, time.Minute, e.admit(key, p, 1).States[0].Reset, "Reset of the first hit")

	e.at(40 * time.Second)
	r := e.deny(key, p, 1)
	require.Equal(t, 30*time.Second, r.RetryAfter)
	requireReset(t, 30*time.Second, r.States[0].Reset)

	e.at(70*time.Second - time.Millisecond)
	require.Equal(t, time.Millisecond, e.deny(key, p, 1).RetryAfter)

	e.at(70 * time.Second)
	requireReset(t, time.Minute, e.admit(key, p, 1).States[0].Reset, "Reset of the next window's first hit")
	e.at(100 * time.Second)
	require.Equal(t, 30*time.Second, e.deny(key, p, 1).RetryAfter)

	// After an idle spell the window starts at the next hit, not at a multiple
	// of the period from the first.
	e.at(200 * time.Second)
	requireReset(t, time.Minute, e.admit(key, p, 1).States[0].Reset, "Reset after idling")
	e.at(260*time.Second - time.Millisecond)
	e.deny(key, p, 1)
	e.at(260 * time.Second)
	e.admit(key, p, 1)
}

func testFixedWindowReset(t *testing.T, s suite) {
	e := s.env(t)
	p, key := e.policy("5/minute"), e.key("k")

	requireReset(t, time.Minute, e.admit(key, p, 0).States[0].Reset, "Reset of a new key")
	requireReset(t, time.Minute, e.admit(key, p, 1).States[0].Reset, "Reset of the first hit")

	e.at(25 * time.Second)
	r := e.admit(key, p, 1)
	require.Equal(t, int64(3), r.States[0].Remaining)
	requireReset(t, 35*time.Second, r.States[0].Reset, "Reset 25s into the window")

	e.at(59*time.Second + 500*time.Millisecond)
	requireReset(t, 500*time.Millisecond, e.admit(key, p, 0).States[0].Reset, "Reset near the window's end")

	e.at(time.Minute)
	r = e.admit(key, p, 0)
	require.Equal(t, int64(5), r.States[0].Remaining, "Remaining once the window is over")
	requireReset(t, time.Minute, r.States[0].Reset, "Reset once the window is over")
}

func testSlidingWindowWeighsPreviousWindow(t *testing.T, s suite) {
	// Windows are aligned to the period, so this test sets the clock to
	// whole minutes on purpose.
	minute := time.Date(2026, time.January, 1, 0, 1, 0, 0, time.UTC)
	fill := func(e *env, key string, p backend.Policy) {
		e.t.Helper()
		e.clock.Set(minute.Add(5 * time.Second))
		admitted, _ := e.admitAll(key, p, 1)
		require.Equal(e.t, 10, admitted, "admitted in the first window")
	}

	tests := []struct {
		name      string
		giveAfter time.Duration // from the start of the first window
		want      int64         // admitted then
	}{
		{name: "HalfwayIntoNextWindow", giveAfter: 90 * time.Second, want: 5},
		{name: "ThreeQuartersIntoNextWindow", giveAfter: 105 * time.Second, want: 7},
		{name: "TwoWindowsLater", giveAfter: 120 * time.Second, want: 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := s.env(t)
			p, key := e.policy("10/minute"), e.key("k")
			fill(e, key, p)

			e.clock.Set(minute.Add(tt.giveAfter))
			require.Equal(t, tt.want, e.admit(key, p, 0).States[0].Remaining, "Remaining before")
			for i := range tt.want {
				r := e.admit(key, p, 1)
				require.Equal(t, tt.want-1-i, r.States[0].Remaining, "Remaining after %d admitted", i+1)
			}
			e.deny(key, p, 1)
		})
	}

	t.Run("AtBoundaryPreviousWeighsFully", func(t *testing.T) {
		e := s.env(t)
		p, key := e.policy("10/minute"), e.key("k")
		fill(e, key, p)

		e.clock.Set(minute.Add(time.Minute))
		r := e.deny(key, p, 1)
		require.Zero(t, r.States[0].Remaining)
		requireReset(t, time.Minute, r.States[0].Reset)
		// The estimate is 10*(60s-e)/60s: it is 9 at e = 6s.
		require.Equal(t, 6*time.Second, r.RetryAfter)
		e.requireRetryAfterExact(key, p, 1, r)
	})
}

func testSlidingWindowReset(t *testing.T, s suite) {
	tests := []struct {
		name      string
		give      string
		want      time.Duration // at start, 00:00:17.250
		wantLater time.Duration // 10s later
	}{
		{name: "Second", give: "1/second", want: 750 * time.Millisecond, wantLater: 750 * time.Millisecond},
		{name: "TenSeconds", give: "5/10 seconds", want: 2750 * time.Millisecond, wantLater: 2750 * time.Millisecond},
		{name: "Minute", give: "5/minute", want: 42750 * time.Millisecond, wantLater: 32750 * time.Millisecond},
		{name: "Hour", give: "2/hour", want: time.Hour - 17250*time.Millisecond, wantLater: time.Hour - 27250*time.Millisecond},
		{name: "Day", give: "3/day", want: 24*time.Hour - 17250*time.Millisecond, wantLater: 24*time.Hour - 27250*time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := s.env(t)
			p, key := e.policy(tt.give), e.key("k")

			requireReset(t, tt.want, e.admit(key, p, 0).States[0].Reset, "Reset of a new key")
			requireReset(t, tt.want, e.admit(key, p, 1).States[0].Reset, "Reset of the first hit")
			e.clock.Advance(10 * time.Second)
			requireReset(t, tt.wantLater, e.admit(key, p, 0).States[0].Reset, "Reset 10s later")
		})
	}
}

func testTokenBucketRefills(t *testing.T, s suite) {
	e := s.env(t)
	p, key := e.policy("5/minute"), e.key("k") // one token per 12s

	for i := range int64(5) {
		require.Equal(t, 4-i, e.admit(key, p, 1).States[0].Remaining, "Remaining after %d admitted", i+1)
	}
	require.Equal(t, 12*time.Second, e.deny(key, p, 1).RetryAfter, "RetryAfter of an empty bucket")

	e.at(6 * time.Second)
	require.Equal(t, 6*time.Second, e.deny(key, p, 1).RetryAfter, "RetryAfter half a token later")

	e.at(12 * time.Second)
	require.Zero(t, e.admit(key, p, 1).States[0].Remaining, "Remaining after one token refilled")
	require.Equal(t, 12*time.Second, e.deny(key, p, 1).RetryAfter)

	e.at(48 * time.Second)
	admitted, _ := e.admitAll(key, p, 1)
	require.Equal(t, 3, admitted, "admitted after 36s, three tokens")

	e.at(48*time.Second + 10*time.Minute)
	require.Equal(t, int64(5), e.admit(key, p, 0).States[0].Remaining, "Remaining of a full bucket")
	admitted, _ = e.admitAll(key, p, 1)
	require.Equal(t, 5, admitted, "admitted from a full bucket")
}

func testTokenBucketReset(t *testing.T, s suite) {
	e := s.env(t)
	p, key := e.policy("5/minute"), e.key("k") // one token per 12s

	requireReset(t, 0, e.admit(key, p, 0).States[0].Reset, "Reset of a new key")
	requireReset(t, 12*time.Second, e.admit(key, p, 1).States[0].Reset, "Reset after one token")
	requireReset(t, 36*time.Second, e.admit(key, p, 2).States[0].Reset, "Reset after three tokens")

	e.at(5 * time.Second)
	r := e.admit(key, p, 0)
	require.Equal(t, int64(2), r.States[0].Remaining, "Remaining 5s later")
	requireReset(t, 31*time.Second, r.States[0].Reset, "Reset 5s later")

	e.at(36 * time.Second)
	r = e.admit(key, p, 0)
	require.Equal(t, int64(5), r.States[0].Remaining, "Remaining once full")
	requireReset(t, 0, r.States[0].Reset, "Reset once full")
}
