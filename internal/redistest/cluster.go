package redistest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

const (
	// clusterSlots is the number of hash slots in a Redis Cluster.
	clusterSlots = 16384
	// clusterTimeout bounds creating a cluster and waiting for it to settle.
	clusterTimeout = 20 * time.Second
	// clusterMaxPort keeps the cluster bus port (port+10000) a valid port
	// with some room to spare.
	clusterMaxPort = 55000
)

// Cluster is a Redis Cluster of three masters without replicas, each a
// Server on its own loopback port.
type Cluster struct {
	// Nodes are the masters, in the order given to redis-cli --cluster create.
	Nodes []*Server
}

// StartCluster starts three cluster-enabled redis-server processes, joins
// them with redis-cli --cluster create, and waits until every node reports
// cluster_state:ok and sees all 16384 slots served. The nodes are killed
// when the test ends. It needs redis-cli as well as redis-server.
func StartCluster(t testing.TB) *Cluster {
	t.Helper()
	Require(t)
	requireBinary(t, "redis-cli")
	deadline := time.Now().Add(clusterTimeout)

	c := &Cluster{}
	for range 3 {
		c.Nodes = append(c.Nodes, Start(t,
			withPortPicker(freeClusterPort),
			withArgs(
				"--cluster-enabled", "yes",
				"--cluster-config-file", "nodes.conf",
				"--cluster-node-timeout", "2000",
			)))
	}

	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	args := append([]string{"--cluster", "create"}, c.Addrs()...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	out, err := exec.CommandContext(ctx, "redis-cli", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("redistest: redis-cli %s: %v\n%s", strings.Join(args, " "), err, out)
	}

	var last error
	for {
		if last = c.settled(); last == nil {
			return c
		}
		if time.Now().After(deadline) {
			t.Fatalf("redistest: cluster not ready after %v: %v\nredis-cli output:\n%s", clusterTimeout, last, out)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// settled reports why the cluster is not ready yet, or nil when it is.
func (c *Cluster) settled() error {
	for _, n := range c.Nodes {
		m, err := n.doMessage("CLUSTER", "INFO")
		if err != nil {
			return err
		}
		info, err := m.ToString()
		if err != nil {
			return err
		}
		if !strings.Contains(info, "cluster_state:ok") {
			return fmt.Errorf("%s: cluster_state is not ok", n.Addr())
		}
		if m, err = n.doMessage("CLUSTER", "SLOTS"); err != nil {
			return err
		}
		ranges, err := m.ToArray()
		if err != nil {
			return err
		}
		covered := int64(0)
		for _, r := range ranges {
			vs, err := r.ToArray()
			if err != nil {
				return err
			}
			if len(vs) < 3 {
				return fmt.Errorf("%s: short CLUSTER SLOTS entry", n.Addr())
			}
			lo, err1 := vs[0].ToInt64()
			hi, err2 := vs[1].ToInt64()
			if err := errors.Join(err1, err2); err != nil {
				return err
			}
			covered += hi - lo + 1
		}
		if covered != clusterSlots {
			return fmt.Errorf("%s: CLUSTER SLOTS covers %d of %d slots", n.Addr(), covered, clusterSlots)
		}
	}
	return nil
}

// freeClusterPort returns a free port below clusterMaxPort whose cluster
// bus port, port+10000, is free too.
func freeClusterPort(t testing.TB) int {
	t.Helper()
	for range 200 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("redistest: finding a free port: %v", err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		if port < clusterMaxPort {
			if bus, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port+10000))); err == nil {
				bus.Close()
				l.Close()
				return port
			}
		}
		l.Close()
	}
	t.Fatalf("redistest: no free port below %d with a free bus port", clusterMaxPort)
	return 0
}

// Addrs returns the nodes' addresses, "127.0.0.1:port".
func (c *Cluster) Addrs() []string {
	addrs := make([]string, len(c.Nodes))
	for i, n := range c.Nodes {
		addrs[i] = n.Addr()
	}
	return addrs
}

// URL returns the nodes as seeds in the form rueidis.ParseURL accepts:
// "redis://127.0.0.1:p1?addr=127.0.0.1:p2&addr=127.0.0.1:p3".
func (c *Cluster) URL() string {
	addrs := c.Addrs()
	var b strings.Builder
	b.WriteString("redis://" + addrs[0])
	for i, a := range addrs[1:] {
		if i == 0 {
			b.WriteString("?addr=" + a)
		} else {
			b.WriteString("&addr=" + a)
		}
	}
	return b.String()
}

// CommandCalls returns Server.CommandCalls summed over all nodes.
func (c *Cluster) CommandCalls(t testing.TB) map[string]int64 {
	t.Helper()
	sum := make(map[string]int64)
	for _, n := range c.Nodes {
		for name, calls := range n.CommandCalls(t) {
			sum[name] += calls
		}
	}
	return sum
}

// ResetStats runs Server.ResetStats on every node.
func (c *Cluster) ResetStats(t testing.TB) {
	t.Helper()
	for _, n := range c.Nodes {
		n.ResetStats(t)
	}
}
