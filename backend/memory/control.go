package memory

import (
	"context"
	"time"

	"github.com/ginlimit/ginlimit/backend"
)

// Blocks (backend.Controller) live apart from the entries, in a map of the
// shard that is empty unless some key is blocked: an entry stays one cache
// line, and a decision while nothing is blocked pays one length check. A
// block is keyed like an entry, by the key and the policy's shape, and
// outlives the entry's eviction.

// blockedUntil returns when the block of key ends, if it is blocked at now.
// The caller holds sh.mu.
func (sh *shard) blockedUntil(key keyHash, now int64) (int64, bool) {
	if len(sh.blocks) == 0 {
		return 0, false
	}
	until, ok := sh.blocks[key]
	if ok && now >= until {
		delete(sh.blocks, key)
		return 0, false
	}
	return until, ok
}

// block blocks key until until. A shard holds at most as many blocks as
// entries: past that, an expired block goes, or else any other. The caller
// holds sh.mu.
func (sh *shard) block(key keyHash, until, now int64) {
	if sh.blocks == nil {
		sh.blocks = make(map[keyHash]int64)
	}
	if _, ok := sh.blocks[key]; !ok && len(sh.blocks) >= sh.capacity {
		victim, found := keyHash{}, false
		for k, u := range sh.blocks {
			victim, found = k, true
			if now >= u {
				break
			}
		}
		if found {
			if now < sh.blocks[victim] {
				sh.evictions++
			}
			delete(sh.blocks, victim)
		}
	}
	sh.blocks[key] = until
}

// removeExpiredBlocks drops the blocks that have ended. The caller holds
// sh.mu.
func (sh *shard) removeExpiredBlocks(now int64) {
	for k, until := range sh.blocks {
		if now >= until {
			delete(sh.blocks, k)
		}
	}
}

// locate returns the hash of key under p's shape and its shard.
func (s *Store) locate(key string, p backend.Policy) (keyHash, *shard) {
	h := s.hash(key, p)
	return h, &s.shards[uint64(h.hi)&s.shardMask]
}

// Reset implements backend.Controller.
func (s *Store) Reset(_ context.Context, key string, p backend.Policy) error {
	if err := s.checkControl(p); err != nil {
		return err
	}
	h, sh := s.locate(key, p)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if i := sh.lookup(h); i != none {
		sh.remove(i)
	}
	delete(sh.blocks, h)
	return nil
}

// Block implements backend.Controller.
func (s *Store) Block(_ context.Context, key string, p backend.Policy, d time.Duration) error {
	if err := s.checkControl(p); err != nil {
		return err
	}
	if d <= 0 || d > backend.MaxPeriod {
		return errBlockDuration(d)
	}
	h, sh := s.locate(key, p)
	now := s.now()
	sh.mu.Lock()
	defer sh.mu.Unlock()
	sh.block(h, now+int64(d), now)
	return nil
}

// Unblock implements backend.Controller.
func (s *Store) Unblock(_ context.Context, key string, p backend.Policy) error {
	if err := s.checkControl(p); err != nil {
		return err
	}
	h, sh := s.locate(key, p)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	delete(sh.blocks, h)
	return nil
}

// Refund implements backend.Controller.
func (s *Store) Refund(_ context.Context, key string, p backend.Policy, cost int64) error {
	if err := s.checkControl(p); err != nil {
		return err
	}
	if cost < 0 {
		return errNegativeCost(cost)
	}
	h, sh := s.locate(key, p)
	now := s.now()
	sh.mu.Lock()
	defer sh.mu.Unlock()
	i := sh.lookup(h)
	if i == none {
		return nil
	}
	e := &sh.entries[i]
	if now >= e.expiry || e.strategy != p.Strategy || int(e.limits) != len(p.Limits) {
		return nil // nothing counted that still counts
	}
	counters := sh.counters(i)
	for j, l := range p.Limits {
		e.refund(&counters[j], l, now, cost)
	}
	return nil
}

// refund gives back cost units of l, never below zero.
func (e *entry) refund(c *counter, l backend.Limit, now, cost int64) {
	switch e.strategy {
	case backend.FixedWindow:
		if c.fixedUsed(l, now) > 0 {
			c.curr = int32(max(0, int64(c.curr)-cost))
		}
	case backend.TokenBucket:
		if c.at > now {
			c.at = max(now, c.at-cost*emission(l))
		}
	default:
		c.slide(l, now)
		fromCurr := min(int64(c.curr), cost)
		c.curr -= int32(fromCurr)
		c.prev = int32(max(0, int64(c.prev)-(cost-fromCurr)))
	}
}

func (s *Store) checkControl(p backend.Policy) error {
	if s.closed.Load() {
		return backend.ErrClosed
	}
	return checkCall(p, 0)
}
