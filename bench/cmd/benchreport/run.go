package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"time"
)

// goTestArgs returns the arguments of the go test command that runs
// BenchmarkPeers count times for benchtime each.
func goTestArgs(count int, benchtime string) []string {
	return []string{
		"test", "-run", "^$", "-bench", "^BenchmarkPeers$", "-benchmem",
		"-count", fmt.Sprint(count), "-benchtime", benchtime, "-timeout", "30m", ".",
	}
}

// runSuite runs go test with args in dir, the bench module. It copies the
// standard output of go test to raw as it comes, and writes a line of
// progress for each result, and every other line go test prints, to
// progress; the standard error of go test goes to progress too.
func runSuite(dir string, args []string, raw, progress io.Writer) error {
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	cmd.Stderr = progress
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	fmt.Fprintf(progress, "benchreport: running go %s\n", shellJoin(args))
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return err
	}

	// go test runs each sub-benchmark -count times in a row, so the number
	// of sub-benchmarks is known only at the end: progress counts results
	// and the time spent.
	done := 0
	sc := bufio.NewScanner(io.TeeReader(out, raw))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		fields := strings.Fields(line)
		if len(fields) < 4 || !strings.HasPrefix(line, "Benchmark") || !strings.Contains(line, "ns/op") {
			if strings.TrimSpace(line) != "" {
				fmt.Fprintln(progress, line)
			}
			continue
		}
		done++
		fmt.Fprintf(progress, "benchreport: [%d, %s] %s %s\n", done, time.Since(start).Round(time.Second), fields[0], strings.Join(fields[2:], " "))
	}
	scanErr := sc.Err()
	if scanErr != nil {
		// Let go test finish rather than block on a full pipe.
		io.Copy(raw, out)
	}
	if err := cmd.Wait(); err != nil {
		return fmt.Errorf("go test: %w", err)
	}
	if scanErr != nil {
		return fmt.Errorf("reading go test output: %w", scanErr)
	}
	fmt.Fprintf(progress, "benchreport: %d results in %s\n", done, time.Since(start).Round(time.Second))
	return nil
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
