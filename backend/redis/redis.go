// Package redis is a backend.Backend that keeps its counts in Redis, so that
// every instance of a service shares one limit.
//
// Each decision is one Lua script run (EVALSHA, falling back to EVAL after a
// restart): it checks every limit of the policy and consumes them only if all
// admit the request, decides at the server's time, never the instance's
// (followed by the Store from TIME, see clock.go, or read by the script on a
// Redis Cluster), and writes nothing when it denies. A policy's state is one hash
// per key (see Key), whose hash tag keeps each decision on one Redis Cluster
// slot.
//
// With client-side caching on (the default; see WithClientCache), a denied
// key is watched: its hash is read through the client's server-assisted cache,
// so that Redis sends an invalidation when the hash changes or expires, and
// while the hash is the one the denial saw and the denial still holds, the
// same request is denied locally, without a round trip. A Tracker (see
// WithTracker) delivers the invalidations to the Store as they arrive, so a
// watched key is then checked in memory alone (AllowLocal). A watch only
// ever confirms a denial; it never admits.
//
// The Store does not own the rueidis client, and sets no deadline of its own:
// callers put each call under a context deadline, and build the client with
// DisableRetry so that a failing server fails fast.
package redis

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/redis/rueidis"

	"github.com/ginlimit/ginlimit/backend"
)

// DefaultMaxWatched is how many denied keys a Store watches at most.
const DefaultMaxWatched = 10_000

//go:embed decide.lua
var decideSource string

var decide = rueidis.NewLuaScript(decideSource)

// Store is a Redis backend. It is safe for concurrent use.
type Store struct {
	client rueidis.Client
	now    func() time.Time // nil: the server's clock
	local  func() time.Time // the instance's clock: time.Now but in tests
	server *serverClock     // follows the server's clock; nil with now, or on a cluster
	hot    hotKeys          // concurrent decisions of one key, sent together
	watch  *watchList       // nil: client-side caching is off
	closed atomic.Bool
}

var (
	_ backend.Backend = (*Store)(nil)
	_ backend.Pinger  = (*Store)(nil)
	_ backend.Closer  = (*Store)(nil)
	_ backend.Namer   = (*Store)(nil)

	_ backend.LocalDecider = (*Store)(nil)
)

// An Option configures a Store.
type Option func(*config) error

type config struct {
	cache      bool
	maxWatched int
	now        func() time.Time
	local      func() time.Time // the instance's clock, which tests skew
	tracker    *Tracker
}

// WithClientCache turns the watching of denied keys through client-side
// caching on or off. It is on by default; turn it off when the client was
// built with DisableCache (servers without CLIENT TRACKING): there every cache
// read would be a round trip.
func WithClientCache(on bool) Option {
	return func(c *config) error {
		c.cache = on
		return nil
	}
}

// WithMaxWatched bounds the number of denied keys watched at once; past it,
// a new denial replaces an expired watch, or an arbitrary one. The default is
// DefaultMaxWatched.
func WithMaxWatched(n int) Option {
	return func(c *config) error {
		if n < 1 {
			return fmt.Errorf("redis: WithMaxWatched(%d): the bound must be at least 1", n)
		}
		c.maxWatched = n
		return nil
	}
}

// WithTracker makes the Store learn of changes to the keys it watches from t,
// which receives the client's invalidations (see Tracker), instead of
// reading each watched key through the client's cache at every check. A
// watched key is then denied in memory alone, and AllowLocal can decide it.
func WithTracker(t *Tracker) Option {
	return func(c *config) error {
		if t == nil {
			return errors.New("redis: WithTracker(nil): the tracker is nil")
		}
		c.tracker = t
		return nil
	}
}

// WithClock makes the Store read time from now instead of the server, for
// tests that drive time by hand. Keys still expire in the server's time.
func WithClock(now func() time.Time) Option {
	return func(c *config) error {
		if now == nil {
			return errors.New("redis: WithClock(nil): the clock is nil")
		}
		c.now = now
		return nil
	}
}

// New returns a Store that decides in client's server. The caller keeps
// ownership of client and closes it after the Store.
func New(client rueidis.Client, opts ...Option) (*Store, error) {
	if client == nil {
		return nil, errors.New("redis: the client is nil")
	}
	cfg := config{cache: true, maxWatched: DefaultMaxWatched}
	for _, o := range opts {
		if err := o(&cfg); err != nil {
			return nil, err
		}
	}
	s := &Store{client: client, now: cfg.now, local: cfg.local}
	if s.local == nil {
		s.local = time.Now
	}
	if cfg.now == nil && client.Mode() != rueidis.ClientModeCluster {
		s.server = newServerClock(client, s.local)
	}
	if cfg.cache {
		s.watch = newWatchList(client, cfg.maxWatched, cfg.tracker != nil)
		if cfg.tracker != nil && !cfg.tracker.list.CompareAndSwap(nil, s.watch) {
			return nil, errors.New("redis: WithTracker: the tracker serves another Store")
		}
	}
	return s, nil
}

