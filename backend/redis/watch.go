package redis

import (
	"context"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/rueidis"

	"github.com/ginlimit/ginlimit/backend"
)

// watchList holds the denied keys a Store watches. A watch says: the request
// of this cost was denied, with this Result, when the hash was at this
// version (the value of a field every admission changes); until the denial's
// RetryAfter has passed, the same request is denied again as long as the
// hash is still at that version.
//
// The version is read once through the client-side cache, which asks the
// server to track the key: the server then sends an invalidation when the
// hash changes (an admission elsewhere, an admin DEL) or expires. With a
// Tracker, the invalidations reach the list directly and drop the watch, so
// a watched key is checked in memory alone. Without one, each check reads
// the version through the cache again, which costs no round trip while
// nothing changed.
type watchList struct {
	client  rueidis.Client
	max     int
	tracked bool        // a Tracker delivers the client's invalidations
	checked atomic.Bool // the client's cache was seen to answer locally
	off     atomic.Bool // the client has no cache: nothing is watched

	mu      sync.Mutex
	watched map[string]*watch
	seq     uint64       // invalidations delivered, to spot one during add
	size    atomic.Int64 // len(watched), read without the lock
}

type watch struct {
	cost     int64
	version  int64
	sent     time.Time // local time the denied call was sent, before the server's decision
	received time.Time // local time its reply came, after the server's decision
	// until is sent + RetryAfter: no later than the server's own retry time,
	// so the watch never denies what the server would admit. The Results it
	// gives count from received instead, so that their RetryAfter is never
	// shorter than the server's.
	until   time.Time
	policy  backend.Policy
	result  backend.Result
	windows windows           // a sliding window's counts, to follow them
	read    rueidis.Cacheable // HGET <key> v, pinned for reuse
}

func newWatchList(client rueidis.Client, max int, tracked bool) *watchList {
	return &watchList{client: client, max: max, tracked: tracked, watched: make(map[string]*watch)}
}

// lookup returns the watch on rkey that still denies cost under p at now, if
// any. A watch is of the limits it was denied by: a policy of the same shape
// with other Counts (another plan of the client) is decided by the server.
func (wl *watchList) lookup(rkey string, p backend.Policy, cost int64, now time.Time) *watch {
	wl.mu.Lock()
	w := wl.watched[rkey]
	wl.mu.Unlock()
	if w == nil || cost != w.cost || !slices.Equal(p.Limits, w.policy.Limits) {
		return nil
	}
	if !now.Before(w.until) {
		wl.drop(rkey, w)
		return nil
	}
	return w
}

// denyLocal returns the Result of a request still denied by a watch on rkey,
// and true, when a Tracker keeps the watches current; or false.
func (wl *watchList) denyLocal(rkey string, p backend.Policy, cost int64, now time.Time) (backend.Result, bool) {
	if !wl.tracked {
		return backend.Result{}, false
	}
	if w := wl.lookup(rkey, p, cost, now); w != nil {
		return w.at(now), true
	}
	return backend.Result{}, false
}

// deny returns the Result of a request still denied by a watch on rkey, and
// true; or false when the request must be decided by the server.
func (wl *watchList) deny(ctx context.Context, rkey string, p backend.Policy, cost int64, now time.Time) (backend.Result, bool) {
	if wl.tracked {
		return wl.denyLocal(rkey, p, cost, now)
	}
	w := wl.lookup(rkey, p, cost, now)
	if w == nil {
		return backend.Result{}, false
	}
	v, err := cachedVersion(wl.client.DoCache(ctx, w.read, w.until.Sub(now)))
	if err != nil || v != w.version {
		wl.drop(rkey, w)
		return backend.Result{}, false
	}
	return w.at(now), true
}

