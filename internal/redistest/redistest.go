// Package redistest starts real redis-server processes for tests.
//
// Every server listens on a free port on 127.0.0.1, keeps its files in a
// directory from t.TempDir, persists nothing, and is killed by t.Cleanup
// when the test ends. The package is meant to be imported only by _test.go
// files.
//
// Tests are skipped when redis-server is not installed, unless the
// environment variable CI is set, in which case they fail.
package redistest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/rueidis"
	"go.uber.org/goleak"
)

const (
	// readyTimeout bounds how long a starting server may take to answer.
	readyTimeout = 10 * time.Second
	// adminTimeout bounds every admin command sent by the helpers.
	adminTimeout = 10 * time.Second
	// startAttempts is how often Start tries a new port when the chosen
	// one was taken before redis-server could bind it.
	startAttempts = 5
)

// Require skips the test when redis-server is not on PATH. When the
// environment variable CI is non-empty it fails the test instead, so that a
// CI job without Redis cannot pass silently.
func Require(t testing.TB) {
	t.Helper()
	requireBinary(t, "redis-server")
}

func requireBinary(t testing.TB, name string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("redistest: %s is required when CI is set, but it is not on PATH: %v", name, err)
		}
		t.Skipf("redistest: %s not on PATH: %v", name, err)
	}
}

// An Option configures a server started by Start.
type Option func(*config)

type config struct {
	password string
	users    []aclUser
	args     []string             // extra redis-server arguments
	port     func(testing.TB) int // port picker, FreePort by default
	noSAN    bool                 // StartTLS: the address in the Common Name only
}

type aclUser struct {
	name, password string
	rules          []string
}

// Password makes the server require pw for the default user
// (redis-server --requirepass pw).
func Password(pw string) Option {
	return func(c *config) { c.password = pw }
}

// ACLUser adds the ACL user name with the given password once the server is
// up, as if by
//
//	ACL SETUSER name reset on >password rules...
//
// Rules use the ACL SETUSER syntax, for example "~*", "+@all", "-client".
// A user given no rules may authenticate but run no command. The user is
// created again after Restart.
func ACLUser(name, password string, rules ...string) Option {
	return func(c *config) {
		c.users = append(c.users, aclUser{name: name, password: password, rules: rules})
	}
}

// withArgs appends raw redis-server arguments.
func withArgs(args ...string) Option {
	return func(c *config) { c.args = append(c.args, args...) }
}

// withPortPicker replaces FreePort as the way to choose a port.
func withPortPicker(f func(testing.TB) int) Option {
	return func(c *config) { c.port = f }
}

// Server is one redis-server process.
type Server struct {
	cfg  config
	port int
	dir  string
	log  string // path of the file receiving the server's stdout and stderr

	mu    sync.Mutex
	proc  *process       // nil after Kill
	admin rueidis.Client // lazily created, nil after Kill
}

// process is one run of redis-server. done is closed once it has exited.
type process struct {
	cmd  *exec.Cmd
	done chan struct{}
	err  error // result of Wait, valid after done is closed
}

// Start starts a redis-server on a free loopback port and waits until it
// answers. The server is killed when the test ends.
func Start(t testing.TB, opts ...Option) *Server {
	t.Helper()
	Require(t)
	s := &Server{}
	for _, o := range opts {
		o(&s.cfg)
	}
	if s.cfg.port == nil {
		s.cfg.port = FreePort
	}
	s.dir = t.TempDir()
	s.log = filepath.Join(s.dir, "redis-server.log")
	// Registered after t.TempDir, so it runs before the directory is removed.
	t.Cleanup(s.stop)

	err := launchOnFreePort(t, s.cfg.port, func(port int) (bool, error) {
		s.port = port
		return s.launch()
	})
	if err != nil {
		t.Fatalf("redistest: %v\n%s", err, s.output())
	}
	s.afterStart(t)
	return s
}

// launchOnFreePort calls launch with a port from pick until it starts, or
// fails for another reason than the port being taken meanwhile, at most
// startAttempts times.
func launchOnFreePort(t testing.TB, pick func(testing.TB) int, launch func(port int) (retry bool, err error)) error {
	var err error
	for i := range startAttempts {
		var retry bool
		if retry, err = launch(pick(t)); err == nil || !retry {
			return err
		}
		err = fmt.Errorf("%w (port in use, attempt %d of %d)", err, i+1, startAttempts)
	}
	return err
}

