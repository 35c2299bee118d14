package redistest_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/redis/rueidis"
	"go.uber.org/goleak"

	"github.com/ginlimit/ginlimit/internal/redistest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, redistest.LeakOptions()...)
}

// newClient opens a rueidis client on url and closes it when the test ends.
func newClient(t *testing.T, url string, modify func(*rueidis.ClientOption)) (rueidis.Client, error) {
	t.Helper()
	opt, err := rueidis.ParseURL(url)
	if err != nil {
		t.Fatalf("ParseURL(%q): %v", url, err)
	}
	if modify != nil {
		modify(&opt)
	}
	c, err := rueidis.NewClient(opt)
	if err != nil {
		return nil, err
	}
	t.Cleanup(c.Close)
	return c, nil
}

// rawPing sends PING on a fresh unauthenticated connection and returns the
// first reply line.
func rawPing(t *testing.T, addr string) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Write([]byte("*1\r\n$4\r\nPING\r\n")); err != nil {
		t.Fatalf("write: %v", err)
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return strings.TrimSpace(line)
}

func do(t *testing.T, s *redistest.Server, args ...string) string {
	t.Helper()
	v, err := s.Do(t, args...)
	if err != nil {
		t.Fatalf("Do(%q): %v", args, err)
	}
	return v
}

func TestStartAndDo(t *testing.T) {
	t.Parallel()
	s := redistest.Start(t)
	if !strings.HasPrefix(s.Addr(), "127.0.0.1:") || s.Addr() == "127.0.0.1:6379" {
		t.Fatalf("Addr() = %q", s.Addr())
	}
	if got, want := s.URL(), "redis://"+s.Addr(); got != want {
		t.Errorf("URL() = %q, want %q", got, want)
	}
	if got := do(t, s, "PING"); got != "PONG" {
		t.Errorf("PING = %q", got)
	}
	if got := do(t, s, "SET", "k", "v"); got != "OK" {
		t.Errorf("SET = %q", got)
	}
	if got := do(t, s, "GET", "k"); got != "v" {
		t.Errorf("GET = %q", got)
	}
	if got := do(t, s, "INCRBY", "n", "5"); got != "5" {
		t.Errorf("INCRBY = %q", got)
	}
	if got := do(t, s, "CONFIG", "GET", "appendonly"); got != "appendonly\nno" {
		t.Errorf("CONFIG GET = %q", got)
	}
	if _, err := s.Do(t, "GET", "missing"); !rueidis.IsRedisNil(err) {
		t.Errorf("GET missing: err = %v, want rueidis.Nil", err)
	}
	if _, err := s.Do(t, "NOSUCHCOMMAND"); err == nil {
		t.Error("unknown command: no error")
	}
}

func TestPassword(t *testing.T) {
	t.Parallel()
	const pw = "s3cr:t/@ pw"
	s := redistest.Start(t, redistest.Password(pw))
	if got := rawPing(t, s.Addr()); !strings.HasPrefix(got, "-NOAUTH") {
		t.Errorf("unauthenticated PING = %q, want -NOAUTH", got)
	}
	c, err := newClient(t, s.URL(), nil)
	if err != nil {
		t.Fatalf("client from %q: %v", s.URL(), err)
	}
	ctx := context.Background()
	if err := c.Do(ctx, c.B().Set().Key("k").Value("v").Build()).Error(); err != nil {
		t.Fatalf("SET: %v", err)
	}
	if got := do(t, s, "GET", "k"); got != "v" {
		t.Errorf("GET = %q", got)
	}
}

func TestACLUser(t *testing.T) {
	t.Parallel()
	const user, pw = "limiter", "p@ss word"
	s := redistest.Start(t, redistest.Password("admin"), redistest.ACLUser(user, pw, "~*", "+@all", "-client"))
	url := s.URLFor(user, pw)

	if _, err := newClient(t, url, nil); !errors.Is(err, rueidis.ErrNoCache) {
		t.Fatalf("client with tracking: err = %v, want ErrNoCache", err)
	}
	c, err := newClient(t, url, func(o *rueidis.ClientOption) { o.DisableCache = true })
	if err != nil {
		t.Fatalf("client without tracking: %v", err)
	}
	ctx := context.Background()
	if err := c.Do(ctx, c.B().Set().Key("k").Value("v").Build()).Error(); err != nil {
		t.Fatalf("SET as %s: %v", user, err)
	}
	if err := c.Do(ctx, c.B().ClientId().Build()).Error(); err == nil {
		t.Error("CLIENT ID as a user without +client: no error")
	}
	if _, err := newClient(t, s.URLFor(user, "wrong"), func(o *rueidis.ClientOption) { o.DisableCache = true }); err == nil {
		t.Error("wrong password accepted")
	}
}

