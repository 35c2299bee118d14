package memory

import (
	"fmt"
	"time"
)

// Defaults of the options below.
const (
	DefaultMaxKeys       = 100_000
	DefaultSweepInterval = time.Minute
)

type config struct {
	maxKeys       int
	now           func() time.Time // nil: monotonicNanos
	clockSet      bool
	sweepInterval time.Duration
}

func defaultConfig() config {
	return config{
		maxKeys:       DefaultMaxKeys,
		sweepInterval: DefaultSweepInterval,
	}
}

// nanos returns the store's clock in Unix nanoseconds.
func (c config) nanos() func() int64 {
	if c.now == nil {
		return monotonicNanos()
	}
	now := c.now
	return func() int64 { return now().UnixNano() }
}

// monotonicNanos returns a clock that reads the wall time once, now, and then
// only the monotonic clock: one clock read per call instead of the two of
// time.Now, and windows that wall-clock steps (NTP, a changed system time)
// cannot move.
func monotonicNanos() func() int64 {
	base := time.Now()
	wall := base.UnixNano()
	return func() int64 { return wall + int64(time.Since(base)) }
}

func (c config) validate() error {
	switch {
	case c.maxKeys < 1:
		return fmt.Errorf("memory: WithMaxKeys(%d): the store must hold at least 1 key", c.maxKeys)
	case c.sweepInterval <= 0:
		return fmt.Errorf("memory: WithSweepInterval(%v): the interval must be positive", c.sweepInterval)
	case c.clockSet && c.now == nil:
		return fmt.Errorf("memory: WithClock(nil): the clock must not be nil")
	}
	return nil
}

// Option configures a Store.
type Option interface {
	apply(*config)
}

type maxKeysOption int

func (o maxKeysOption) apply(c *config) { c.maxKeys = int(o) }

// WithMaxKeys bounds the number of keys the store holds; n must be at least 1.
// The default is DefaultMaxKeys. A key with a policy of one or two limits takes
// about 130 bytes (a 64-byte entry in a table kept at most half full), and one
// of more limits about 260, so the default bounds the store to about 13 MB for
// the common policies.
//
// When a key must be added to a full store, an expired key is dropped if one is
// found cheaply, and otherwise the least recently used key: its counters are
// lost, so that key starts afresh. The store is split into shards, each with
// its own share of n, so a key may be evicted before the whole store holds n
// keys.
func WithMaxKeys(n int) Option { return maxKeysOption(n) }

type clockOption func() time.Time

func (o clockOption) apply(c *config) { c.now, c.clockSet = o, true }

// WithClock sets the function the store reads the time from; it must be safe
// for concurrent use. It is meant for tests. By default the store reads the
// wall clock once, when it is built, and the monotonic clock from then on:
// that is cheaper than time.Now, and wall-clock steps do not move its windows.
func WithClock(now func() time.Time) Option { return clockOption(now) }

type sweepIntervalOption time.Duration

func (o sweepIntervalOption) apply(c *config) { c.sweepInterval = time.Duration(o) }

// WithSweepInterval sets how often the store's background sweeper removes
// expired keys; d must be positive. The default is DefaultSweepInterval.
// Expired keys are treated as absent whether or not they have been swept, so
// the interval trades memory for sweeping work, never correctness.
func WithSweepInterval(d time.Duration) Option { return sweepIntervalOption(d) }
