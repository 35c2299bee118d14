package redis

import (
	"time"

	"github.com/ginlimit/ginlimit/backend"
)

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

// Waiting returns how many requests for key under p wait for the decision
// in flight, to be sent together.
func (s *Store) Waiting(key string, p backend.Policy) int64 {
	s.hot.mu.Lock()
	defer s.hot.mu.Unlock()
	if b := s.hot.keys[Key(key, p)]; b != nil {
		return b.n
	}
	return 0
}

// InFlight reports whether a decision for key under p is in flight.
func (s *Store) InFlight(key string, p backend.Policy) bool {
	s.hot.mu.Lock()
	defer s.hot.mu.Unlock()
	_, ok := s.hot.keys[Key(key, p)]
	return ok
}
