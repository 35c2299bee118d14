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
	"strconv"
	"strings"
	"testing"
	"time"
)

// sentinelMaster is the name under which a Sentinel monitors its master.
const sentinelMaster = "mymaster"

// Sentinel is a redis-server in sentinel mode watching one master.
type Sentinel struct {
	port   int
	dir    string
	conf   string // sentinel.conf, which the Sentinel rewrites
	log    string // path of the file receiving the Sentinel's stdout and stderr
	master *Server
	proc   *process // set by launch, before StartSentinel returns
}

// StartSentinel starts a Sentinel on a free port that monitors master under
// the name "mymaster" (quorum 1, down-after-milliseconds 5000), and waits
// until SENTINEL get-master-addr-by-name mymaster answers master's address.
// When master has a password the Sentinel is given it (sentinel auth-pass).
// The Sentinel is killed when the test ends.
func StartSentinel(t testing.TB, master *Server) *Sentinel {
	t.Helper()
	Require(t)
	s := &Sentinel{master: master}
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
	return s
}

// config returns the contents of sentinel.conf.
func (s *Sentinel) config() string {
	var b strings.Builder
	fmt.Fprintf(&b, "port %d\n", s.port)
	b.WriteString("bind 127.0.0.1\n")
	b.WriteString("daemonize no\n")
	fmt.Fprintf(&b, "sentinel monitor %s 127.0.0.1 %d 1\n", sentinelMaster, s.master.port)
	fmt.Fprintf(&b, "sentinel down-after-milliseconds %s 5000\n", sentinelMaster)
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
	line, err := r.ReadString('\n')
	if err != nil {
		return nil, err
	}
	line = strings.TrimSuffix(line, "\r\n")
	if strings.HasPrefix(line, "-") {
		return nil, errors.New(line[1:])
	}
	n, err := strconv.Atoi(strings.TrimPrefix(line, "*"))
	if !strings.HasPrefix(line, "*") || err != nil || n < 0 {
		return nil, fmt.Errorf("unexpected reply %q", line)
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
