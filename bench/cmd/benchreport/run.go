package main

import (
	"bufio"
	"cmp"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// A plan lists the sub-benchmarks of BenchmarkPeers by scenario, in the
// order the test binary lists them (-peers.list).
type plan []scenarioPlan

// A scenarioPlan is one scenario and the sub-benchmark names of its
// libraries, such as "ginlimit/sliding".
type scenarioPlan struct {
	Name      string
	Libraries []string
}

// parsePlan parses the output of the test binary's -peers.list: one
// scenario/library[/variant] a line.
func parsePlan(list string) (plan, error) {
	var p plan
	for line := range strings.Lines(list) {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		scenario, lib, ok := strings.Cut(line, "/")
		if !ok || scenario == "" || lib == "" {
			return nil, fmt.Errorf("-peers.list: %q is not scenario/library", line)
		}
		if n := len(p); n == 0 || p[n-1].Name != scenario {
			p = append(p, scenarioPlan{Name: scenario})
		}
		p[len(p)-1].Libraries = append(p[len(p)-1].Libraries, lib)
	}
	if len(p) == 0 {
		return nil, errors.New("-peers.list listed no sub-benchmark")
	}
	return p, nil
}

// A subRun is one run of one sub-benchmark.
type subRun struct {
	Round    int // from 1
	Scenario string
	Library  string
	// Goroutines, if not 0, replaces the suite's Goroutines.
	Goroutines int
	// Args are extra arguments for the test binary, such as -peers.pool,
	// and Config the "key: value" lines that describe the run in the raw
	// output; both empty in the main suite.
	Args   []string
	Config []string
}

// Name returns the sub-benchmark's name under BenchmarkPeers.
func (r subRun) Name() string { return r.Scenario + "/" + r.Library }

// schedule returns the runs of count rounds of p. Each round runs every
// sub-benchmark once, scenario by scenario; within a scenario, round r
// starts from the library after the one round r-1 started from, and wraps
// around. So no library runs its repetitions back to back, each one runs
// early in some rounds and late in others, and a machine that drifts in
// speed during the run slows every library alike.
func schedule(p plan, count int) []subRun {
	var runs []subRun
	for r := range count {
		for _, sc := range p {
			n := len(sc.Libraries)
			for i := range n {
				runs = append(runs, subRun{Round: r + 1, Scenario: sc.Name, Library: sc.Libraries[(r+i)%n]})
			}
		}
	}
	return runs
}

// benchPattern returns the -test.bench pattern that selects exactly the
// sub-benchmark of scenario and library: each level of the name anchored.
func benchPattern(scenario, library string) string {
	parts := []string{"^Benchmark" + benchmarkName + "$"}
	for _, elem := range append([]string{scenario}, strings.Split(library, "/")...) {
		parts = append(parts, "^"+regexp.QuoteMeta(elem)+"$")
	}
	return strings.Join(parts, "/")
}

// A suite is how to run the sub-benchmarks.
type suite struct {
	Dir        string // the bench module
	Count      int    // rounds
	Benchtime  string // -test.benchtime of each run
	Goroutines int    // -peers.goroutines
}

// binaryArgs returns the arguments of the test binary that run r once.
func (s suite) binaryArgs(r subRun) []string {
	args := []string{
		"-test.run", "^$", "-test.bench", benchPattern(r.Scenario, r.Library),
		"-test.benchmem", "-test.count", "1", "-test.benchtime", s.Benchtime, "-test.timeout", "10m",
		"-peers.goroutines", fmt.Sprint(cmp.Or(r.Goroutines, s.Goroutines)),
	}
	return append(args, r.Args...)
}

// describe returns the commands that the suite runs for each sub-benchmark
// and round, for the page and the raw output.
func (s suite) describe() string {
	example := subRun{Scenario: "SCENARIO", Library: "LIBRARY/VARIANT"}
	args := s.binaryArgs(example)
	args[3] = "'^BenchmarkPeers$/^SCENARIO$/^LIBRARY$/^VARIANT$'"
	quoted := shellJoin(args[:3]) + " " + args[3] + " " + shellJoin(args[4:])
	return "go test -c -o bench.test . && ./bench.test " + quoted
}

// build compiles the bench module's tests into a binary in dir and returns
// its path.
func (s suite) build(dir string, progress io.Writer) (string, error) {
	bin := filepath.Join(dir, "bench.test")
	args := []string{"test", "-c", "-o", bin, "."}
	fmt.Fprintf(progress, "benchreport: go %s\n", shellJoin(args))
	cmd := exec.Command("go", args...)
	cmd.Dir = s.Dir
	cmd.Stdout, cmd.Stderr = progress, progress
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go test -c: %w", err)
	}
	return bin, nil
}

// list returns the plan of the test binary bin.
func (s suite) list(bin string) (plan, error) {
	cmd := exec.Command(bin, "-peers.list")
	cmd.Dir = s.Dir
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("%s -peers.list: %w", bin, err)
	}
	return parsePlan(string(out))
}

