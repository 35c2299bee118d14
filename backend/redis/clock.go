package redis

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/rueidis"
)

// The Store decides at the server's time, never the instance's, so that
// every instance agrees on when a window ends, whatever its own clock says.
// Reading TIME in the script on every decision costs the server about a
// microsecond of the eight a decision costs it; instead the Store follows
// the server's clock from its own monotonic clock, and sends the time with
// each decision:
//
//   - A calibration reads TIME calibrationSamples times and keeps the sample
//     with the shortest round trip: the server read its clock within that
//     round trip, so its time at the round trip's midpoint is known to
//     within half of it, plus TIME's microsecond.
//   - The time of a decision is the server's time at the calibration plus
//     the monotonic time elapsed since, so the instance's wall clock, and
//     any step NTP makes to it, never enter.
//   - Calibrations repeat every recalibrateEvery, so that the drift between
//     the two clocks (tens of microseconds a second at worst for quartz)
//     adds at most about a millisecond, and after any failed call, since
//     the server may have been replaced (a restart, a failover to another
//     host). Until a calibration succeeds the script reads TIME itself.
//
// So the time sent is the server's within Bound (half the best round trip,
// on a LAN well under a millisecond) plus the drift since the calibration,
// and two instances agree to within the sum of theirs. A Redis Cluster's
// nodes each have their own clock, and a key lives on one of them: there
// the script keeps reading TIME.
const (
	calibrationSamples = 3
	recalibrateEvery   = 10 * time.Second
	calibrationTimeout = time.Second
)

var errTimeReply = errors.New("redis: TIME did not reply two integers")

// serverClock follows the server's clock; see above.
type serverClock struct {
	client rueidis.Client
	local  func() time.Time // time.Now, or a test's skewed clock

	fix     atomic.Pointer[clockFix] // nil: not calibrated, read TIME
	running atomic.Bool              // a calibration is under way

	mu     sync.Mutex // orders Close with the WaitGroup's Add
	closed bool
	stop   context.CancelFunc
	ctx    context.Context
	wg     sync.WaitGroup
}

// clockFix is one calibration: the server's time at a local instant.
type clockFix struct {
	local  time.Time     // the instance's time, with its monotonic reading
	server time.Time     // the server's time at local
	bound  time.Duration // how far server may be from the truth
}

func newServerClock(client rueidis.Client, local func() time.Time) *serverClock {
	ctx, stop := context.WithCancel(context.Background())
	return &serverClock{client: client, local: local, ctx: ctx, stop: stop}
}

// now returns the server's time at the local instant local, and false when
// the clock is not calibrated (the script must read TIME). It starts a
// calibration, in the background, when one is due.
func (c *serverClock) now(local time.Time) (time.Time, bool) {
	f := c.fix.Load()
	if f == nil || local.Sub(f.local) >= recalibrateEvery {
		c.calibrateAsync()
	}
	if f == nil {
		return time.Time{}, false
	}
	return f.server.Add(local.Sub(f.local)), true
}

// failed forgets the calibration after a failed call: the server that
// answers next may be another one.
func (c *serverClock) failed() { c.fix.Store(nil) }

// calibrateAsync starts a calibration unless one is running or the clock is
// closed.
func (c *serverClock) calibrateAsync() {
	if !c.running.CompareAndSwap(false, true) {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		c.running.Store(false)
		return
	}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		defer c.running.Store(false)
		if f, err := c.calibrate(c.ctx); err == nil {
			c.fix.Store(f)
		}
	}()
}

// calibrate reads TIME calibrationSamples times and returns the fix of the
// sample with the shortest round trip.
func (c *serverClock) calibrate(ctx context.Context) (*clockFix, error) {
	ctx, cancel := context.WithTimeout(ctx, calibrationTimeout)
	defer cancel()
	var best *clockFix
	for range calibrationSamples {
		sent := c.local()
		t, err := c.client.Do(ctx, c.client.B().Time().Build()).AsIntSlice()
		received := c.local()
		if err != nil {
			return nil, err
		}
		if len(t) != 2 {
			return nil, errTimeReply
		}
		half := received.Sub(sent) / 2
		f := &clockFix{
			local:  sent.Add(half),
			server: time.Unix(t[0], t[1]*int64(time.Microsecond)),
			bound:  half + time.Microsecond,
		}
		if best == nil || f.bound < best.bound {
			best = f
		}
	}
	return best, nil
}

// Bound returns how far the time the clock sends may be from the server's,
// not counting the drift since the calibration, and false before one.
func (c *serverClock) Bound() (time.Duration, bool) {
	if f := c.fix.Load(); f != nil {
		return f.bound, true
	}
	return 0, false
}

// close stops a calibration under way and waits for it.
func (c *serverClock) close() {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	c.stop()
	c.wg.Wait()
}
