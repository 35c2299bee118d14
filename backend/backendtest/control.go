package backendtest

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ginlimit/ginlimit/backend"
)

// controlTests check backend.Controller and Policy.Penalty, for backends
// that implement Controller.
var controlTests = []test{
	{"BlockDeniesUntilItEnds", testBlockDeniesUntilItEnds},
	{"UnblockKeepsTheCounts", testUnblockKeepsTheCounts},
	{"ResetForgetsCountsAndBlock", testResetForgetsCountsAndBlock},
	{"PenaltyBlocksOnDenial", testPenaltyBlocksOnDenial},
	{"RefundNeverBelowZero", testRefundNeverBelowZero},
}

// controller returns e's backend as a Controller, or skips t.
func (e *env) controller() backend.Controller {
	c, ok := e.b.(backend.Controller)
	if !ok {
		e.t.Skip("the backend is not a backend.Controller")
	}
	return c
}

func testBlockDeniesUntilItEnds(t *testing.T, s suite) {
	e := s.env(t)
	c := e.controller()
	p, key := e.policy("5/minute"), e.key("k")
	e.admit(key, p, 1)
	require.NoError(t, c.Block(context.Background(), key, p, 90*time.Second))

	r := e.deny(key, p, 1)
	assert.True(t, r.Blocked, "Blocked")
	requireReset(t, 90*time.Second, r.RetryAfter, "RetryAfter is the block's time left")
	assert.Equal(t, []int64{4}, remaining(p, r), "a blocked request consumes nothing")
	r = e.deny(key, p, 0)
	assert.True(t, r.Blocked, "asking (cost zero) reports the block")
	r = e.deny(key, e.policy("50/minute"), 1)
	assert.True(t, r.Blocked, "the block is of the key's shape, whatever the counts")
	e.admit(key, e.policy("5/hour"), 1) // another shape

	e.at(90*time.Second - time.Millisecond)
	e.deny(key, p, 1)
	e.at(90 * time.Second)
	r = e.admit(key, p, 1)
	assert.False(t, r.Blocked)
}

func testUnblockKeepsTheCounts(t *testing.T, s suite) {
	e := s.env(t)
	c := e.controller()
	p, key := e.policy("3/minute"), e.key("k")
	e.admit(key, p, 1)
	e.admit(key, p, 1)
	require.NoError(t, c.Block(context.Background(), key, p, time.Hour))
	e.deny(key, p, 1)
	require.NoError(t, c.Unblock(context.Background(), key, p))
	require.NoError(t, c.Unblock(context.Background(), key, p), "unblocking a key not blocked")
	e.admit(key, p, 1)
	r := e.deny(key, p, 1)
	assert.False(t, r.Blocked, "denied by the limit: the counts were kept")
}

func testResetForgetsCountsAndBlock(t *testing.T, s suite) {
	e := s.env(t)
	c := e.controller()
	p, key := e.policy("3/minute;10/hour"), e.key("k")
	n, _ := e.admitAll(key, p, 1)
	require.Equal(t, 3, n)
	require.NoError(t, c.Block(context.Background(), key, p, time.Hour))
	require.NoError(t, c.Reset(context.Background(), key, p))
	require.NoError(t, c.Reset(context.Background(), key, p), "resetting a key with no counts")
	assert.Equal(t, []int64{3, 10}, remaining(p, e.admit(key, p, 0)), "a fresh key")
	n, _ = e.admitAll(key, p, 1)
	assert.Equal(t, 3, n, "admitted after the reset")
}

func testPenaltyBlocksOnDenial(t *testing.T, s suite) {
	e := s.env(t)
	e.controller() // a backend that blocks honours penalties
	p, key := e.policy("2/second"), e.key("k")
	p.Penalty = time.Minute
	e.admit(key, p, 1)
	e.admit(key, p, 1)
	r := e.deny(key, p, 1)
	assert.True(t, r.Blocked, "the denial blocks the key")
	requireReset(t, time.Minute, r.RetryAfter, "RetryAfter is the penalty")

	e.at(5 * time.Second) // the limit would admit again
	r = e.deny(key, p, 1)
	assert.True(t, r.Blocked)
	requireReset(t, 55*time.Second, r.RetryAfter)
	e.at(time.Minute)
	e.admit(key, p, 1)
	p.Penalty = 0
	e.admit(key, p, 1)
	r = e.deny(key, p, 1)
	assert.False(t, r.Blocked, "no penalty: a plain denial")
}

func testRefundNeverBelowZero(t *testing.T, s suite) {
	e := s.env(t)
	c := e.controller()
	p, key := e.policy("3/minute;10/hour"), e.key("k")
	ctx := context.Background()
	require.NoError(t, c.Refund(ctx, key, p, 1), "refunding a key with no counts")
	n, _ := e.admitAll(key, p, 1)
	require.Equal(t, 3, n)
	require.NoError(t, c.Refund(ctx, key, p, 1))
	assert.Equal(t, []int64{1, 8}, remaining(p, e.admit(key, p, 0)), "one unit given back")
	e.admit(key, p, 1)
	e.deny(key, p, 1)
	require.NoError(t, c.Refund(ctx, key, p, 100))
	assert.Equal(t, []int64{3, 10}, remaining(p, e.admit(key, p, 0)), "never below zero")
	n, _ = e.admitAll(key, p, 1)
	assert.Equal(t, 3, n, "admitted after the refund")
}
