// Package memory is a backend.Backend that keeps its counters in the memory of
// the process. It is ginlimit's default backend and its fallback when a shared
// backend such as Redis cannot be reached.
//
// Counters are not shared between processes: behind a load balancer, each
// instance applies the limits on its own.
package memory

import (
	"context"
	"fmt"
	"hash/maphash"
	"math/bits"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ginlimit/ginlimit/backend"
)

var (
	_ backend.Backend = (*Store)(nil)
	_ backend.Closer  = (*Store)(nil)
	_ backend.Namer   = (*Store)(nil)
)

// Store is an in-memory backend.Backend. It holds at most a fixed number of
// keys (see WithMaxKeys) and forgets each key once its limits no longer depend
// on its past.
//
// A Store is safe for concurrent use. Each decision is atomic: Allow locks the
// one shard that holds the key, so calls for different keys rarely contend.
// A decision for a key the store already holds does not allocate.
//
// A Store runs a goroutine that sweeps expired keys. WARNING: Close stops it;
// a Store dropped without Close leaks that goroutine.
type Store struct {
	shards    []shard
	shardMask uint64
	seeds     [2]maphash.Seed // for keyHash
	now       func() int64    // Unix nanoseconds

	closed    atomic.Bool
	closeOnce sync.Once
	stop      chan struct{}
	done      chan struct{}
}

// maxShards bounds the number of shards, and minShardKeys keeps each shard
// large enough that evicting its least recently used key is a fair
// approximation of evicting the store's.
const (
	maxShards    = 256
	minShardKeys = 16
)

// New returns a Store configured by opts and starts its sweeper. It returns an
// error if an option is out of range.
func New(opts ...Option) (*Store, error) {
	cfg := defaultConfig()
	for _, o := range opts {
		o.apply(&cfg)
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}

	n := shardCount(cfg.maxKeys)
	s := &Store{
		shards:    make([]shard, n),
		shardMask: uint64(n - 1),
		seeds:     [2]maphash.Seed{maphash.MakeSeed(), maphash.MakeSeed()},
		now:       cfg.nanos(),
		stop:      make(chan struct{}),
		done:      make(chan struct{}),
	}
	// Spread maxKeys over the shards so that their capacities add up to it
	// exactly and none is zero.
	for i := range s.shards {
		capacity := cfg.maxKeys / n
		if i < cfg.maxKeys%n {
			capacity++
		}
		s.shards[i].init(capacity)
	}
	go s.sweepEvery(cfg.sweepInterval)
	return s, nil
}

// shardCount returns the largest power of two up to maxShards that leaves each
// shard at least minShardKeys keys, or 1.
func shardCount(maxKeys int) int {
	n := maxShards
	for n > 1 && maxKeys/n < minShardKeys {
		n /= 2
	}
	return n
}

// Allow implements backend.Backend. It never blocks on ctx, which it ignores:
// a decision takes well under a microsecond. After Close it returns
// backend.ErrClosed.
//
// Allow returns an error rather than panicking if p or cost break the contract
// of backend.Backend in a way that would make the arithmetic fail.
func (s *Store) Allow(_ context.Context, key string, p backend.Policy, cost int64) (r backend.Result, err error) {
	if s.closed.Load() {
		return backend.Result{}, backend.ErrClosed
	}
	if err := checkCall(p, cost); err != nil {
		return backend.Result{}, err
	}

	h, sh := s.locate(key, p)
	now := s.now()
	sh.mu.Lock()
	i := sh.entry(h, p.Strategy, len(p.Limits), now)
	if until, blocked := sh.blockedUntil(h, now); blocked {
		// Denied whatever the counts, and nothing consumed.
		sh.entries[i].decide(&r, sh.counters(i), p.Limits, now, 0)
		r.Allowed, r.Blocked = false, true
		r.RetryAfter = time.Duration(until - now)
	} else {
		sh.entries[i].decide(&r, sh.counters(i), p.Limits, now, cost)
		if !r.Allowed && p.Penalty > 0 {
			sh.block(h, now+int64(p.Penalty), now)
			r.Blocked = true
			r.RetryAfter = max(r.RetryAfter, p.Penalty)
		}
	}
	sh.mu.Unlock()
	r.Now = time.Unix(0, now)
	return r, nil
}

