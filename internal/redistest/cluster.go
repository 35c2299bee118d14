package redistest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

const (
	// clusterSlots is the number of hash slots in a Redis Cluster.
	clusterSlots = 16384
	// clusterMasters is the number of masters StartCluster starts.
	clusterMasters = 3
	// clusterTimeout bounds creating a cluster and waiting for it to settle.
	clusterTimeout = 20 * time.Second
	// clusterMaxPort keeps the cluster bus port (port+10000) a valid port
	// with some room to spare.
	clusterMaxPort = 55000
)

// Cluster is a Redis Cluster of three masters, by default without
// replicas, each node a Server on its own loopback port.
type Cluster struct {
	// Nodes are all the nodes in the order given to redis-cli --cluster
	// create, which makes masters of the first three and replicas of the
	// others. Masters and Replicas tell the roles they have now.
	Nodes []*Server

	cfg clusterConfig
}

// A ClusterOption configures a cluster started by StartCluster.
type ClusterOption func(*clusterConfig)

type clusterConfig struct {
	replicas    int           // replicas per master
	nodeTimeout time.Duration // cluster-node-timeout
	partial     bool          // cluster-require-full-coverage no
}

// ReplicasPerMaster gives each of the three masters n replicas
// (redis-cli --cluster create --cluster-replicas n), so that the cluster
// fails over when a master dies. The default is none.
func ReplicasPerMaster(n int) ClusterOption {
	return func(c *clusterConfig) { c.replicas = n }
}

// NodeTimeout sets cluster-node-timeout, the time after which the others
// think a node that does not answer is failing; a replica then takes over
// from its master within a second or two. It is rounded down to a
// millisecond. The default is 2 s.
func NodeTimeout(d time.Duration) ClusterOption {
	return func(c *clusterConfig) { c.nodeTimeout = d }
}

// PartialCoverage makes every node serve its own slots while some other
// slots are not served (cluster-require-full-coverage no). By default, as
// in Redis, every node refuses every key with CLUSTERDOWN from the moment a
// master is marked failed until its slots are served again.
func PartialCoverage() ClusterOption {
	return func(c *clusterConfig) { c.partial = true }
}

