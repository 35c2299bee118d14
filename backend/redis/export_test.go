package redis

import "time"

// WithLocalClock makes local the Store's own clock, from which it follows
// the server's, so that tests can give instances clocks that disagree.
func WithLocalClock(local func() time.Time) Option {
	return func(c *config) error {
		c.local = local
		return nil
	}
}

// ServerClockBound returns the bound of the Store's calibration of the
// server's clock, and false before one.
func (s *Store) ServerClockBound() (time.Duration, bool) {
	if s.server == nil {
		return 0, false
	}
	return s.server.Bound()
}