// run runs every one of runs with the test binary bin, in order, and writes
// their output to raw in the form benchstat reads: the configuration lines
// of go test (goos, cpu, ...) where they change, the results, and the lines
// the benchmarks log. Progress goes to progress.
func (s suite) run(bin string, runs []subRun, raw, progress io.Writer) error {
	w := &rawWriter{w: raw, config: make(map[string]string)}
	start := time.Now()
	for i, r := range runs {
		for _, line := range r.Config {
			if err := w.line(line); err != nil {
				return err
			}
		}
		cmd := exec.Command(bin, s.binaryArgs(r)...)
		cmd.Dir = s.Dir
		cmd.Stderr = progress
		out, err := cmd.StdoutPipe()
		if err != nil {
			return err
		}
		if err := cmd.Start(); err != nil {
			return err
		}
		results := 0
		sc := bufio.NewScanner(out)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			line := sc.Text()
			isResult, err := w.copy(line)
			if err != nil {
				io.Copy(io.Discard, out) // let the binary finish rather than block
				cmd.Wait()
				return err
			}
			if isResult {
				results++
				fields := strings.Fields(line)
				fmt.Fprintf(progress, "benchreport: [round %d/%d, %d/%d, %s] %s %s\n",
					r.Round, s.Count, i+1, len(runs), time.Since(start).Round(time.Second), fields[0], strings.Join(fields[2:], " "))
			} else if t := strings.TrimSpace(line); t != "" && t != "PASS" && !isConfigLine(line) {
				fmt.Fprintln(progress, line)
			}
		}
		scanErr := sc.Err()
		if scanErr != nil {
			io.Copy(io.Discard, out)
		}
		if err := cmd.Wait(); err != nil {
			return fmt.Errorf("%s (round %d): %w", r.Name(), r.Round, err)
		}
		if scanErr != nil {
			return fmt.Errorf("%s: reading the output: %w", r.Name(), scanErr)
		}
		if results != 1 {
			return fmt.Errorf("%s (round %d): got %d results, want 1", r.Name(), r.Round, results)
		}
	}
	fmt.Fprintf(progress, "benchreport: %d runs in %s\n", len(runs), time.Since(start).Round(time.Second))
	return nil
}

// configLineRE matches a configuration line of the Go benchmark format:
// a key that starts with a lower-case letter and has no space, a colon, and
// a value.
var configLineRE = regexp.MustCompile(`^[a-z][^\s:]*:(\s|$)`)

func isConfigLine(line string) bool { return configLineRE.MatchString(line) }

// A rawWriter writes the output of many runs of the test binary as one
// benchmark file: it drops PASS lines, and configuration lines that repeat
// the value in force.
type rawWriter struct {
	w      io.Writer
	config map[string]string
}

// copy writes line unless it is redundant, and reports whether it is a
// result line.
func (w *rawWriter) copy(line string) (isResult bool, err error) {
	switch {
	case strings.TrimSpace(line) == "PASS":
		return false, nil
	case strings.HasPrefix(line, "Benchmark"):
		return strings.Contains(line, "ns/op"), w.write(line)
	}
	return false, w.line(line)
}

// line writes line, unless it is a configuration line that sets a key to
// the value it has.
func (w *rawWriter) line(line string) error {
	if isConfigLine(line) {
		key, value, _ := strings.Cut(line, ":")
		value = strings.TrimSpace(value)
		if v, ok := w.config[key]; ok && v == value {
			return nil
		}
		w.config[key] = value
	}
	return w.write(line)
}

func (w *rawWriter) write(line string) error {
	_, err := fmt.Fprintln(w.w, line)
	return err
}

// goVersion returns the version and platform of the go command in dir, as
// "go1.26.8 linux/amd64", or an explanation of why it is unknown.
func goVersion(dir string) string {
	return strings.TrimPrefix(commandLine(dir, "go", "version"), "go version ")
}

var redisVersionRE = regexp.MustCompile(`\bv=(\S+)`)

// redisVersion returns the version of the redis-server on the PATH, such
// as "7.0.15", or an explanation of why it is unknown.
func redisVersion() string {
	line := commandLine("", "redis-server", "--version")
	if m := redisVersionRE.FindStringSubmatch(line); m != nil {
		return m[1]
	}
	return line
}

// commandLine runs a command in dir and returns the first line of its
// output, or "unknown" and the reason.
func commandLine(dir, name string, args ...string) string {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		return fmt.Sprintf("unknown (%s: %v)", name, err)
	}
	line, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	return line
}

// shellJoin joins args into a command line for a POSIX shell, quoting the
// ones that need it.
func shellJoin(args []string) string {
	quoted := make([]string, len(args))
	for i, a := range args {
		if a == "" || strings.ContainsAny(a, " \t\n'\"\\$`*?[]^(){}<>|&;#~!") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		quoted[i] = a
	}
	return strings.Join(quoted, " ")
}

// sameFile reports whether the files at a and b exist and are the same.
func sameFile(a, b string) bool {
	fa, errA := os.Stat(a)
	fb, errB := os.Stat(b)
	return errA == nil && errB == nil && os.SameFile(fa, fb)
}
