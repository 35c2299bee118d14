package redis

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/ginlimit/ginlimit/backend"
)

// hotKeys coalesces the concurrent decisions of one key, such as the
// requests of one busy API key, so that one Redis call decides them all:
//
//   - A request for a key with no decision in flight is sent alone.
//   - Requests for the key that come while one is in flight join a batch,
//     which the first of them sends as soon as the call in flight returns:
//     one script run for n requests of cost c, asking for n×c units. Requests
//     that come meanwhile join the next batch, and so on.
//   - A batch the limits admit whole admits each of its requests, as they
//     would have been admitted one after the other; each gets the Remaining
//     (and for a token bucket the Reset) it would have seen in its turn.
//   - A batch the limits do not admit whole consumed nothing (a denial writes
//     nothing), and its reply tells how many of its requests fit: the least
//     Remaining of its limits, divided by the cost. Those are admitted by a
//     second call, as a batch, and one request of the rest is then sent alone:
//     its denial, watched as any other, is the answer of every one of them,
//     since a denial changes nothing. So a batch costs at most three calls,
//     and its requests are decided exactly as they would have been one after
//     the other. Should another instance change the key in between, so that
//     the second call is denied or the third admitted, the requests it was
//     for are sent alone.
//   - Only requests of the same policy and cost share a batch; another
//     request for the key, meanwhile, is sent alone.
//   - A request whose context ends while it waits returns the context's
//     error, and its units are consumed if its batch is admitted, as they
//     may be when a call of its own times out after the server ran it.
//
// With 64 requests at once on one key, that is about two calls for the 64
// instead of 64, and no request waits longer than for the call before it.
type hotKeys struct {
	mu sync.Mutex
	// keys holds the keys with a decision in flight, each with the batch
	// waiting for it, or nil.
	keys map[string]*batch
}

// batch is requests of one policy and cost, decided together.
type batch struct {
	p     backend.Policy
	cost  int64
	n     int64         // requests in it, final once start is closed
	start chan struct{} // closed when the call before it has returned
	done  chan struct{} // closed when the answers below are in

	err      error
	admitted int64          // the first admitted requests of the batch
	admit    backend.Result // the Result of the last of them
	denied   bool           // the rest share deny, a watched denial
	deny     backend.Result
	lone     bool // the request after the admitted ones was admitted alone
	loneRes  backend.Result
}

// allow decides the request through rkey's queue.
func (h *hotKeys) allow(ctx context.Context, s *Store, rkey string, p backend.Policy, cost int64, sent time.Time) (backend.Result, error) {
	h.mu.Lock()
	b, inFlight := h.keys[rkey]
	if !inFlight {
		if h.keys == nil {
			h.keys = make(map[string]*batch)
		}
		h.keys[rkey] = nil
		h.mu.Unlock()
		r, err := s.decide(ctx, rkey, p, cost, sent)
		h.handOver(rkey)
		return r, err
	}
	if b != nil && (b.cost != cost || !samePolicy(b.p, p)) {
		h.mu.Unlock()
		return s.decide(ctx, rkey, p, cost, sent) // another shape: alone
	}
	leader := b == nil
	if leader {
		b = &batch{p: p, cost: cost, start: make(chan struct{}), done: make(chan struct{})}
		h.keys[rkey] = b
	}
	i := b.n
	b.n++
	h.mu.Unlock()

	if leader {
		<-b.start // the call in flight is bounded by its own deadline
		h.send(ctx, s, rkey, b)
		close(b.done)
		h.handOver(rkey)
	} else {
		select {
		case <-b.done:
		case <-ctx.Done():
			return backend.Result{}, ctx.Err()
		}
	}
	switch {
	case b.err != nil:
		return backend.Result{}, b.err
	case i < b.admitted:
		return inTurn(b.admit, p, cost, b.admitted-1-i), nil
	case b.denied:
		return b.deny, nil
	case b.lone && i == b.admitted:
		return b.loneRes, nil
	}
	// Another instance changed the key meanwhile: alone.
	return s.decide(ctx, rkey, p, cost, s.localNow())
}

// send decides batch b, under the deadline of its first request but not its
// cancellation: the others wait for the answer.
func (h *hotKeys) send(ctx context.Context, s *Store, rkey string, b *batch) {
	bctx := context.WithoutCancel(ctx)
	if d, ok := ctx.Deadline(); ok {
		var cancel context.CancelFunc
		bctx, cancel = context.WithDeadline(bctx, d)
		defer cancel()
	}
	if b.n > 1 {
		r, _, _, err := s.run(bctx, rkey, b.p, b.n*b.cost, s.localNow())
		if err != nil {
			b.err = err
			return
		}
		if r.Allowed {
			b.admitted, b.admit = b.n, r
			s.dropWatch(rkey)
			return
		}
		if fit := fits(r, b.p, b.cost); fit > 0 {
			r, _, _, err := s.run(bctx, rkey, b.p, fit*b.cost, s.localNow())
			if err != nil {
				b.err = err
				return
			}
			if r.Allowed {
				b.admitted, b.admit = fit, r
				s.dropWatch(rkey)
			}
		}
	}
	r, err := s.decide(bctx, rkey, b.p, b.cost, s.localNow())
	switch {
	case err != nil:
		b.err = err
	case !r.Allowed:
		b.denied, b.deny = true, r
	default: // admitted: it is the next request's, in turn
		b.lone, b.loneRes = true, r
	}
}

// fits returns how many requests of cost a denial's Result leaves room for:
// the least Remaining of the limits, divided by the cost. A window's
// Remaining, and a token bucket's, is the units a request can take now.
func fits(r backend.Result, p backend.Policy, cost int64) int64 {
	if r.Blocked {
		return 0
	}
	least := r.States[0].Remaining
	for j := 1; j < len(p.Limits); j++ {
		least = min(least, r.States[j].Remaining)
	}
	return max(least, 0) / cost
}

// handOver lets the batch waiting on rkey go, or forgets rkey when none
// waits.
func (h *hotKeys) handOver(rkey string) {
	h.mu.Lock()
	b := h.keys[rkey]
	if b == nil {
		delete(h.keys, rkey)
	} else {
		h.keys[rkey] = nil // b is in flight now
	}
	h.mu.Unlock()
	if b != nil {
		close(b.start)
	}
}

// inTurn returns the Result a request of an admitted batch would have had in
// its turn, with later units of the batch, after it, not yet consumed:
// Remaining is later higher, and a token bucket's Reset (the time until it is
// full) that much shorter.
func inTurn(r backend.Result, p backend.Policy, cost, later int64) backend.Result {
	units := later * cost
	for j, l := range p.Limits {
		st := &r.States[j]
		st.Remaining += units
		if p.Strategy == backend.TokenBucket {
			// The script's emission interval: whole microseconds a unit.
			t := l.Period.Microseconds() / l.Count
			st.Reset -= time.Duration(units*t) * time.Microsecond
		}
	}
	return r
}

func samePolicy(a, b backend.Policy) bool {
	return a.Strategy == b.Strategy && slices.Equal(a.Limits, b.Limits)
}