// at returns the watch's Result as of now: what the server would answer
// then, the hash being unchanged. The times move on by the time since the
// denial's reply, and each limit's state follows them as the server's
// would: a sliding window slides its counts, a fixed window that ended
// starts afresh, a token bucket refills. A cost above some limit's count is
// never admitted: its RetryAfter stays that limit's Period.
func (w *watch) at(now time.Time) backend.Result {
	passed := now.Sub(w.received)
	r := w.result
	r.Local = true
	r.Now = r.Now.Add(passed)
	r.RetryAfter -= passed
	for i, l := range w.policy.Limits {
		st := &r.States[i]
		switch w.policy.Strategy {
		case backend.SlidingWindow:
			*st = slide(l, w.windows[i], st.Reset, passed)
		case backend.FixedWindow:
			// A window that holds nothing has not started: it stays whole.
			if st.Remaining < l.Count {
				if st.Reset -= passed; st.Reset <= 0 {
					st.Remaining, st.Reset = l.Count, l.Period
				}
			}
		case backend.TokenBucket:
			st.Reset = max(st.Reset-passed, 0)
			tick := l.Period.Microseconds() / l.Count
			st.Remaining = min(max((l.Count*tick-st.Reset.Microseconds())/tick, 0), l.Count)
		}
		if w.cost > l.Count {
			r.RetryAfter = max(r.RetryAfter, l.Period)
		}
	}
	return r
}

// slide returns the state of sliding window l, whose previous and current
// windows held counts with reset left of the current one, after passed: the
// arithmetic of decide.lua, in microseconds.
func slide(l backend.Limit, counts [2]int64, reset, passed time.Duration) backend.LimitState {
	period := l.Period.Microseconds()
	prev, cur := counts[0], counts[1]
	elapsed := period - reset.Microseconds() + passed.Microseconds()
	switch {
	case elapsed >= 2*period:
		prev, cur, elapsed = 0, 0, elapsed%period
	case elapsed >= period:
		prev, cur, elapsed = cur, 0, elapsed-period
	}
	used := float64(prev)*float64(period-elapsed)/float64(period) + float64(cur)
	return backend.LimitState{
		Remaining: max(0, int64(math.Floor(float64(l.Count)-used))),
		Reset:     time.Duration(period-elapsed) * time.Microsecond,
	}
}

// versionField is the field of a policy's hash that every admission changes,
// whose value decide.lua returns as the version: the first limit's arrival
// time for a token bucket, its count for a window.
func versionField(s backend.Strategy) string {
	if s == backend.TokenBucket {
		return "a1"
	}
	return "c1"
}

// cachedVersion reads a version through the cache: a field that does not
// exist (yet) is version 0, as decide.lua reports it, and the "e" of a
// blocked key, "<expiry>:<block's end>", is the block's end (a plain expiry,
// once the block is lifted, is never the end of the block watched).
func cachedVersion(res rueidis.RedisResult) (int64, error) {
	s, err := res.ToString()
	switch {
	case rueidis.IsRedisNil(err):
		return 0, nil
	case err != nil:
		return 0, err
	}
	if _, block, ok := strings.Cut(s, ":"); ok {
		s = block
	}
	return strconv.ParseInt(s, 10, 64)
}

// add watches rkey after a denial made at version. It reads the version
// through the cache, which also asks the server to track the key; the watch
// is kept only if the hash is still the one the denial saw.
func (wl *watchList) add(ctx context.Context, rkey string, p backend.Policy, cost int64, sent, received time.Time, r backend.Result, version int64, counts *windows) {
	if r.RetryAfter <= 0 || wl.off.Load() {
		return
	}
	field := versionField(p.Strategy)
	if version < 0 { // a block: its end, in "e", is the version (decide.lua)
		field, version = "e", -version
	}
	w := &watch{
		cost:     cost,
		version:  version,
		sent:     sent,
		received: received,
		until:    sent.Add(r.RetryAfter),
		policy:   backend.Policy{Strategy: p.Strategy, Limits: append([]backend.Limit(nil), p.Limits...)},
		result:   r,
		windows:  *counts,
		read:     wl.client.B().Hget().Key(rkey).Field(field).Cache().Pin(),
	}
	wl.mu.Lock()
	seq := wl.seq
	wl.mu.Unlock()
	v, err := cachedVersion(wl.client.DoCache(ctx, w.read, r.RetryAfter))
	if err != nil || v != version {
		return
	}
	if !wl.checked.Load() && !wl.checkCache(ctx, w.read, r.RetryAfter) {
		return
	}
	wl.mu.Lock()
	defer wl.mu.Unlock()
	if wl.tracked && wl.seq != seq {
		// An invalidation came while the version was read, perhaps for this
		// key: the watch could miss it. The next denial tries again.
		return
	}
	if _, ok := wl.watched[rkey]; !ok && len(wl.watched) >= wl.max {
		wl.evictLocked(sent)
	}
	wl.watched[rkey] = w
	wl.size.Store(int64(len(wl.watched)))
}

