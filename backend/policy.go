package backend

import (
	"fmt"
	"strings"
	"time"
)

// Strategy selects the algorithm a Backend uses for a Policy. The zero value is
// SlidingWindow.
type Strategy uint8

const (
	// SlidingWindow weighs the previous window's count by how much of it
	// still overlaps a sliding window ending now:
	//
	//	estimate = previous * (1 - elapsed/period) + current
	//
	// where windows are aligned to multiples of the period since the Unix
	// epoch and elapsed is the time since the current window began. It is
	// smooth at window edges and needs only two counters per limit.
	SlidingWindow Strategy = iota

	// FixedWindow counts exactly within a window that starts at the key's
	// first admitted request and lasts one period.
	FixedWindow

	// TokenBucket is GCRA: a bucket of Count tokens that refills at Count
	// per Period, so a full bucket admits a burst of Count at once.
	TokenBucket
)

var strategyNames = [...]string{
	SlidingWindow: "sliding-window",
	FixedWindow:   "fixed-window",
	TokenBucket:   "token-bucket",
}

// String returns the strategy's name: "sliding-window", "fixed-window" or
// "token-bucket".
func (s Strategy) String() string {
	if int(s) < len(strategyNames) {
		return strategyNames[s]
	}
	return fmt.Sprintf("Strategy(%d)", uint8(s))
}

// ParseStrategy reads a strategy name as String returns it.
func ParseStrategy(name string) (Strategy, error) {
	for s, n := range strategyNames {
		if strings.EqualFold(name, n) {
			return Strategy(s), nil
		}
	}
	return 0, fmt.Errorf("%w: unknown strategy %q (want %s)", ErrInvalidPolicy, name, strings.Join(strategyNames[:], ", "))
}

// Policy is what a decision is made against: a strategy and the limits that
// must all admit a request.
type Policy struct {
	Strategy Strategy
	Limits   []Limit
	// Penalty, if above zero, blocks a key for that long when one of its
	// requests is denied by the limits, in the same atomic decision (see
	// Controller.Block). It is not part of the policy's shape.
	Penalty time.Duration
}

// Validate reports whether p can be passed to Backend.Allow: a known strategy,
// one to MaxLimits valid limits, no two with the same period.
func (p Policy) Validate() error {
	if int(p.Strategy) >= len(strategyNames) {
		return fmt.Errorf("%w: unknown strategy %d", ErrInvalidPolicy, p.Strategy)
	}
	if err := validateLimits(p.Limits); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidPolicy, err)
	}
	if p.Penalty < 0 || p.Penalty > MaxPeriod || p.Penalty%time.Millisecond != 0 {
		return fmt.Errorf("%w: penalty %v is outside 0..%v or not a whole number of milliseconds", ErrInvalidPolicy, p.Penalty, MaxPeriod)
	}
	return nil
}
