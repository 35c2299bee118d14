// Package backend defines the contract between ginlimit and the stores that
// keep its counters: the Backend interface, the Limit and Policy a decision is
// made against, and the Result it returns.
//
// Implementations live in sub-packages (backend/memory, backend/redis)
// and import only this package, so importing the contract never pulls in a
// store's dependencies. Every implementation must pass the conformance suite in
// backend/backendtest.
package backend

import (
	"context"
	"errors"
	"time"
)

// MaxLimits is the largest number of limits one Policy may hold. It keeps a
// Result a fixed-size value, so that a decision needs no allocation.
const MaxLimits = 8

// Sentinel errors. Configuration errors wrap ErrInvalidLimit or
// ErrInvalidPolicy; a Backend returns ErrClosed after Close.
var (
	ErrInvalidLimit  = errors.New("invalid limit")
	ErrInvalidPolicy = errors.New("invalid policy")
	ErrClosed        = errors.New("backend closed")
)

// Backend decides whether a request may proceed and records what it consumes.
//
// Allow checks every limit of p for key and, only if all of them admit cost
// more units, consumes cost from each of them. A denied request consumes
// nothing. The decision is atomic: concurrent calls for the same key behave as
// if they ran one after another.
//
// Counts are kept per key and shape of policy: its strategy and the periods
// of its limits, in order. A limit's Count is only the threshold the units
// counted in its period are held to: calls for one key with policies of the
// same shape share their counts, whatever their Counts (a client moved from a
// plan of 60/minute to one of 1000/minute keeps the units it used this
// minute), and calls with policies of another shape (another strategy, other
// periods, or the same periods in another order) count apart and never reset
// each other. A token bucket keeps its debt in time: moved to a faster rate,
// it refills at that rate from where it was.
//
// p has been validated (Policy.Validate) by the caller, cost is zero or more
// (zero asks without consuming), and key is not empty. A Backend must not keep
// p.Limits after Allow returns.
//
// A denial is a Result with Allowed false, never an error. An error means the
// backend could not decide (it is closed, unreachable, or too slow for ctx);
// the caller then decides what to do with the request.
//
// Implementations must be safe for concurrent use. Optional capabilities are
// separate interfaces (Pinger, Closer, Namer, LocalDecider) found by type
// assertion.
type Backend interface {
	Allow(ctx context.Context, key string, p Policy, cost int64) (Result, error)
}

// Pinger is implemented by backends that can check their own health.
type Pinger interface {
	Ping(ctx context.Context) error
}

// Closer is implemented by backends that hold resources (goroutines,
// connections). Close must be idempotent.
type Closer interface {
	Close() error
}

// LocalDecider is implemented by backends that can decide some requests
// without I/O, such as a shared store that remembers a client's denial until
// it ends. AllowLocal returns such a decision and true, or false when Allow
// must decide; a decision it returns is one Allow would have returned. Callers
// ask it first, before they set up the deadline Allow needs.
type LocalDecider interface {
	AllowLocal(key string, p Policy, cost int64) (Result, bool)
}

// Controller is implemented by backends that can change a key's counts from
// outside a request, for a support desk, an admin route or a test. Each acts
// on key under the shape of p (its strategy and periods, see Backend), and
// takes effect at once for every caller of the backend: a shared store
// tells the others. Reading a key's counts needs no Controller: Allow with
// cost zero reports them without consuming.
type Controller interface {
	// Reset forgets key's counts and any block of it.
	Reset(ctx context.Context, key string, p Policy) error
	// Block denies every request of key for d from now, whatever its counts,
	// consuming nothing: Allow reports Blocked, and a RetryAfter of at least
	// the time left. A later Block replaces the time left.
	Block(ctx context.Context, key string, p Policy, d time.Duration) error
	// Unblock ends a block of key, if any; its counts are kept.
	Unblock(ctx context.Context, key string, p Policy) error
	// Refund gives back cost units consumed by a request of key that is
	// not to count, such as one whose outcome the caller does not limit. A
	// count never goes below zero, and units of a window already over are
	// not given back.
	Refund(ctx context.Context, key string, p Policy, cost int64) error
}

// Namer is implemented by backends that report a short name, such as "memory"
// or "redis", in ginlimit's health endpoint.
type Namer interface {
	Name() string
}

// Result is the outcome of one decision.
type Result struct {
	// Allowed reports whether the request was admitted and its cost consumed.
	Allowed bool

	// Blocked reports that the key is blocked (Controller.Block, or a
	// Policy's Penalty): the request was denied whatever the counts, and
	// RetryAfter is at least the time until the block ends.
	Blocked bool

	// Local reports a decision a shared store made without I/O, from what
	// it remembers of the key, such as a denial its client-side cache
	// still holds.
	Local bool

	// RetryAfter is, for a denied request, the time after which the same
	// request (same key, policy and cost) would be admitted if nothing else
	// consumed in between. It is zero when Allowed is true. A cost larger than
	// some limit's Count can never be admitted; RetryAfter is then that
	// limit's Period.
	RetryAfter time.Duration

	// Now is the backend's time of the decision, from which RetryAfter and
	// each Reset are measured: the local clock for the memory backend, the
	// server's for a shared store, so that every instance reports the same
	// reset times.
	Now time.Time

	// States[i] describes p.Limits[i] after the decision. Entries past
	// len(p.Limits) are zero.
	States [MaxLimits]LimitState
}

// LimitState is what one limit looks like after a decision.
type LimitState struct {
	// Remaining is how many more units the limit admits now.
	Remaining int64

	// Reset is the time until the limit's current window ends (fixed and
	// sliding windows) or until its bucket is full again (token bucket).
	Reset time.Duration
}