// hash returns the hash of key under p's shape.
func (s *Store) hash(key string, p backend.Policy) keyHash {
	ph := policyHash(p)
	return keyHash{lo: maphash.String(s.seeds[0], key) ^ ph, hi: uint32(maphash.String(s.seeds[1], key) ^ bits.RotateLeft64(ph, 32))}
}

func errNegativeCost(cost int64) error { return fmt.Errorf("memory: cost %d is negative", cost) }

func errBlockDuration(d time.Duration) error {
	return fmt.Errorf("memory: block duration %v is outside (0, %v]", d, backend.MaxPeriod)
}

// policyHash mixes the shape of a policy (its strategy and periods, see
// backend.Backend) into a key's hash, so that each (key, shape) pair has
// counters of its own, whatever the Counts. Policies are the application's,
// not its clients', and the key hashes are seeded at random, so two pairs
// collide with probability about 2^-96.
//
// The strategy starts in the top two bits, which no valid Period reaches
// (backend.MaxPeriod), so that the first mix already tells strategies apart.
func policyHash(p backend.Policy) uint64 {
	h := (uint64(p.Strategy) + 1) << 62
	for _, l := range p.Limits {
		h = mix(h ^ uint64(l.Period))
	}
	return h
}

// mix is the finalizer of splitmix64: a bijection that spreads every input
// bit over the output.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// checkCall rejects what Policy.Validate would reject and could make Allow
// panic or divide by zero. It is cheap and never allocates on success.
func checkCall(p backend.Policy, cost int64) error {
	if cost < 0 {
		return errNegativeCost(cost)
	}
	if p.Strategy > backend.TokenBucket {
		return fmt.Errorf("memory: %w: unknown strategy %d", backend.ErrInvalidPolicy, p.Strategy)
	}
	if len(p.Limits) == 0 || len(p.Limits) > backend.MaxLimits {
		return fmt.Errorf("memory: %w: %d limits, want 1..%d", backend.ErrInvalidPolicy, len(p.Limits), backend.MaxLimits)
	}
	for _, l := range p.Limits {
		// Count >= 1 and Period >= Count keep a token bucket's emission
		// interval, Period/Count, at least one nanosecond; Count <= MaxCount
		// keeps counts within a counter's 32 bits.
		if l.Count < 1 || l.Count > backend.MaxCount || int64(l.Period) < l.Count {
			return fmt.Errorf("memory: %w: limit %d per %v", backend.ErrInvalidPolicy, l.Count, l.Period)
		}
	}
	return nil
}

// Close stops the sweeper and waits for it to return. Afterwards Allow returns
// backend.ErrClosed. Close is idempotent and always returns nil.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.closed.Store(true)
		close(s.stop)
		<-s.done
	})
	return nil
}

// Name returns "memory".
func (s *Store) Name() string { return "memory" }

// Len returns the number of keys the store holds, including expired keys that
// have not been swept yet.
func (s *Store) Len() int {
	n := 0
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		n += sh.count
		sh.mu.Unlock()
	}
	return n
}

// Evictions returns how many keys have been dropped, counters and all, to keep
// the store within its size (see WithMaxKeys). Keys removed because they had
// expired are not counted.
func (s *Store) Evictions() uint64 {
	var n uint64
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		n += sh.evictions
		sh.mu.Unlock()
	}
	return n
}

// sweepEvery removes expired keys every interval until Close.
func (s *Store) sweepEvery(interval time.Duration) {
	defer close(s.done)
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-ticker.C:
			s.sweep()
		}
	}
}

// sweep removes expired keys, locking one shard at a time so that decisions
// wait for at most one shard's sweep.
func (s *Store) sweep() {
	for i := range s.shards {
		select {
		case <-s.stop:
			return
		default:
		}
		sh := &s.shards[i]
		sh.mu.Lock()
		now := s.now()
		sh.removeExpired(now)
		sh.removeExpiredBlocks(now)
		sh.mu.Unlock()
	}
}
