package redistest

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

const (
	// sentinelMaster is the name under which a Sentinel monitors its master.
	sentinelMaster = "mymaster"
	// sentinelFailoverTimeout is the Sentinel's failover-timeout: how long a
	// failover may take, and half the pause before the next attempt. Redis's
	// default is 3 minutes.
	sentinelFailoverTimeout = 10 * time.Second
)

// Sentinel is a redis-server in sentinel mode watching one master.
type Sentinel struct {
	cfg    sentinelConfig
	port   int
	dir    string
	conf   string // sentinel.conf, which the Sentinel rewrites
	log    string // path of the file receiving the Sentinel's stdout and stderr
	master *Server
	proc   *process // set by launch, before StartSentinel returns
}

// A SentinelOption configures a Sentinel started by StartSentinel.
type SentinelOption func(*sentinelConfig)

type sentinelConfig struct {
	downAfter time.Duration // down-after-milliseconds
}

// DownAfter sets down-after-milliseconds, the time after which the Sentinel
// thinks an instance that does not answer is down and, for the master,
// starts a failover at once (quorum 1). It is rounded down to a
// millisecond. The default is 5 s.
func DownAfter(d time.Duration) SentinelOption {
	return func(c *sentinelConfig) { c.downAfter = d }
}

// StartSentinel starts a Sentinel on a free port that monitors master under
// the name "mymaster" (quorum 1, failover-timeout 10 s,
// down-after-milliseconds as set by DownAfter), and waits until SENTINEL
// get-master-addr-by-name mymaster answers master's address. When master is running and has
// replicas (see StartReplica), it also waits until the Sentinel has found
// each of them and sees it up and linked to the master, so that a failover
// can promote it. When master has a password the Sentinel is given it
// (sentinel auth-pass), for the replicas too. The Sentinel is killed when
// the test ends.
func StartSentinel(t testing.TB, master *Server, opts ...SentinelOption) *Sentinel {
	t.Helper()
	Require(t)
	s := &Sentinel{master: master, cfg: sentinelConfig{downAfter: 5 * time.Second}}
	for _, o := range opts {
		o(&s.cfg)
	}
	if s.cfg.downAfter < time.Millisecond {
		t.Fatalf("redistest: StartSentinel: DownAfter(%v) out of range", s.cfg.downAfter)
	}
	s.dir = t.TempDir()
	s.conf = filepath.Join(s.dir, "sentinel.conf")
	s.log = filepath.Join(s.dir, "redis-sentinel.log")
	// Registered after t.TempDir, so it runs before the directory is removed.
	t.Cleanup(s.kill)

	err := launchOnFreePort(t, FreePort, func(port int) (bool, error) {
		s.port = port
		return s.launch()
	})
	if err != nil {
		t.Fatalf("redistest: %v\n%s", err, s.output())
	}
	if master.alive() {
		if err := s.waitReplicas(); err != nil {
			t.Fatalf("redistest: sentinel on %s: %v\n%s", s.Addr(), err, s.output())
		}
	}
	return s
}

// waitReplicas polls the master and the Sentinel until the Sentinel sees
// every replica that the master reports online as up (flags "slave") and
// linked to the master (master-link-status ok), or fails after
// readyTimeout.
func (s *Sentinel) waitReplicas() error {
	deadline := time.Now().Add(readyTimeout)
	for {
		err := s.replicasKnown()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("replicas not ready after %v: %v", readyTimeout, err)
		}
		time.Sleep(pollInterval)
	}
}

// replicasKnown reports why the Sentinel does not see all of the master's
// replicas up yet, or nil when it does.
func (s *Sentinel) replicasKnown() error {
	m, err := s.master.doMessage("INFO", "replication")
	if err != nil {
		return err
	}
	info, err := m.ToString()
	if err != nil {
		return err
	}
	var records [][]string
	err = s.command(func(r *bufio.Reader) (err error) {
		records, err = readStringArrays(r)
		return err
	}, "SENTINEL", "REPLICAS", sentinelMaster)
	if err != nil {
		return err
	}
	seen := make(map[string]string) // "ip:port" to the problem, "" if none
	for _, rec := range records {
		fields := pairs(rec)
		switch {
		case fields["flags"] != "slave":
			seen[fields["name"]] = "has flags " + fields["flags"]
		case fields["master-link-status"] != "ok":
			seen[fields["name"]] = "has master-link-status " + fields["master-link-status"]
		default:
			seen[fields["name"]] = ""
		}
	}
	// Lines such as "slave0:ip=127.0.0.1,port=6380,state=online,offset=42,lag=0".
	for line := range strings.Lines(info) {
		name, v, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok || !strings.HasPrefix(name, "slave") || !strings.Contains(v, "state=online") {
			continue
		}
		var ip, port string
		for f := range strings.SplitSeq(v, ",") {
			if x, ok := strings.CutPrefix(f, "ip="); ok {
				ip = x
			} else if x, ok := strings.CutPrefix(f, "port="); ok {
				port = x
			}
		}
		addr := net.JoinHostPort(ip, port)
		switch problem, ok := seen[addr]; {
		case !ok:
			return fmt.Errorf("the sentinel does not know replica %s yet", addr)
		case problem != "":
			return fmt.Errorf("the sentinel's replica %s %s", addr, problem)
		}
	}
	return nil
}

