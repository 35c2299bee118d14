package httplimit

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/ginlimit/ginlimit/backend/redis"
)

// slotProbeBackoffMax bounds the wait between probes of a cluster's slot:
// a replica is promoted within seconds, and a probe is a request that goes
// to Redis, so a slot returns to Redis at most this long after its keys are
// served again.
const slotProbeBackoffMax = 2 * time.Second

// slotBreakers are the circuit breakers of a Redis Cluster's hash slots. A
// cluster fails one master at a time, and a master serves only its own
// slots, so a failed call opens the breaker of its key's slot alone: the
// keys of other slots are still decided in Redis, exactly. A request on an
// open slot is decided by the failure mode, except one a probe is due for:
// it is sent to Redis as the probe, routed by the client to whichever node
// serves the slot now (the client follows the cluster's topology, so after
// a replica's promotion the probe reaches it), and its success closes the
// slot. A probe is a keyed call, never a PING, which a cluster client sends
// to any node, a dead seed included.
type slotBreakers struct {
	open atomic.Int32 // open slots; zero spares a request the slot's lookup

	mu    sync.Mutex
	slots map[uint16]*breaker // the open ones
	since time.Time           // when the first of them opened
}

// get returns key's slot and its open breaker, or nil when it is closed.
func (s *slotBreakers) get(key string) (uint16, *breaker) {
	if s.open.Load() == 0 {
		return 0, nil
	}
	slot := redis.Slot(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	return slot, s.slots[slot]
}

// trip opens the breaker of slot after a failure. It reports whether it is
// the first slot to open, when the cluster was whole before.
func (s *slotBreakers) trip(slot uint16, now time.Time, errText string) (first bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.slots[slot]
	if b == nil {
		if s.slots == nil {
			s.slots = make(map[uint16]*breaker)
		}
		b = &breaker{maxBackoff: slotProbeBackoffMax}
		s.slots[slot] = b
		s.open.Store(int32(len(s.slots)))
		if len(s.slots) == 1 {
			s.since, first = now, true
		}
	}
	b.trip(now, errText)
	return first
}

// probed records the outcome of slot's probe. It reports whether the last
// open slot closed, and how long some slot had been open.
func (s *slotBreakers) probed(slot uint16, b *breaker, now time.Time, errText string) (whole bool, downFor time.Duration) {
	if closed, _ := b.probed(now, errText); !closed {
		return false, 0
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.slots[slot] != b {
		return false, 0
	}
	delete(s.slots, slot)
	s.open.Store(int32(len(s.slots)))
	if len(s.slots) > 0 {
		return false, 0
	}
	return true, now.Sub(s.since)
}

// state returns how many slots are open, since when, and the last error
// of one of them.
func (s *slotBreakers) state() (open int, since time.Time, lastErr string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, b := range s.slots {
		if st := b.state(); st.lastErr != "" {
			lastErr = st.lastErr
			break
		}
	}
	return len(s.slots), s.since, lastErr
}