// launch starts redis-server on s.port and waits until it is ready. retry
// reports whether the failure was a port already in use.
func (s *Server) launch() (retry bool, err error) {
	args := []string{
		"--save", "",
		"--appendonly", "no",
		"--daemonize", "no",
		"--bind", "127.0.0.1",
		"--port", strconv.Itoa(s.port),
		"--dir", s.dir,
		// A replica syncs at once instead of after Redis 7.0's default 5 s.
		"--repl-diskless-sync-delay", "0",
	}
	if s.cfg.password != "" {
		args = append(args, "--requirepass", s.cfg.password)
	}
	args = append(args, s.cfg.args...)

	p, start, err := spawn(s.dir, s.log, args)
	if err != nil {
		return false, err
	}
	s.mu.Lock()
	s.proc = p
	s.mu.Unlock()

	if err := s.waitReady(p); err != nil {
		s.kill()
		return portTaken(s.log, start), fmt.Errorf("redis-server on %s did not start: %w", s.Addr(), err)
	}
	return false, nil
}

// spawn starts redis-server with args in dir, its output appended to the
// file at logPath, and returns the process and the log's length before it.
func spawn(dir, logPath string, args []string) (p *process, start int64, err error) {
	logf, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, 0, err
	}
	defer logf.Close() // the child keeps its own descriptor
	if start, err = logf.Seek(0, io.SeekEnd); err != nil {
		return nil, 0, err
	}
	fmt.Fprintf(logf, "### redistest: redis-server %q\n", args)

	cmd := exec.Command("redis-server", args...)
	cmd.Dir = dir
	// An *os.File is handed to the child as is: no copying goroutine.
	cmd.Stdout = logf
	cmd.Stderr = logf
	if err := cmd.Start(); err != nil {
		return nil, 0, fmt.Errorf("starting redis-server %q: %w", args, err)
	}
	p = &process{cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, start, nil
}

// portTaken reports whether the log at logPath says, past start, that the
// port was already in use.
func portTaken(logPath string, start int64) bool {
	out, _ := os.ReadFile(logPath)
	return int64(len(out)) > start && strings.Contains(string(out[start:]), "Address already in use")
}

// afterStart applies the configuration that needs a running server.
func (s *Server) afterStart(t testing.TB) {
	t.Helper()
	for _, u := range s.cfg.users {
		args := append([]string{"ACL", "SETUSER", u.name, "reset", "on", ">" + u.password}, u.rules...)
		if _, err := s.Do(t, args...); err != nil {
			t.Fatalf("redistest: creating ACL user %q: %v", u.name, err)
		}
	}
}

// waitReady polls the server until it answers INFO with the process id of p,
// p exits, or readyTimeout passes. Checking the process id makes sure the
// answer does not come from another process that took the port.
func (s *Server) waitReady(p *process) error {
	return p.pollReady(func() error {
		info, err := s.rawInfo()
		if err != nil {
			return err
		}
		if !strings.Contains(info, p.pidField()) {
			return errors.New("another process answers on the port")
		}
		return nil
	})
}

// pidField is the INFO line that names p's process id.
func (p *process) pidField() string {
	return "process_id:" + strconv.Itoa(p.cmd.Process.Pid) + "\r\n"
}

