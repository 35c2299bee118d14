package redis

import (
	"context"
	_ "embed"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/rueidis"

	"github.com/ginlimit/ginlimit/backend"
)

//go:embed control.lua
var controlSource string

var control = rueidis.NewLuaScript(controlSource)

// Reset implements backend.Controller: it deletes the key's hash. The
// server then invalidates every client's cached copy, so that each Store
// watching a denial of the key stops denying it as soon as the invalidation
// arrives; this Store stops at once. So do Unblock and Refund.
func (s *Store) Reset(ctx context.Context, key string, p backend.Policy) error {
	rkey, err := s.controlKey(key, p)
	if err != nil {
		return err
	}
	err = s.client.Do(ctx, s.client.B().Del().Key(rkey).Build()).Error()
	s.dropWatch(rkey)
	return err
}

// Block implements backend.Controller: it records the block's end, on the
// server's clock, in the hash (see control.lua).
func (s *Store) Block(ctx context.Context, key string, p backend.Policy, d time.Duration) error {
	rkey, err := s.controlKey(key, p)
	if err != nil {
		return err
	}
	if d <= 0 || d > backend.MaxPeriod {
		return fmt.Errorf("redis: block duration %v is outside (0, %v]", d, backend.MaxPeriod)
	}
	args := []string{"block", strconv.FormatInt(d.Microseconds(), 10), s.scriptNow(s.localNow())}
	return control.Exec(ctx, s.client, []string{rkey}, args).Error()
}

// Unblock implements backend.Controller.
func (s *Store) Unblock(ctx context.Context, key string, p backend.Policy) error {
	rkey, err := s.controlKey(key, p)
	if err != nil {
		return err
	}
	err = control.Exec(ctx, s.client, []string{rkey}, []string{"unblock", "0", "0"}).Error()
	s.dropWatch(rkey)
	return err
}

// Refund implements backend.Controller, in one atomic call.
func (s *Store) Refund(ctx context.Context, key string, p backend.Policy, cost int64) error {
	rkey, err := s.controlKey(key, p)
	if err != nil {
		return err
	}
	if cost < 0 {
		return fmt.Errorf("redis: cost %d is negative", cost)
	}
	args := make([]string, 4, 4+2*len(p.Limits))
	args[0], args[1], args[2], args[3] = "refund", strconv.FormatInt(cost, 10), s.scriptNow(s.localNow()), strconv.Itoa(int(p.Strategy))
	for _, l := range p.Limits {
		a := limitArgs(l)
		args = append(args, a[0], a[1])
	}
	err = control.Exec(ctx, s.client, []string{rkey}, args).Error()
	s.dropWatch(rkey)
	return err
}

// controlKey checks a Controller call and returns the Redis key of key
// under p.
func (s *Store) controlKey(key string, p backend.Policy) (string, error) {
	if s.closed.Load() {
		return "", backend.ErrClosed
	}
	if err := CheckPolicy(p); err != nil {
		return "", err
	}
	return Key(key, p), nil
}
