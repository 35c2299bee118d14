package redistest_test

import (
	"context"
	"net"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/rueidis"

	"github.com/ginlimit/ginlimit/internal/redistest"
)

// failoverClient opens a rueidis client on url that neither retries nor
// waits long to dial, so that each command shows at once whether the
// failover is over for it. It is closed when the test ends.
func failoverClient(t *testing.T, url string) rueidis.Client {
	t.Helper()
	c, err := newClient(t, url, func(o *rueidis.ClientOption) {
		o.DisableRetry = true
		o.Dialer = net.Dialer{Timeout: 500 * time.Millisecond}
	})
	if err != nil {
		t.Fatalf("client from %q: %v", url, err)
	}
	return c
}

// waitSetGet sets key to value through c and reads it back, again and again
// until both work or 30 s pass, and returns when they first did: rueidis
// learns of a new master only after a command failed or a refresh.
func waitSetGet(t *testing.T, c rueidis.Client, key, value string) time.Time {
	t.Helper()
	attempt := func() error {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if err := c.Do(ctx, c.B().Set().Key(key).Value(value).Build()).Error(); err != nil {
			return err
		}
		got, err := c.Do(ctx, c.B().Get().Key(key).Build()).ToString()
		if err == nil && got != value {
			t.Fatalf("GET %s = %q, want %q", key, got, value)
		}
		return err
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := attempt()
		if err == nil {
			return time.Now()
		}
		if time.Now().After(deadline) {
			t.Fatalf("SET and GET %s still fail after 30 s: %v", key, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestKeySlot(t *testing.T) {
	t.Parallel()
	// The wanted slots are CLUSTER KEYSLOT's on Redis 7.0.
	tests := []struct {
		give string
		want int
	}{
		{give: "", want: 0},
		{give: "a", want: 15495},
		{give: "b", want: 3300},
		{give: "c", want: 7365},
		{give: "123456789", want: 12739}, // CRC-16/XMODEM check value 0x31C3
		{give: "user1000", want: 3443},
		{give: "{user1000}.following", want: 3443},
		{give: "{user1000}.followers", want: 3443},
		{give: "foo{}{bar}", want: 8363}, // empty tag: the whole key
		{give: "foo{{bar}}zap", want: 4015},
		{give: "{bar", want: 4015},
		{give: "foo{bar}{zap}", want: 5061},
		{give: "bar", want: 5061},
		{give: "{", want: 4092},
		{give: "}{x}", want: 16287},
		{give: "x}{y}", want: 12222},
	}
	for _, tt := range tests {
		if got := redistest.KeySlot(tt.give); got != tt.want {
			t.Errorf("KeySlot(%q) = %d, want %d", tt.give, got, tt.want)
		}
	}
}

func TestStartReplica(t *testing.T) {
	t.Parallel()
	const pw = "s3cr:t pw"
	master := redistest.Start(t, redistest.Password(pw))
	replica := redistest.StartReplica(t, master)
	if got := rawPing(t, replica.Addr()); !strings.HasPrefix(got, "-NOAUTH") {
		t.Errorf("unauthenticated PING on the replica = %q, want -NOAUTH", got)
	}
	if got := do(t, replica, "ROLE"); !strings.HasPrefix(got, "slave\n127.0.0.1\n") {
		t.Errorf("ROLE on the replica = %q", got)
	}
	do(t, master, "SET", "k", "v")
	deadline := time.Now().Add(5 * time.Second)
	for {
		got, err := replica.Do(t, "GET", "k")
		if err == nil && got == "v" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET on the replica = %q, %v, want the master's v", got, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestClusterReplicas(t *testing.T) {
	t.Parallel()
	c := redistest.StartCluster(t, redistest.ReplicasPerMaster(1), redistest.NodeTimeout(time.Second))
	if len(c.Nodes) != 6 {
		t.Fatalf("got %d nodes, want 6", len(c.Nodes))
	}
	if got := c.Masters(t); !slices.Equal(got, c.Nodes[:3]) {
		t.Errorf("Masters() = %v, want the first three nodes %v", addrs(got), addrs(c.Nodes[:3]))
	}
	if got := c.Replicas(t); !slices.Equal(got, c.Nodes[3:]) {
		t.Errorf("Replicas() = %v, want the last three nodes %v", addrs(got), addrs(c.Nodes[3:]))
	}
	a := c.Addrs()
	if want := "redis://" + a[0] + "?addr=" + strings.Join(a[1:], "&addr="); c.URL() != want {
		t.Errorf("URL() = %q, want %q", c.URL(), want)
	}
	if want := "redis://" + a[4] + "?addr=" + strings.Join([]string{a[0], a[1], a[2], a[3], a[5]}, "&addr="); c.URLFirst(c.Nodes[4]) != want {
		t.Errorf("URLFirst(Nodes[4]) = %q, want %q", c.URLFirst(c.Nodes[4]), want)
	}

	for _, key := range []string{"a", "b", "{user1000}.following"} {
		if got, want := do(t, c.Nodes[0], "CLUSTER", "KEYSLOT", key), redistest.KeySlot(key); got != strconv.Itoa(want) {
			t.Errorf("CLUSTER KEYSLOT %s = %s, KeySlot = %d", key, got, want)
		}
		// The master takes the key; the other masters redirect to it.
		master := c.MasterOf(t, key)
		for _, n := range c.Nodes[:3] {
			_, err := n.Do(t, "SET", key, "v")
			if n == master && err != nil {
				t.Errorf("SET %s on its master %s: %v", key, n.Addr(), err)
			}
			if n != master && (err == nil || !strings.HasPrefix(err.Error(), "MOVED")) {
				t.Errorf("SET %s on %s, not its master %s: err = %v, want MOVED", key, n.Addr(), master.Addr(), err)
			}
		}
	}
}

// TestClusterFailover kills the master of a key and checks that a replica
// takes over and that a client writes the key again, both for a client
// whose first seed is another node and for one whose first seed is the
// killed master. It logs the timeline of the failover.
func TestClusterFailover(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name          string
		seeds         func(c *redistest.Cluster, master *redistest.Server) string
		wantFirstSeed bool // whether the killed master is the first seed
	}{
		{
			name:          "first seed is another node",
			seeds:         func(c *redistest.Cluster, _ *redistest.Server) string { return c.URL() },
			wantFirstSeed: false,
		},
		{
			name:          "first seed is the killed master",
			seeds:         (*redistest.Cluster).URLFirst,
			wantFirstSeed: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := redistest.StartCluster(t, redistest.ReplicasPerMaster(1), redistest.NodeTimeout(time.Second))
			// "a" hashes to slot 15495, the third master's.
			const key = "a"
			master := c.MasterOf(t, key)
			replicas := c.Replicas(t)
			url := tt.seeds(c, master)
			if first := strings.HasPrefix(url, "redis://"+master.Addr()+"?"); first != tt.wantFirstSeed {
				t.Fatalf("%s first seed in %q: %t, want %t", master.Addr(), url, first, tt.wantFirstSeed)
			}
			client := failoverClient(t, url)
			setGet(t, client, key, "before")

			master.Kill(t)
			killed := time.Now()
			f := c.WaitFailover(t, master)
			promoted := c.MasterOf(t, key)
			if promoted == master || !slices.Contains(replicas, promoted) {
				t.Fatalf("after the failover the master of %q is %s, want one of the replicas %v", key, promoted.Addr(), addrs(replicas))
			}
			written := waitSetGet(t, client, key, "after")
			t.Logf("killed %s at 0, marked failed at %v, %s promoted at %v, client wrote at %v",
				master.Addr(), since(killed, f.Failed), promoted.Addr(), since(killed, f.Promoted), since(killed, written))
			if got := do(t, promoted, "GET", key); got != "after" {
				t.Errorf("GET %s on the new master = %q, want after", key, got)
			}

			// A client opened now, whose seed may be the dead node, finds
			// the new topology.
			setGet(t, failoverClient(t, url), key, "fresh client")
		})
	}
}

func TestSentinelFailover(t *testing.T) {
	t.Parallel()
	master := redistest.Start(t)
	replica := redistest.StartReplica(t, master)
	sentinel := redistest.StartSentinel(t, master, redistest.DownAfter(time.Second))
	client := failoverClient(t, sentinel.URL())
	const key = "sentinel-key"
	setGet(t, client, key, "before")

	master.Kill(t)
	killed := time.Now()
	f := sentinel.WaitFailover(t, replica)
	written := waitSetGet(t, client, key, "after")
	t.Logf("killed the master at 0, marked s_down at %v, replica %s announced at %v, client wrote at %v",
		since(killed, f.Failed), replica.Addr(), since(killed, f.Promoted), since(killed, written))
	if got := do(t, replica, "GET", key); got != "after" {
		t.Errorf("GET %s on the promoted replica = %q, want after", key, got)
	}
	if got := do(t, replica, "ROLE"); !strings.HasPrefix(got, "master\n") {
		t.Errorf("ROLE on the promoted replica = %q", got)
	}
}

// since returns how long after start t is, rounded to milliseconds, or -1
// when t is zero.
func since(start, t time.Time) time.Duration {
	if t.IsZero() {
		return -1
	}
	return t.Sub(start).Round(time.Millisecond)
}

func addrs(nodes []*redistest.Server) []string {
	var as []string
	for _, n := range nodes {
		as = append(as, n.Addr())
	}
	return as
}
