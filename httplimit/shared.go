package httplimit

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/rueidis"

	"github.com/ginlimit/ginlimit/backend"
	"github.com/ginlimit/ginlimit/backend/redis"
)

// remote is the shared backend: Redis, or a backend given by WithBackend.
// It owns the circuit breaker in front of it, the probes that close the
// breaker again, the transitions' logs and hook, and the Redis client that
// ginlimit builds.
type remote struct {
	name       string // "redis", or the custom backend's name
	isRedis    bool   // the backend is ginlimit's Redis store, not a custom one
	addr       string // where Redis is, without credentials; "" for a custom backend
	timeout    time.Duration
	mask       func(error) string
	logger     *slog.Logger
	onFallback func(active bool)
	onBreaker  func(BreakerEvent)
	now        func() time.Time // the Limiter's clock

	dial func() (*remoteBackend, error) // nil: the backend exists from the start
	cur  atomic.Pointer[remoteBackend]  // nil until dial succeeds

	breaker   breaker
	slots     slotBreakers // a Redis Cluster's slots, when cur is one
	announced atomic.Bool  // the fallback was logged and hooked
	connected atomic.Bool  // a dial ever succeeded

	health struct {
		mu  sync.Mutex
		at  time.Time
		err error
	}
	lastKeyErrorLog atomic.Int64 // Unix nanoseconds
	lastSlotCheck   atomic.Int64 // Unix nanoseconds

	mu       sync.Mutex  // orders closing with the WaitGroup's Add
	isClosed atomic.Bool // set under mu; read by requests without it
	stop     chan struct{}
	wg       sync.WaitGroup
}

// remoteBackend is a connected shared backend.
type remoteBackend struct {
	b       backend.Backend
	local   backend.LocalDecider // b, when it can decide without I/O
	store   *redis.Store         // b, when it is ginlimit's Redis store
	cluster bool                 // b is a Redis Cluster, whose slots fail apart
	close   func()               // releases what ginlimit built; nil for the caller's
}

// clientCache reports whether the backend turns clients over their limit
// away without a round trip (see redis.Store.ClientCache).
func (rb *remoteBackend) clientCache() bool {
	return rb.store != nil && rb.store.ClientCache()
}

// watched returns the number of denied keys the backend watches.
func (rb *remoteBackend) watched() int {
	if rb.store == nil {
		return 0
	}
	return rb.store.Watched()
}

func newRemoteBackend(b backend.Backend) *remoteBackend {
	rb := &remoteBackend{b: b}
	rb.local, _ = b.(backend.LocalDecider)
	rb.store, _ = b.(*redis.Store)
	rb.cluster = rb.store != nil && rb.store.Cluster()
	return rb
}

// healthCacheFor is how long a health ping's result is reused.
const healthCacheFor = time.Second

// probeTick is how often the background loop looks for a due probe. Probes
// are also started by requests, since a platform such as Cloud Run gives
// background goroutines almost no CPU between requests.
const probeTick = time.Second

// start begins connecting when there is something to dial: the breaker
// starts open, with a probe due at once, and a background loop adds to the
// probes requests start. A backend given by WithBackend is probed by
// requests and health checks only, so that it needs no goroutine.
func (r *remote) start(now time.Time) {
	if r.dial == nil {
		return
	}
	r.breaker.isOpen.Store(true)
	r.breaker.since, r.breaker.next = now, now
	r.maybeProbe(now)
	r.spawn(r.loop)
}

// loop starts due probes until Close.
func (r *remote) loop() {
	t := time.NewTicker(probeTick)
	defer t.Stop()
	for {
		select {
		case <-r.stop:
			return
		case <-t.C:
			r.maybeProbe(r.now())
		}
	}
}

// spawn runs f in a goroutine that Close waits for, unless closed.
func (r *remote) spawn(f func()) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.isClosed.Load() {
		return false
	}
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		f()
	}()
	return true
}