// pollReady calls ready every 20ms until it returns nil, p exits, or
// readyTimeout passes; then it returns ready's last error.
func (p *process) pollReady(ready func() error) error {
	deadline := time.Now().Add(readyTimeout)
	for {
		select {
		case <-p.done:
			return fmt.Errorf("redis-server %q exited: %v", p.cmd.Args[1:], p.err)
		default:
		}
		err := ready()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not ready after %v: %v", readyTimeout, err)
		}
		select {
		case <-p.done:
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// rawInfo sends INFO server over a plain connection, authenticating first
// when the server has a password.
func (s *Server) rawInfo() (string, error) {
	// Short timeouts: a process that is not ours may hold the port and
	// never answer, and waitReady must notice soon when ours exits.
	c, err := net.DialTimeout("tcp", s.Addr(), 250*time.Millisecond)
	if err != nil {
		return "", err
	}
	defer c.Close()
	if err := c.SetDeadline(time.Now().Add(250 * time.Millisecond)); err != nil {
		return "", err
	}
	r := bufio.NewReader(c)
	if s.cfg.password != "" {
		if _, err := roundTrip(c, r, "AUTH", s.cfg.password); err != nil {
			return "", err
		}
	}
	return roundTrip(c, r, "INFO", "server")
}

// roundTrip writes one command in RESP and reads a simple string, error or
// bulk string reply.
func roundTrip(w io.Writer, r *bufio.Reader, args ...string) (string, error) {
	if err := writeCommand(w, args...); err != nil {
		return "", err
	}
	line, err := r.ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimSuffix(line, "\r\n")
	switch {
	case strings.HasPrefix(line, "+"):
		return line[1:], nil
	case strings.HasPrefix(line, "-"):
		return "", errors.New(line[1:])
	case strings.HasPrefix(line, "$"):
		n, err := strconv.Atoi(line[1:])
		if err != nil || n < 0 {
			return "", fmt.Errorf("unexpected reply %q", line)
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			return "", err
		}
		return string(buf[:n]), nil
	}
	return "", fmt.Errorf("unexpected reply %q", line)
}

// writeCommand writes one command in RESP.
func writeCommand(w io.Writer, args ...string) error {
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// output returns what the server wrote to stdout and stderr so far.
func (s *Server) output() string {
	b, err := os.ReadFile(s.log)
	if err != nil {
		return fmt.Sprintf("(no server output: %v)", err)
	}
	return "redis-server output:\n" + string(b)
}

// Addr returns the server's address, "127.0.0.1:port".
func (s *Server) Addr() string {
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port))
}

// URL returns "redis://127.0.0.1:port", with the password of the default
// user when Password was given ("redis://:password@127.0.0.1:port"). It is
// meant for rueidis.ParseURL.
func (s *Server) URL() string {
	u := url.URL{Scheme: "redis", Host: s.Addr()}
	if s.cfg.password != "" {
		u.User = url.UserPassword("", s.cfg.password)
	}
	return u.String()
}

// URLFor returns "redis://user:password@127.0.0.1:port" with user and
// password escaped as needed.
func (s *Server) URLFor(user, password string) string {
	u := url.URL{Scheme: "redis", Host: s.Addr(), User: url.UserPassword(user, password)}
	return u.String()
}

// Kill kills the server with SIGKILL and waits for it to exit. Its data is
// lost. The server keeps its port and configuration for Restart, but the
// port is not held while the server is down.
func (s *Server) Kill(t testing.TB) {
	t.Helper()
	s.kill()
}

// Restart starts the server again on the same port with the same
// configuration and waits until it answers. A running server is killed
// first.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	s.kill()
	var err error
	for i := range startAttempts {
		var retry bool
		if retry, err = s.launch(); err == nil || !retry {
			break
		}
		err = fmt.Errorf("%w (port in use, attempt %d of %d)", err, i+1, startAttempts)
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("redistest: restart: %v\n%s", err, s.output())
	}
	s.afterStart(t)
}

// Freeze stops the server with SIGSTOP. Its connections stay open but it
// answers nothing until Thaw. Do and the other helpers block while the
// server is frozen.
func (s *Server) Freeze(t testing.TB) {
	t.Helper()
	p := s.running(t)
	if err := p.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatalf("redistest: freeze %s: %v", s.Addr(), err)
	}
	waitState(p.cmd.Process.Pid, 'T')
}

// Thaw resumes a server stopped by Freeze with SIGCONT.
func (s *Server) Thaw(t testing.TB) {
	t.Helper()
	p := s.running(t)
	if err := p.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatalf("redistest: thaw %s: %v", s.Addr(), err)
	}
}