// pairs turns a flat list of field names and values into a map.
func pairs(kv []string) map[string]string {
	m := make(map[string]string, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

// WaitFailover waits until the Sentinel announces replica as the master
// (SENTINEL get-master-addr-by-name mymaster), as it does once it has
// promoted it after the master went down. It returns when the Sentinel
// first flagged the master s_down, and when it announced replica. It fails
// the test when that takes longer than 30 s plus four down-after periods.
func (s *Sentinel) WaitFailover(t testing.TB, replica *Server) Failover {
	t.Helper()
	failed := func() bool {
		var fields []string
		err := s.command(func(r *bufio.Reader) (err error) {
			fields, err = readStringArray(r)
			return err
		}, "SENTINEL", "MASTER", sentinelMaster)
		return err == nil && slices.Contains(strings.Split(pairs(fields)["flags"], ","), "s_down")
	}
	promoted := func() error {
		_, addr, err := s.query()
		if err == nil && addr != replica.Addr() {
			err = fmt.Errorf("the sentinel announces %s as the master, not %s", addr, replica.Addr())
		}
		return err
	}
	return waitFailover(t, failoverTimeout+4*s.cfg.downAfter, failed, promoted)
}

// config returns the contents of sentinel.conf.
func (s *Sentinel) config() string {
	var b strings.Builder
	fmt.Fprintf(&b, "port %d\n", s.port)
	b.WriteString("bind 127.0.0.1\n")
	b.WriteString("daemonize no\n")
	fmt.Fprintf(&b, "sentinel monitor %s 127.0.0.1 %d 1\n", sentinelMaster, s.master.port)
	fmt.Fprintf(&b, "sentinel down-after-milliseconds %s %d\n", sentinelMaster, s.cfg.downAfter.Milliseconds())
	fmt.Fprintf(&b, "sentinel failover-timeout %s %d\n", sentinelMaster, sentinelFailoverTimeout.Milliseconds())
	if pw := s.master.cfg.password; pw != "" {
		fmt.Fprintf(&b, "sentinel auth-pass %s %s\n", sentinelMaster, confQuote(pw))
	}
	return b.String()
}

// confQuote quotes v for a redis configuration file: printable ASCII as it
// is, everything else, and the quote and backslash, as \xHH.
func confQuote(v string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			fmt.Fprintf(&b, `\x%02x`, c)
		} else {
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// launch writes a fresh sentinel.conf for s.port, starts the Sentinel and
// waits until it is ready. retry reports whether the failure was a port
// already in use.
func (s *Sentinel) launch() (retry bool, err error) {
	// The Sentinel rewrites its configuration file, which must be writable.
	if err := os.WriteFile(s.conf, []byte(s.config()), 0o600); err != nil {
		return false, err
	}
	p, start, err := spawn(s.dir, s.log, []string{s.conf, "--sentinel"})
	if err != nil {
		return false, err
	}
	s.proc = p

	if err := s.waitReady(p); err != nil {
		s.kill()
		return portTaken(s.log, start), fmt.Errorf("sentinel on %s did not start: %w", s.Addr(), err)
	}
	return false, nil
}

// waitReady polls the Sentinel until it answers, as process p, that the
// master of "mymaster" is at the master's address, or until p exits or
// readyTimeout passes.
func (s *Sentinel) waitReady(p *process) error {
	return p.pollReady(func() error {
		info, addr, err := s.query()
		switch {
		case err != nil:
			return err
		case !strings.Contains(info, p.pidField()):
			return errors.New("another process answers on the port")
		case !strings.Contains(info, "redis_mode:sentinel"):
			return errors.New("the server is not in sentinel mode")
		case addr != s.master.Addr():
			return fmt.Errorf("master address is %q, want %q", addr, s.master.Addr())
		}
		return nil
	})
}

// command sends one command to the Sentinel on a fresh connection and
// reads the reply with read.
func (s *Sentinel) command(read func(*bufio.Reader) error, args ...string) error {
	c, err := net.DialTimeout("tcp", s.Addr(), 250*time.Millisecond)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.SetDeadline(time.Now().Add(250 * time.Millisecond)); err != nil {
		return err
	}
	if err := writeCommand(c, args...); err != nil {
		return err
	}
	return read(bufio.NewReader(c))
}

// query sends INFO server and SENTINEL get-master-addr-by-name mymaster over
// a plain connection and returns the INFO text and the master's address.
func (s *Sentinel) query() (info, master string, err error) {
	c, err := net.DialTimeout("tcp", s.Addr(), 250*time.Millisecond)
	if err != nil {
		return "", "", err
	}
	defer c.Close()
	if err := c.SetDeadline(time.Now().Add(250 * time.Millisecond)); err != nil {
		return "", "", err
	}
	r := bufio.NewReader(c)
	if info, err = roundTrip(c, r, "INFO", "server"); err != nil {
		return "", "", err
	}
	// The reply is an array of two bulk strings, which roundTrip does not
	// read: send the command, then read the array here.
	cmd := "SENTINEL get-master-addr-by-name " + sentinelMaster + "\r\n" // inline command
	if _, err := io.WriteString(c, cmd); err != nil {
		return "", "", err
	}
	hostPort, err := readStringArray(r)
	if err != nil {
		return "", "", err
	}
	if len(hostPort) != 2 {
		return "", "", fmt.Errorf("get-master-addr-by-name answered %q", hostPort)
	}
	return info, net.JoinHostPort(hostPort[0], hostPort[1]), nil
}

// readStringArray reads an array reply of bulk strings. A nil array, which
// Sentinel gives for an unknown master, is an error.
func readStringArray(r *bufio.Reader) ([]string, error) {
	n, err := readArrayHeader(r)
	if err != nil {
		return nil, err
	}
	vs := make([]string, 0, n)
	for range n {
		line, err := r.ReadString('\n')
		if err != nil {
			return nil, err
		}
		line = strings.TrimSuffix(line, "\r\n")
		size, err := strconv.Atoi(strings.TrimPrefix(line, "$"))
		if !strings.HasPrefix(line, "$") || err != nil || size < 0 {
			return nil, fmt.Errorf("unexpected array element %q", line)
		}
		buf := make([]byte, size+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			return nil, err
		}
		vs = append(vs, string(buf[:size]))
	}
	return vs, nil
}

// readStringArrays reads an array reply whose elements are arrays of bulk
// strings, such as SENTINEL REPLICAS gives.
func readStringArrays(r *bufio.Reader) ([][]string, error) {
	n, err := readArrayHeader(r)
	if err != nil {
		return nil, err
	}
	vs := make([][]string, 0, n)
	for range n {
		v, err := readStringArray(r)
		if err != nil {
			return nil, err
		}
		vs = append(vs, v)
	}
	return vs, nil
}

// readArrayHeader reads the first line of an array reply and returns the
// number of elements. A nil array or an error reply is an error.
func readArrayHeader(r *bufio.Reader) (int, error) {
	line, err := r.ReadString('\n')
	if err != nil {
		return 0, err
	}
	line = strings.TrimSuffix(line, "\r\n")
	if strings.HasPrefix(line, "-") {
		return 0, errors.New(line[1:])
	}
	n, err := strconv.Atoi(strings.TrimPrefix(line, "*"))
	if !strings.HasPrefix(line, "*") || err != nil || n < 0 {
		return 0, fmt.Errorf("unexpected reply %q", line)
	}
	return n, nil
}

// output returns what the Sentinel wrote to stdout and stderr so far.
func (s *Sentinel) output() string {
	b, err := os.ReadFile(s.log)
	if err != nil {
		return fmt.Sprintf("(no sentinel output: %v)", err)
	}
	return "redis-server --sentinel output:\n" + string(b)
}

// kill stops the Sentinel, if running, with SIGKILL and waits for it to exit.
func (s *Sentinel) kill() {
	p := s.proc
	s.proc = nil
	if p != nil {
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// Addr returns the Sentinel's address, "127.0.0.1:port".
func (s *Sentinel) Addr() string {
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port))
}

// URL returns "redis://127.0.0.1:port?master_set=mymaster", the form in
// which rueidis.ParseURL takes a Sentinel. When the master has a password it
// is in the URL ("redis://:password@127.0.0.1:port?master_set=mymaster"),
// where rueidis uses it for the master only: the Sentinel itself has none.
func (s *Sentinel) URL() string {
	u := url.URL{Scheme: "redis", Host: s.Addr(), RawQuery: "master_set=" + sentinelMaster}
	if s.master.cfg.password != "" {
		u.User = url.UserPassword("", s.master.cfg.password)
	}
	return u.String()
}