// allow decides in the shared backend. It reports ok false when it cannot:
// the Limiter is closed, the breaker is open, or the call failed (err).
func (r *remote) allow(ctx context.Context, key string, p backend.Policy, cost int64) (res backend.Result, ok bool, err error) {
	cur := r.cur.Load()
	if r.isClosed.Load() {
		return backend.Result{}, false, nil
	}
	if r.breaker.open() {
		now := r.now()
		if cur == nil || isPinger(cur.b) {
			r.maybeProbe(now)
			return backend.Result{}, false, nil
		}
		// A backend that cannot be pinged is probed by this request.
		if !r.breaker.probeDue(now) {
			return backend.Result{}, false, nil
		}
		r.breakerEvent("half-open", -1, "", 0)
		res, err = r.call(ctx, cur, key, p, cost)
		r.probed(err)
		return res, err == nil, err
	}
	if cur.cluster {
		if slot, b := r.slots.get(key); b != nil {
			// The slot's node failed: this request is its probe, or is
			// decided by the failure mode.
			if !b.probeDue(r.now()) {
				return backend.Result{}, false, nil
			}
			res, err = r.call(ctx, cur, key, p, cost)
			r.slotProbed(ctx, slot, b, err)
			return res, err == nil, err
		}
	}
	if res, err = r.call(ctx, cur, key, p, cost); err != nil {
		r.failed(ctx, cur, key, err)
		return backend.Result{}, false, err
	}
	return res, true, nil
}

func (r *remote) call(ctx context.Context, cur *remoteBackend, key string, p backend.Policy, cost int64) (backend.Result, error) {
	if cur.local != nil {
		if res, ok := cur.local.AllowLocal(key, p, cost); ok {
			return res, nil
		}
	}
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	return cur.b.Allow(ctx, key, p, cost)
}

// failed handles an error of the shared backend on key: unless the request
// itself was cancelled or the error concerns one key only, it opens the
// breaker: a Redis Cluster's slot's alone (see slotBreakers), or the whole
// backend's.
func (r *remote) failed(ctx context.Context, cur *remoteBackend, key string, err error) {
	if ctx.Err() != nil && !errors.Is(err, context.DeadlineExceeded) {
		return // the client went away; the backend is not to blame
	}
	if keyError(err) {
		now := r.now().UnixNano()
		if last := r.lastKeyErrorLog.Load(); now-last > int64(time.Minute) && r.lastKeyErrorLog.CompareAndSwap(last, now) {
			r.logger.Warn("ginlimit: backend refused a key", "backend", r.name, "error", r.mask(err))
		}
		return
	}
	if cur != nil && cur.cluster {
		r.slotFailed(key, err)
		return
	}
	if r.breaker.trip(r.now(), r.mask(err)) {
		r.breakerEvent("open", -1, r.mask(err), 0)
		r.announce(err)
	}
}

// slotFailed opens the breaker of key's slot. The first slot to open is
// logged, and each failure checks, at most once a second and in the
// background, whether any node of the cluster still answers: if none does,
// the whole backend's breaker opens, as for a server that is down.
func (r *remote) slotFailed(key string, err error) {
	now := r.now()
	slot := redis.Slot(key)
	if r.slots.trip(slot, now, r.mask(err)) {
		r.breakerEvent("open", int(slot), r.mask(err), 0)
		attrs := []any{"backend", r.name, "error", r.mask(err)}
		if r.addr != "" {
			attrs = append(attrs, "addr", r.addr)
		}
		r.logger.Warn("ginlimit: Redis Cluster partly unavailable, deciding the keys of its failed slots by the failure mode until they recover", attrs...)
	}
	if last := r.lastSlotCheck.Load(); now.UnixNano()-last >= int64(healthCacheFor) && r.lastSlotCheck.CompareAndSwap(last, now.UnixNano()) {
		r.spawn(func() { r.healthy() })
	}
}

// slotProbed records the outcome of a probe of slot, a request sent to
// Redis while the slot's breaker was open. A request cancelled by its client
// proves nothing either way.
func (r *remote) slotProbed(ctx context.Context, slot uint16, b *breaker, err error) {
	if err != nil && ctx.Err() != nil && !errors.Is(err, context.DeadlineExceeded) {
		b.abandonProbe()
		return
	}
	whole, down := r.slots.probed(slot, b, r.now(), r.mask(err))
	if whole {
		r.breakerEvent("closed", int(slot), "", down)
		attrs := []any{"backend", r.name, "down_for", down.Round(time.Millisecond).String()}
		if r.addr != "" {
			attrs = append(attrs, "addr", r.addr)
		}
		r.logger.Info("ginlimit: Redis Cluster whole again", attrs...)
	}
}

// retryIn returns the time until the next probe that could put key back on
// the shared backend: the whole backend's, or its cluster slot's.
func (r *remote) retryIn(key string, now time.Time) time.Duration {
	if r.breaker.open() {
		return r.breaker.retryIn(now)
	}
	if _, b := r.slots.get(key); b != nil {
		return b.retryIn(now)
	}
	return 0
}