// waitState waits briefly until /proc reports the process in the given
// state. Where /proc is missing it returns at once.
func waitState(pid int, state byte) {
	path := fmt.Sprintf("/proc/%d/stat", pid)
	for range 100 {
		b, err := os.ReadFile(path)
		if err != nil {
			return
		}
		// The state follows the command name, which is in parentheses.
		if i := strings.LastIndexByte(string(b), ')'); i < 0 || i+2 >= len(b) || b[i+2] == state {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (s *Server) running(t testing.TB) *process {
	t.Helper()
	s.mu.Lock()
	p := s.proc
	s.mu.Unlock()
	if p == nil {
		t.Fatalf("redistest: server %s is not running", s.Addr())
	}
	return p
}

// alive reports whether the server is running: started and not killed.
func (s *Server) alive() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.proc != nil
}

// kill stops the process, if any, and closes the admin client.
func (s *Server) kill() {
	s.mu.Lock()
	p, admin := s.proc, s.admin
	s.proc, s.admin = nil, nil
	s.mu.Unlock()
	if p != nil {
		// SIGCONT first in case the server was frozen.
		_ = p.cmd.Process.Signal(syscall.SIGCONT)
		_ = p.cmd.Process.Kill()
		<-p.done
	}
	if admin != nil {
		// After the kill, so that closing does not wait on a frozen server.
		admin.Close()
	}
}

// stop is the cleanup registered by Start.
func (s *Server) stop() { s.kill() }

// client returns the admin client, creating it if needed.
func (s *Server) client() (rueidis.Client, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc == nil {
		return nil, fmt.Errorf("redistest: server %s is not running", s.Addr())
	}
	if s.admin != nil {
		return s.admin, nil
	}
	c, err := rueidis.NewClient(rueidis.ClientOption{
		InitAddress:       []string{s.Addr()},
		Password:          s.cfg.password,
		ForceSingleClient: true, // also for cluster nodes: talk to this node only
		DisableCache:      true,
		AlwaysRESP2:       true, // replies without RESP3 maps keep their order
		DisableRetry:      true,
		ClientSetInfo:     rueidis.DisableClientSetInfo,
		Dialer:            net.Dialer{Timeout: 2 * time.Second},
	})
	if err != nil {
		return nil, fmt.Errorf("redistest: admin client for %s: %w", s.Addr(), err)
	}
	s.admin = c
	return c, nil
}

// doMessage runs one command on the admin client.
func (s *Server) doMessage(args ...string) (rueidis.RedisMessage, error) {
	c, err := s.client()
	if err != nil {
		return rueidis.RedisMessage{}, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), adminTimeout)
	defer cancel()
	return c.Do(ctx, c.B().Arbitrary(args...).Build()).ToMessage()
}

// Do runs one command, such as FLUSHALL, INFO or CONFIG SET, on a dedicated
// admin connection authenticated as the default user, and returns the reply
// as text: strings as they are, integers in decimal, and arrays as their
// elements on separate lines. A nil reply yields the error rueidis.Nil;
// Redis errors and connection errors are returned as they are. Each call
// times out after 10 seconds.
func (s *Server) Do(t testing.TB, args ...string) (string, error) {
	t.Helper()
	if len(args) == 0 {
		return "", errors.New("redistest: Do needs a command")
	}
	m, err := s.doMessage(args...)
	if err != nil {
		return "", err
	}
	return format(m)
}

func format(m rueidis.RedisMessage) (string, error) {
	if err := m.Error(); err != nil {
		return "", err
	}
	if m.IsInt64() {
		n, err := m.ToInt64()
		return strconv.FormatInt(n, 10), err
	}
	if m.IsArray() {
		vs, err := m.ToArray()
		if err != nil {
			return "", err
		}
		lines := make([]string, len(vs))
		for i, v := range vs {
			if lines[i], err = format(v); err != nil && !rueidis.IsRedisNil(err) {
				lines[i] = err.Error()
			}
		}
		return strings.Join(lines, "\n"), nil
	}
	return m.ToString()
}

// CommandCalls returns the number of calls per command since the server
// started or since ResetStats, parsed from INFO commandstats. Keys are the
// lower-case names Redis reports after "cmdstat_", such as "evalsha" or
// "client|tracking". The counts include the helpers' own commands (for
// example "info" and "config|resetstat").
func (s *Server) CommandCalls(t testing.TB) map[string]int64 {
	t.Helper()
	return s.commandStats(t, "calls")
}

// CommandTime returns the time the server spent per command since it started
// or since ResetStats, from the usec field of INFO commandstats, keyed as
// CommandCalls keys them. A script's time (evalsha, eval, fcall) includes the
// commands it runs, which are also counted under their own names.
func (s *Server) CommandTime(t testing.TB) map[string]time.Duration {
	t.Helper()
	usec := s.commandStats(t, "usec")
	out := make(map[string]time.Duration, len(usec))
	for name, n := range usec {
		out[name] = time.Duration(n) * time.Microsecond
	}
	return out
}

func (s *Server) commandStats(t testing.TB, field string) map[string]int64 {
	t.Helper()
	info, err := s.Do(t, "INFO", "commandstats")
	if err != nil {
		t.Fatalf("redistest: INFO commandstats on %s: %v", s.Addr(), err)
	}
	stats, err := parseCommandStats(info, field)
	if err != nil {
		t.Fatalf("redistest: INFO commandstats on %s: %v", s.Addr(), err)
	}
	return stats
}

// parseCommandStats parses the field (such as calls or usec) of lines like
//
//	cmdstat_set:calls=3,usec=12,usec_per_call=4.00,rejected_calls=0,failed_calls=0
func parseCommandStats(info, field string) (map[string]int64, error) {
	stats := make(map[string]int64)
	for line := range strings.Lines(info) {
		line = strings.TrimSpace(line)
		rest, ok := strings.CutPrefix(line, "cmdstat_")
		if !ok {
			continue
		}
		name, fields, ok := strings.Cut(rest, ":")
		if !ok {
			return nil, fmt.Errorf("malformed line %q", line)
		}
		found := false
		for f := range strings.SplitSeq(fields, ",") {
			if v, ok := strings.CutPrefix(f, field+"="); ok {
				n, err := strconv.ParseInt(v, 10, 64)
				if err != nil {
					return nil, fmt.Errorf("malformed line %q: %v", line, err)
				}
				stats[name] = n
				found = true
				break
			}
		}
		if !found {
			return nil, fmt.Errorf("no %s= in line %q", field, line)
		}
	}
	return stats, nil
}

// CPU returns the processor time the server has used so far, user and
// system, from INFO cpu.
func (s *Server) CPU(t testing.TB) time.Duration {
	t.Helper()
	info, err := s.Do(t, "INFO", "cpu")
	if err != nil {
		t.Fatalf("redistest: INFO cpu on %s: %v", s.Addr(), err)
	}
	cpu, err := parseCPU(info)
	if err != nil {
		t.Fatalf("redistest: INFO cpu on %s: %v", s.Addr(), err)
	}
	return cpu
}

// parseCPU adds the used_cpu_sys and used_cpu_user lines of INFO cpu, in
// seconds such as "used_cpu_sys:1.234567".
func parseCPU(info string) (time.Duration, error) {
	var total time.Duration
	found := 0
	for line := range strings.Lines(info) {
		name, v, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok || name != "used_cpu_sys" && name != "used_cpu_user" {
			continue
		}
		sec, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return 0, fmt.Errorf("malformed line %q: %v", line, err)
		}
		total += time.Duration(sec * float64(time.Second))
		found++
	}
	if found != 2 {
		return 0, fmt.Errorf("no used_cpu_sys and used_cpu_user in %q", info)
	}
	return total, nil
}