// StartCluster starts three cluster-enabled redis-server processes as
// masters, and more as their replicas if asked by ReplicasPerMaster, joins
// them with redis-cli --cluster create, and waits until every node reports
// cluster_state:ok and sees all 16384 slots served, and every replica is
// known to all nodes as its master's and is in sync with it
// (master_link_status:up), so that a failover can promote it. The nodes
// are killed when the test ends. It needs redis-cli as well as
// redis-server.
func StartCluster(t testing.TB, opts ...ClusterOption) *Cluster {
	t.Helper()
	Require(t)
	requireBinary(t, "redis-cli")
	c := &Cluster{cfg: clusterConfig{nodeTimeout: 2 * time.Second}}
	for _, o := range opts {
		o(&c.cfg)
	}
	if c.cfg.replicas < 0 || c.cfg.nodeTimeout < time.Millisecond {
		t.Fatalf("redistest: StartCluster: ReplicasPerMaster(%d) or NodeTimeout(%v) out of range", c.cfg.replicas, c.cfg.nodeTimeout)
	}
	deadline := time.Now().Add(clusterTimeout)

	args := []string{
		"--cluster-enabled", "yes",
		"--cluster-config-file", "nodes.conf",
		"--cluster-node-timeout", strconv.FormatInt(c.cfg.nodeTimeout.Milliseconds(), 10),
	}
	if c.cfg.partial {
		args = append(args, "--cluster-require-full-coverage", "no")
	}
	for range clusterMasters * (1 + c.cfg.replicas) {
		c.Nodes = append(c.Nodes, Start(t, withPortPicker(freeClusterPort), withArgs(args...)))
	}

	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	args = append([]string{"--cluster", "create"}, c.Addrs()...)
	args = append(args, "--cluster-replicas", strconv.Itoa(c.cfg.replicas), "--cluster-yes")
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

// settled reports why the new cluster is not ready yet, or nil when it is.
func (c *Cluster) settled() error {
	if err := c.healthy(); err != nil {
		return err
	}
	for _, n := range c.Nodes {
		nodes, err := clusterNodes(n)
		if err != nil {
			return err
		}
		if len(nodes) != len(c.Nodes) {
			return fmt.Errorf("%s: CLUSTER NODES lists %d of %d nodes", n.Addr(), len(nodes), len(c.Nodes))
		}
		replicas := make(map[string]int) // by master id
		for _, node := range nodes {
			for _, bad := range []string{"fail?", "fail", "handshake", "noaddr"} {
				if node.has(bad) {
					return fmt.Errorf("%s: CLUSTER NODES flags %s %v", n.Addr(), node.addr, node.flags)
				}
			}
			if !node.has("slave") {
				continue
			}
			replicas[node.master]++
			if node.has("myself") {
				if err := n.synced(); err != nil {
					return err
				}
			}
		}
		for _, node := range nodes {
			if node.slots && replicas[node.id] != c.cfg.replicas {
				return fmt.Errorf("%s: CLUSTER NODES gives master %s %d of %d replicas", n.Addr(), node.addr, replicas[node.id], c.cfg.replicas)
			}
		}
	}
	return nil
}

// healthy reports why the cluster is not healthy as its live nodes see it,
// or nil when each of them reports cluster_state:ok and all 16384 slots
// served by live masters.
func (c *Cluster) healthy() error {
	live := make(map[string]bool)
	for _, n := range c.live() {
		live[n.Addr()] = true
	}
	for _, n := range c.live() {
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
		ranges, err := slotRanges(n)
		if err != nil {
			return err
		}
		covered := 0
		for _, r := range ranges {
			if !live[r.master] {
				return fmt.Errorf("%s: CLUSTER SLOTS has slots %d-%d served by %s, which is down", n.Addr(), r.lo, r.hi, r.master)
			}
			covered += r.hi - r.lo + 1
		}
		if covered != clusterSlots {
			return fmt.Errorf("%s: CLUSTER SLOTS covers %d of %d slots", n.Addr(), covered, clusterSlots)
		}
	}
	return nil
}

// slotRange is one entry of CLUSTER SLOTS: slots lo to hi, both included,
// served by the master at the address master.
type slotRange struct {
	lo, hi int
	master string
}

// slotRanges runs CLUSTER SLOTS on n.
func slotRanges(n *Server) ([]slotRange, error) {
	m, err := n.doMessage("CLUSTER", "SLOTS")
	if err != nil {
		return nil, err
	}
	entries, err := m.ToArray()
	if err != nil {
		return nil, err
	}
	ranges := make([]slotRange, 0, len(entries))
	for _, e := range entries {
		vs, err := e.ToArray()
		if err != nil {
			return nil, err
		}
		if len(vs) < 3 {
			return nil, fmt.Errorf("%s: short CLUSTER SLOTS entry", n.Addr())
		}
		master, err := vs[2].ToArray()
		if err != nil {
			return nil, err
		}
		if len(master) < 2 {
			return nil, fmt.Errorf("%s: short CLUSTER SLOTS node", n.Addr())
		}
		lo, err1 := vs[0].ToInt64()
		hi, err2 := vs[1].ToInt64()
		ip, err3 := master[0].ToString()
		port, err4 := master[1].ToInt64()
		if err := errors.Join(err1, err2, err3, err4); err != nil {
			return nil, err
		}
		ranges = append(ranges, slotRange{
			lo:     int(lo),
			hi:     int(hi),
			master: net.JoinHostPort(ip, strconv.FormatInt(port, 10)),
		})
	}
	return ranges, nil
}

// clusterNode is one line of CLUSTER NODES.
type clusterNode struct {
	id     string
	addr   string // "ip:port", without the bus port and hostname
	flags  []string
	master string // the master's id for a replica, "-" for a master
	slots  bool   // whether it serves any slot
}

// has reports whether the node has the flag.
func (n clusterNode) has(flag string) bool {
	return slices.Contains(n.flags, flag)
}

// clusterNodes runs CLUSTER NODES on n.
func clusterNodes(n *Server) ([]clusterNode, error) {
	m, err := n.doMessage("CLUSTER", "NODES")
	if err != nil {
		return nil, err
	}
	text, err := m.ToString()
	if err != nil {
		return nil, err
	}
	var nodes []clusterNode
	for line := range strings.Lines(text) {
		// <id> <ip:port@cport[,hostname]> <flags> <master> <ping-sent>
		// <pong-recv> <config-epoch> <link-state> <slot> <slot> ...
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		if len(fields) < 8 {
			return nil, fmt.Errorf("%s: malformed CLUSTER NODES line %q", n.Addr(), line)
		}
		addr, _, _ := strings.Cut(fields[1], "@")
		nodes = append(nodes, clusterNode{
			id:     fields[0],
			addr:   addr,
			flags:  strings.Split(fields[2], ","),
			master: fields[3],
			slots:  len(fields) > 8,
		})
	}
	return nodes, nil
}

// live returns the nodes that have not been killed, in the order of Nodes.
func (c *Cluster) live() []*Server {
	var live []*Server
	for _, n := range c.Nodes {
		if n.alive() {
			live = append(live, n)
		}
	}
	return live
}

// Masters returns the running nodes that are masters now, as they say
// themselves (ROLE), in the order of Nodes.
func (c *Cluster) Masters(t testing.TB) []*Server {
	t.Helper()
	return c.withRole(t, "master")
}

// Replicas returns the running nodes that are replicas now, as they say
// themselves (ROLE), in the order of Nodes.
func (c *Cluster) Replicas(t testing.TB) []*Server {
	t.Helper()
	return c.withRole(t, "slave")
}

func (c *Cluster) withRole(t testing.TB, role string) []*Server {
	t.Helper()
	var nodes []*Server
	for _, n := range c.live() {
		m, err := n.doMessage("ROLE")
		if err != nil {
			t.Fatalf("redistest: ROLE on %s: %v", n.Addr(), err)
		}
		vs, err := m.ToArray()
		if err == nil && len(vs) == 0 {
			err = errors.New("empty reply")
		}
		var got string
		if err == nil {
			got, err = vs[0].ToString()
		}
		if err != nil {
			t.Fatalf("redistest: ROLE on %s: %v", n.Addr(), err)
		}
		if got == role {
			nodes = append(nodes, n)
		}
	}
	return nodes
}

// MasterOf returns the node that serves key's hash slot (KeySlot) as the
// first running node that answers CLUSTER SLOTS sees it. The node may be
// one that was killed, when the cluster has not noticed yet.
func (c *Cluster) MasterOf(t testing.TB, key string) *Server {
	t.Helper()
	slot := KeySlot(key)
	var err error
	for _, n := range c.live() {
		var ranges []slotRange
		if ranges, err = slotRanges(n); err != nil {
			continue
		}
		for _, r := range ranges {
			if r.lo <= slot && slot <= r.hi {
				if i := slices.Index(c.Addrs(), r.master); i >= 0 {
					return c.Nodes[i]
				}
				t.Fatalf("redistest: %s says slot %d is served by %s, not a node of the cluster", n.Addr(), slot, r.master)
			}
		}
		t.Fatalf("redistest: %s says slot %d is not served", n.Addr(), slot)
	}
	t.Fatalf("redistest: no running node answers CLUSTER SLOTS: %v", err)
	return nil
}

// WaitFailover waits until the cluster is healthy again after its node
// killed was killed: every running node reports cluster_state:ok and sees
// all 16384 slots served by running masters, which for a killed master
// means that a replica of it was promoted. It returns when the first running
// node marked killed as failed, and when the cluster was healthy again.
// It fails the test when killed is running, or when the cluster is not
// healthy after 30 s plus four node timeouts.
func (c *Cluster) WaitFailover(t testing.TB, killed *Server) Failover {
	t.Helper()
	if killed.alive() {
		t.Fatalf("redistest: WaitFailover: node %s is running; Kill it first", killed.Addr())
	}
	failed := func() bool {
		for _, n := range c.live() {
			nodes, err := clusterNodes(n)
			if err != nil {
				continue
			}
			for _, node := range nodes {
				if node.addr == killed.Addr() && node.has("fail") {
					return true
				}
			}
		}
		return false
	}
	return waitFailover(t, failoverTimeout+4*c.cfg.nodeTimeout, failed, c.healthy)
}

// KeySlot returns the cluster hash slot of key, CRC16 of key modulo 16384,
// where only the part between the first "{" and the next "}" is hashed if
// it is not empty (a hash tag), as CLUSTER KEYSLOT computes it.
func KeySlot(key string) int {
	if open := strings.IndexByte(key, '{'); open >= 0 {
		if n := strings.IndexByte(key[open+1:], '}'); n > 0 {
			key = key[open+1 : open+1+n]
		}
	}
	return int(crc16(key)) % clusterSlots
}

// crc16 is CRC-16/XMODEM (polynomial 0x1021, initial value 0), the CRC
// Redis Cluster hashes keys with.
func crc16(s string) uint16 {
	var crc uint16
	for i := 0; i < len(s); i++ {
		crc ^= uint16(s[i]) << 8
		for range 8 {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
	}
	return crc
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
// "redis://127.0.0.1:p1?addr=127.0.0.1:p2&addr=127.0.0.1:p3", in the order
// of Nodes.
func (c *Cluster) URL() string {
	return seedURL(c.Addrs())
}

// URLFirst returns URL with first as the first seed and the other nodes
// after it in the order of Nodes. It panics when first is not a node of
// the cluster.
func (c *Cluster) URLFirst(first *Server) string {
	i := slices.Index(c.Nodes, first)
	if i < 0 {
		panic(fmt.Sprintf("redistest: URLFirst: %s is not a node of the cluster", first.Addr()))
	}
	addrs := c.Addrs()
	return seedURL(append([]string{addrs[i]}, slices.Concat(addrs[:i], addrs[i+1:])...))
}

func seedURL(addrs []string) string {
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