// checkCache reads cmd through the client's cache a second time, once, to
// find out whether the client caches at all: a client built with
// DisableCache, or speaking RESP2, sends every cached read to the server,
// and watching keys through it would cost a round trip per denied request.
// Such a client turns watching off for good.
func (wl *watchList) checkCache(ctx context.Context, cmd rueidis.Cacheable, ttl time.Duration) bool {
	res := wl.client.DoCache(ctx, cmd, ttl)
	if res.Error() != nil {
		return false // try again at the next denial
	}
	if !res.IsCacheHit() {
		wl.off.Store(true)
		return false
	}
	wl.checked.Store(true)
	return true
}

// evictLocked makes room for one watch: it drops the expired watches among
// the first few it meets, or else the first of them.
func (wl *watchList) evictLocked(now time.Time) {
	const look = 8
	var first string
	seen := 0
	for k, w := range wl.watched {
		switch {
		case !now.Before(w.until):
			delete(wl.watched, k)
		case first == "":
			first = k
		}
		if seen++; seen == look {
			break
		}
	}
	if len(wl.watched) >= wl.max {
		delete(wl.watched, first)
	}
}

// drop removes rkey's watch if it is still w.
func (wl *watchList) drop(rkey string, w *watch) {
	wl.mu.Lock()
	if wl.watched[rkey] == w {
		delete(wl.watched, rkey)
		wl.size.Store(int64(len(wl.watched)))
	}
	wl.mu.Unlock()
}

// admitted drops the watch on rkey, after this Store's own admission on it:
// the server's invalidation of a client's own write may come after the
// write's reply, and until then the watch would answer with the counts from
// before the admission.
func (wl *watchList) admitted(rkey string) {
	if wl.len() == 0 {
		return
	}
	wl.mu.Lock()
	if _, ok := wl.watched[rkey]; ok {
		delete(wl.watched, rkey)
		wl.size.Store(int64(len(wl.watched)))
	}
	wl.mu.Unlock()
}

func (wl *watchList) clear() {
	wl.mu.Lock()
	clear(wl.watched)
	wl.size.Store(0)
	wl.mu.Unlock()
}

// len returns the number of watched keys.
func (wl *watchList) len() int { return int(wl.size.Load()) }

// invalidated drops the watches on keys, or every watch when keys is nil
// (the server flushed, or the connection closed: tracking starts over).
func (wl *watchList) invalidated(keys []string, all bool) {
	wl.mu.Lock()
	defer wl.mu.Unlock()
	wl.seq++
	if all {
		clear(wl.watched)
	}
	for _, k := range keys {
		delete(wl.watched, k)
	}
	wl.size.Store(int64(len(wl.watched)))
}

// Tracker carries a client's invalidation messages to the Store that
// watches denied keys through that client, so that the Store checks a
// watched key in memory alone, without a call to the client. Build one
// before the client: set the client's ClientOption.OnInvalidations to its
// Invalidated method, then give it to New with WithTracker.
type Tracker struct {
	list atomic.Pointer[watchList]
}

// NewTracker returns a Tracker for one client and one Store.
func NewTracker() *Tracker { return &Tracker{} }

// Invalidated receives the client's invalidations. A nil slice means that
// every key is invalid: the server flushed, or the connection closed.
func (t *Tracker) Invalidated(keys []rueidis.RedisMessage) {
	wl := t.list.Load()
	if wl == nil {
		return
	}
	if keys == nil {
		wl.invalidated(nil, true)
		return
	}
	names := make([]string, len(keys))
	for i := range keys {
		k, err := keys[i].ToString()
		if err != nil { // not a key name: take every key as changed
			wl.invalidated(nil, true)
			return
		}
		names[i] = k
	}
	wl.invalidated(names, false)
}