// ResetStats resets the server's statistics, including the counts
// CommandCalls reports, with CONFIG RESETSTAT.
func (s *Server) ResetStats(t testing.TB) {
	t.Helper()
	if _, err := s.Do(t, "CONFIG", "RESETSTAT"); err != nil {
		t.Fatalf("redistest: CONFIG RESETSTAT on %s: %v", s.Addr(), err)
	}
}

// FreePort returns a TCP port that was free on 127.0.0.1 a moment ago, as
// chosen by the kernel for a listener on 127.0.0.1:0.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("redistest: finding a free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// LeakOptions returns the options that test binaries using rueidis clients
// on these servers should pass to goleak.VerifyTestMain.
//
// They ignore goroutines that rueidis v1.0.79 starts on purpose and does
// not stop on Client.Close; all end by themselves within a few seconds and
// hold nothing of the caller's:
//   - a topology refresh delayed by up to a second, started when a cluster
//     connection breaks, for example because its server was killed;
//   - the closing, 5 s later, of connections that a cluster topology refresh
//     replaced. A client opened from Cluster.URL, which names several seeds,
//     often hits this on its first refresh, because the other seeds are
//     still being dialed while it runs;
//   - the same delayed closing after a MOVED redirect to the same address.
func LeakOptions() []goleak.Option {
	return []goleak.Option{
		goleak.IgnoreAnyFunction("github.com/redis/rueidis.(*call).DelayDo.func1"),
		goleak.IgnoreAnyFunction("github.com/redis/rueidis.(*clusterClient)._refresh.func2"),
		goleak.IgnoreAnyFunction("github.com/redis/rueidis.(*clusterClient).redirectOrNew.func1"),
	}
}