// keyError reports whether err concerns one key, not the server: a key of
// ginlimit's holding another type of data.
func keyError(err error) bool {
	re, ok := rueidis.IsRedisErr(err)
	return ok && strings.HasPrefix(re.Error(), "WRONGTYPE")
}

// announce logs the fallback and calls the hook, once per outage.
func (r *remote) announce(err error) {
	if r.announced.Swap(true) {
		return
	}
	attrs := []any{"backend", r.name, "error", r.mask(err)}
	if r.addr != "" {
		attrs = append(attrs, "addr", r.addr)
	}
	r.logger.Warn("ginlimit: shared backend unavailable, deciding by the failure mode until it recovers", attrs...)
	if r.onFallback != nil {
		r.onFallback(true)
	}
}

// maybeProbe starts a probe if one is due. A backend that cannot be pinged
// is probed by a request instead (see allow).
func (r *remote) maybeProbe(now time.Time) {
	if cur := r.cur.Load(); cur != nil && !isPinger(cur.b) {
		return
	}
	if r.breaker.probeDue(now) {
		r.breakerEvent("half-open", -1, "", 0) // before the probe can report its end
		if !r.spawn(r.probe) {
			r.breaker.probed(now, "closed")
		}
	}
}

// probe connects, or pings, and closes the breaker on success.
func (r *remote) probe() {
	cur := r.cur.Load()
	var err error
	if cur == nil {
		cur, err = r.connect()
	}
	if err == nil {
		if p, ok := cur.b.(backend.Pinger); ok {
			ctx, cancel := context.WithTimeout(context.Background(), pingTimeoutFor(r.timeout))
			err = p.Ping(ctx)
			cancel()
		}
	}
	r.probed(err)
}

// probed records a probe's outcome.
func (r *remote) probed(err error) {
	closed, down := r.breaker.probed(r.now(), r.mask(err))
	if err != nil {
		r.breakerEvent("open", -1, r.mask(err), 0)
		r.announce(err)
		return
	}
	if !closed {
		return
	}
	r.breakerEvent("closed", -1, "", down)
	r.health.mu.Lock()
	r.health.at = time.Time{} // a failure cached before the probe is stale
	r.health.mu.Unlock()
	first := !r.connected.Swap(true)
	if r.announced.Swap(false) {
		attrs := []any{"backend", r.name, "down_for", down.Round(time.Millisecond).String()}
		if r.addr != "" {
			attrs = append(attrs, "addr", r.addr)
		}
		r.logger.Info("ginlimit: shared backend recovered", attrs...)
		if r.onFallback != nil {
			r.onFallback(false)
		}
	} else if first && r.dial != nil {
		r.logger.Info("ginlimit: connected to Redis", "addr", r.addr, "client_cache", r.cur.Load().clientCache())
	}
}

// connect dials, keeping the result unless Close came first.
func (r *remote) connect() (*remoteBackend, error) {
	rb, err := r.dial()
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.isClosed.Load() {
		rb.close()
		return nil, backend.ErrClosed
	}
	r.cur.Store(rb)
	return rb, nil
}

// healthy pings the shared backend for the health endpoint, at most once a
// healthCacheFor; a failed ping opens the breaker like a failed request.
func (r *remote) healthy() (ok bool) {
	if r.breaker.open() {
		r.maybeProbe(r.now()) // health checks drive probes too
		return false
	}
	cur := r.cur.Load()
	p, ok := cur.b.(backend.Pinger)
	if !ok {
		return true
	}
	h := &r.health
	h.mu.Lock()
	var failed error
	if now := r.now(); now.Sub(h.at) >= healthCacheFor {
		ctx, cancel := context.WithTimeout(context.Background(), pingTimeoutFor(r.timeout))
		h.err = p.Ping(ctx)
		cancel()
		h.at, failed = r.now(), h.err
	}
	ok = h.err == nil
	h.mu.Unlock()
	if failed != nil {
		r.failed(context.Background(), nil, "", failed) // outside the lock: it may call the hook
	}
	return ok
}

// close stops the probes and releases what ginlimit built.
func (r *remote) close() {
	r.mu.Lock()
	if r.isClosed.Load() {
		r.mu.Unlock()
		return
	}
	r.isClosed.Store(true)
	close(r.stop)
	r.mu.Unlock()
	r.wg.Wait()
	if cur := r.cur.Load(); cur != nil && cur.close != nil {
		cur.close()
	}
}

func isPinger(b backend.Backend) bool {
	_, ok := b.(backend.Pinger)
	return ok
}