func TestKillRestart(t *testing.T) {
	t.Parallel()
	s := redistest.Start(t, redistest.Password("pw"), redistest.ACLUser("u", "upw", "~*", "+@all"))
	addr := s.Addr()
	do(t, s, "SET", "k", "v")

	s.Kill(t)
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Fatal("dial after Kill succeeded")
	}
	if _, err := s.Do(t, "PING"); err == nil {
		t.Error("Do after Kill succeeded")
	}

	s.Restart(t)
	if s.Addr() != addr {
		t.Fatalf("Addr() after Restart = %q, want %q", s.Addr(), addr)
	}
	if got := do(t, s, "PING"); got != "PONG" {
		t.Errorf("PING after Restart = %q", got)
	}
	if _, err := s.Do(t, "GET", "k"); !rueidis.IsRedisNil(err) {
		t.Errorf("GET after Restart: err = %v, want rueidis.Nil (nothing is persisted)", err)
	}
	c, err := newClient(t, s.URLFor("u", "upw"), func(o *rueidis.ClientOption) { o.DisableCache = true })
	if err != nil {
		t.Fatalf("ACL user after Restart: %v", err)
	}
	if err := c.Do(context.Background(), c.B().Ping().Build()).Error(); err != nil {
		t.Errorf("PING as ACL user after Restart: %v", err)
	}
}

func TestFreezeThaw(t *testing.T) {
	t.Parallel()
	s := redistest.Start(t)
	c, err := newClient(t, s.URL(), func(o *rueidis.ClientOption) { o.DisableCache = true })
	if err != nil {
		t.Fatal(err)
	}
	ping := func(d time.Duration) error {
		ctx, cancel := context.WithTimeout(context.Background(), d)
		defer cancel()
		return c.Do(ctx, c.B().Ping().Build()).Error()
	}
	if err := ping(time.Second); err != nil {
		t.Fatalf("PING: %v", err)
	}

	s.Freeze(t)
	start := time.Now()
	if err := ping(200 * time.Millisecond); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("PING while frozen: err = %v, want context.DeadlineExceeded", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("PING while frozen took %v", d)
	}

	s.Thaw(t)
	if err := ping(5 * time.Second); err != nil {
		t.Errorf("PING after Thaw: %v", err)
	}
}

func TestCommandCalls(t *testing.T) {
	t.Parallel()
	s := redistest.Start(t)
	for i := range 3 {
		do(t, s, "SET", fmt.Sprint("k", i), "v")
	}
	if got := s.CommandCalls(t)["set"]; got != 3 {
		t.Errorf(`CommandCalls()["set"] = %d, want 3`, got)
	}
	do(t, s, "CLIENT", "ID")
	if got := s.CommandCalls(t)["client|id"]; got != 1 {
		t.Errorf(`CommandCalls()["client|id"] = %d, want 1`, got)
	}
	s.ResetStats(t)
	do(t, s, "GET", "k0")
	calls := s.CommandCalls(t)
	if calls["set"] != 0 || calls["get"] != 1 {
		t.Errorf("after ResetStats: set=%d get=%d, want 0 and 1", calls["set"], calls["get"])
	}
}

func TestCPU(t *testing.T) {
	t.Parallel()
	s := redistest.Start(t)
	before := s.CPU(t)
	// A script that spins keeps the server busy for a while of its own.
	do(t, s, "EVAL", "local n = 0 for i = 1, 3000000 do n = n + i end return 1", "0")
	if spent := s.CPU(t) - before; spent <= 0 {
		t.Errorf("CPU() grew by %v after a busy script, want more than 0", spent)
	}
}

func TestCluster(t *testing.T) {
	t.Parallel()
	c := redistest.StartCluster(t)
	if len(c.Nodes) != 3 || len(c.Addrs()) != 3 {
		t.Fatalf("got %d nodes", len(c.Nodes))
	}
	want := "redis://" + c.Addrs()[0] + "?addr=" + c.Addrs()[1] + "&addr=" + c.Addrs()[2]
	if c.URL() != want {
		t.Errorf("URL() = %q, want %q", c.URL(), want)
	}
	client, err := newClient(t, c.URL(), nil)
	if err != nil {
		t.Fatalf("cluster client: %v", err)
	}
	c.ResetStats(t)

	// "b", "c" and "a" hash to slots 3300, 7365 and 15495: one per master.
	ctx := context.Background()
	keys := []string{"a", "b", "c"}
	for _, k := range keys {
		if err := client.Do(ctx, client.B().Set().Key(k).Value("v-"+k).Build()).Error(); err != nil {
			t.Fatalf("SET %s: %v", k, err)
		}
	}
	for _, k := range keys {
		got, err := client.Do(ctx, client.B().Get().Key(k).Build()).ToString()
		if err != nil || got != "v-"+k {
			t.Errorf("GET %s = %q, %v", k, got, err)
		}
	}
	if got := c.CommandCalls(t)["set"]; got != 3 {
		t.Errorf(`CommandCalls()["set"] = %d, want 3`, got)
	}
	for _, n := range c.Nodes {
		if got := n.CommandCalls(t)["set"]; got != 1 {
			t.Errorf(`node %s: CommandCalls()["set"] = %d, want 1`, n.Addr(), got)
		}
	}
}