// CheckPolicy reports whether the Store can decide p. Beyond what
// Policy.Validate checks, a token bucket in Redis counts whole microseconds,
// so it admits at most one unit a microsecond: at most 1,000,000 a second.
func CheckPolicy(p backend.Policy) error {
	if err := p.Validate(); err != nil {
		return err
	}
	if p.Strategy == backend.TokenBucket {
		for _, l := range p.Limits {
			if l.Period.Microseconds() < l.Count {
				return fmt.Errorf("redis: %w: token bucket %v admits more than one unit a microsecond", backend.ErrInvalidPolicy, l)
			}
		}
	}
	return nil
}

// Allow decides one request: see backend.Backend. It makes one round trip,
// or none for a watched key that is still denied; a first denial of a key
// makes a second one, to watch it. Requests for one key that come while a
// decision of that key is in flight wait for it and are then decided
// together, in one call (see hotKeys).
func (s *Store) Allow(ctx context.Context, key string, p backend.Policy, cost int64) (backend.Result, error) {
	if s.closed.Load() {
		return backend.Result{}, backend.ErrClosed
	}
	if cost < 0 {
		return backend.Result{}, fmt.Errorf("redis: cost %d is negative", cost)
	}
	if err := CheckPolicy(p); err != nil {
		return backend.Result{}, err
	}
	sent := s.localNow()
	if r, ok := s.allowLocal(key, p, cost, sent); ok {
		return r, nil
	}
	rkey := Key(key, p)
	if s.watch != nil && !s.watch.tracked && cost > 0 {
		if r, ok := s.watch.deny(ctx, rkey, p, cost, sent); ok {
			return r, nil
		}
	}

	if cost > 0 && p.Penalty == 0 {
		// With a penalty, a batch's denial would block requests that alone
		// would have been admitted.
		return s.hot.allow(ctx, s, rkey, p, cost, sent)
	}
	return s.decide(ctx, rkey, p, cost, sent)
}

// decide runs the script for one request of cost, sent at the local time
// sent, and watches the key it denies.
func (s *Store) decide(ctx context.Context, rkey string, p backend.Policy, cost int64, sent time.Time) (backend.Result, error) {
	r, version, w, err := s.run(ctx, rkey, p, cost, sent)
	if err != nil {
		return backend.Result{}, err
	}
	switch {
	case s.watch == nil || cost <= 0:
	case r.Allowed:
		s.watch.admitted(rkey)
	default:
		s.watch.add(ctx, rkey, p, cost, sent, s.localNow(), r, version, &w)
	}
	return r, nil
}

// dropWatch forgets the watch of rkey after an admission of this Store's.
func (s *Store) dropWatch(rkey string) {
	if s.watch != nil {
		s.watch.admitted(rkey)
	}
}

// run runs the script: one decision of cost units on rkey, at the server's
// time.
func (s *Store) run(ctx context.Context, rkey string, p backend.Policy, cost int64, sent time.Time) (backend.Result, int64, windows, error) {
	args := make([]string, 3, 4+2*len(p.Limits))
	args[0] = strconv.Itoa(int(p.Strategy))
	args[1] = strconv.FormatInt(cost, 10)
	args[2] = s.scriptNow(sent)
	for _, l := range p.Limits {
		a := limitArgs(l)
		args = append(args, a[0], a[1])
	}
	if p.Penalty > 0 {
		args = append(args, strconv.FormatInt(p.Penalty.Microseconds(), 10))
	}
	reply, err := decide.Exec(ctx, s.client, []string{rkey}, args).ToArray()
	if err != nil {
		if s.server != nil && !rueidis.IsRedisNil(err) {
			if _, ok := rueidis.IsRedisErr(err); !ok {
				s.server.failed() // the server that answers next may be another
			}
		}
		return backend.Result{}, 0, windows{}, err
	}
	return parseReply(reply, len(p.Limits))
}

// scriptNow returns the time of a call sent at the local time sent, in
// microseconds, as the scripts take it: the server's time, followed from
// the local clock (clock.go), or "0" for a script to read TIME itself.
func (s *Store) scriptNow(sent time.Time) string {
	if s.now != nil {
		return strconv.FormatInt(sent.UnixMicro(), 10)
	}
	if s.server != nil {
		if now, ok := s.server.now(sent); ok {
			return strconv.FormatInt(now.UnixMicro(), 10)
		}
	}
	return "0"
}

// AllowLocal decides, without I/O, a request that a watched denial still
// covers, and reports true; otherwise it reports false and Allow must decide.
// It decides only with a Tracker (WithTracker): without one, a check of a
// watched key reads the client's cache, which may need a round trip.
func (s *Store) AllowLocal(key string, p backend.Policy, cost int64) (backend.Result, bool) {
	if s.closed.Load() {
		return backend.Result{}, false
	}
	return s.allowLocal(key, p, cost, s.localNow())
}

