package redistest

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// failoverTimeout is how long a failover may take beyond four failure
// detection periods (cluster-node-timeout or down-after-milliseconds). It is
// generous: on a quiet machine a failover takes one to three periods.
const failoverTimeout = 30 * time.Second

// pollInterval is the pause between two polls of the helpers that wait for a
// replica or a failover, and so the resolution of the times they report.
const pollInterval = 20 * time.Millisecond

// Failover is the timeline of a failover as Cluster.WaitFailover or
// Sentinel.WaitFailover saw it. Each time is that of the first poll that
// saw the step; polls are 20 ms apart.
type Failover struct {
	// Failed is when the dead master was first seen marked as failed: with
	// the flag fail in a live cluster node's CLUSTER NODES, or with s_down
	// in the Sentinel's SENTINEL MASTER. It is zero when no poll up to the
	// one that saw the promotion saw it, which happens when the node killed
	// was a cluster replica. A cluster keeps the flag, so for a killed
	// master it is at worst the time of the promotion.
	Failed time.Time
	// Promoted is when a replica was first seen serving in the master's
	// place.
	Promoted time.Time
}

// waitFailover calls failed and promoted every pollInterval until promoted
// returns nil, and returns when failed first returned true and when
// promoted returned nil. It fails the test, with promoted's last error,
// after timeout.
func waitFailover(t testing.TB, timeout time.Duration, failed func() bool, promoted func() error) Failover {
	t.Helper()
	var f Failover
	deadline := time.Now().Add(timeout)
	for {
		now := time.Now()
		if f.Failed.IsZero() && failed() {
			f.Failed = now
		}
		err := promoted()
		if err == nil {
			f.Promoted = now
			return f
		}
		if now.After(deadline) {
			t.Fatalf("redistest: no failover after %v (the master was marked failed: %t): %v", timeout, !f.Failed.IsZero(), err)
		}
		time.Sleep(pollInterval)
	}
}

// StartReplica starts a server like Start, as a replica of master
// (replicaof), and waits until it has synced with it
// (master_link_status:up). The replica is given the master's password both
// to authenticate with the master (masterauth) and to require from its own
// clients, so that it can stand in for the master after a failover; a
// Password among opts overrides the latter.
//
// Restart starts the replica again as a replica of master, but does not
// wait for it to sync.
func StartReplica(t testing.TB, master *Server, opts ...Option) *Server {
	t.Helper()
	base := []Option{withArgs("--replicaof", "127.0.0.1", fmt.Sprint(master.port))}
	if pw := master.cfg.password; pw != "" {
		base = append(base, Password(pw), withArgs("--masterauth", pw))
	}
	s := Start(t, append(base, opts...)...)
	if err := s.waitSynced(); err != nil {
		t.Fatalf("redistest: replica %s of %s: %v\n%s", s.Addr(), master.Addr(), err, s.output())
	}
	return s
}

// waitSynced polls INFO replication until the server reports
// master_link_status:up, or fails after readyTimeout.
func (s *Server) waitSynced() error {
	deadline := time.Now().Add(readyTimeout)
	for {
		err := s.synced()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not in sync after %v: %v", readyTimeout, err)
		}
		time.Sleep(pollInterval)
	}
}

// synced reports why the server is not a replica in sync with its master,
// or nil when it is.
func (s *Server) synced() error {
	m, err := s.doMessage("INFO", "replication")
	if err != nil {
		return err
	}
	info, err := m.ToString()
	if err != nil {
		return err
	}
	if !strings.Contains(info, "master_link_status:up\r\n") {
		return fmt.Errorf("%s: master_link_status is not up", s.Addr())
	}
	return nil
}