// allowLocal is AllowLocal at now. The watch list only looks the Redis key
// up, and keeps nothing of it, so the key is built in a buffer on the stack.
func (s *Store) allowLocal(key string, p backend.Policy, cost int64, now time.Time) (backend.Result, bool) {
	if s.watch == nil || !s.watch.tracked || cost <= 0 || s.watch.len() == 0 {
		return backend.Result{}, false
	}
	var buf [128]byte
	rkey := appendKey(buf[:0], key, p)
	return s.watch.denyLocal(unsafe.String(unsafe.SliceData(rkey), len(rkey)), p, cost, now)
}

// limitArgsCache holds the script arguments of the limits seen, up to
// maxCachedLimits of them: policies are the application's, so there are few.
var (
	limitArgsCache  sync.Map // backend.Limit -> *[2]string
	limitArgsCached atomic.Int32
)

const maxCachedLimits = 1024

// limitArgs returns a limit's count and period (microseconds) as script
// arguments.
func limitArgs(l backend.Limit) *[2]string {
	if a, ok := limitArgsCache.Load(l); ok {
		return a.(*[2]string)
	}
	a := &[2]string{strconv.FormatInt(l.Count, 10), strconv.FormatInt(l.Period.Microseconds(), 10)}
	if limitArgsCached.Load() < maxCachedLimits {
		if _, loaded := limitArgsCache.LoadOrStore(l, a); !loaded {
			limitArgsCached.Add(1)
		}
	}
	return a
}

// windows holds, per limit of a sliding-window policy, the units counted in
// the previous and the current window, as a denial's reply gives them.
type windows [backend.MaxLimits][2]int64

// parseReply reads decide.lua's reply: the Result, the hash's version, and
// for a denial by sliding windows their counts.
func parseReply(reply []rueidis.RedisMessage, n int) (r backend.Result, version int64, w windows, err error) {
	if len(reply) != 4+2*n && len(reply) != 4+4*n {
		return r, 0, w, fmt.Errorf("redis: decide script replied %d values, want %d or %d", len(reply), 4+2*n, 4+4*n)
	}
	var v [4 + 4*backend.MaxLimits]int64
	for i := range reply {
		if v[i], err = reply[i].AsInt64(); err != nil {
			return r, 0, w, fmt.Errorf("redis: decide script reply: %w", err)
		}
	}
	r.Allowed, r.Blocked = v[0] == 1, v[3] < 0
	r.RetryAfter = time.Duration(v[1]) * time.Microsecond
	r.Now = time.UnixMicro(v[2])
	for i := range n {
		r.States[i] = backend.LimitState{Remaining: v[4+2*i], Reset: time.Duration(v[5+2*i]) * time.Microsecond}
		if len(reply) == 4+4*n {
			w[i] = [2]int64{v[4+2*n+2*i], v[5+2*n+2*i]}
		}
	}
	return r, v[3], w, nil
}

func (s *Store) localNow() time.Time {
	if s.now != nil {
		return s.now()
	}
	return s.local()
}

// Ping checks that the server answers. On a Redis Cluster it pings every
// node the client knows, at once, and succeeds when one answers: a PING
// goes to no slot, so the client would send it to any node, a dead seed
// included, and one node's failure is its slots' concern (see Slot), not
// the whole cluster's.
func (s *Store) Ping(ctx context.Context) error {
	if !s.Cluster() {
		return s.client.Do(ctx, s.client.B().Ping().Build()).Error()
	}
	nodes := s.client.Nodes()
	if len(nodes) == 0 {
		return errors.New("redis: the cluster client knows no node")
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errs := make(chan error, len(nodes))
	var wg sync.WaitGroup
	for _, node := range nodes {
		wg.Go(func() { errs <- node.Do(ctx, node.B().Ping().Build()).Error() })
	}
	var all []error
	for range nodes {
		err := <-errs
		if err == nil {
			all = nil
			break
		}
		all = append(all, err)
	}
	cancel() // the pings still waiting end now
	wg.Wait()
	return errors.Join(all...)
}

// Cluster reports whether the client talks to a Redis Cluster, whose nodes
// fail one at a time: each serves the keys of its own slots (see Slot).
func (s *Store) Cluster() bool { return s.client.Mode() == rueidis.ClientModeCluster }

// Name returns "redis".
func (s *Store) Name() string { return "redis" }

// ClientCache reports whether denied keys are watched through client-side
// caching: WithClientCache is on, and the client was not found to lack a
// cache (a client built with DisableCache, or speaking RESP2, is found out
// at the first denial).
func (s *Store) ClientCache() bool { return s.watch != nil && !s.watch.off.Load() }

// Watched returns the number of denied keys watched now.
func (s *Store) Watched() int {
	if s.watch == nil {
		return 0
	}
	return s.watch.len()
}

// Close stops a calibration of the server's clock under way and forgets the
// watched keys; afterwards Allow returns backend.ErrClosed.
// It does not close the client, which the caller owns. Close is idempotent.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	if s.server != nil {
		s.server.close()
	}
	if s.watch != nil {
		s.watch.clear()
	}
	return nil
}
