// Benchreport runs BenchmarkPeers, which compares ginlimit with other rate
// limiters, and writes docs/BENCHMARKS.md and its charts from the results.
//
// Run it in the bench module:
//
//	cd bench && go run ./cmd/benchreport [flags]
//
// It builds the test binary once (go test -c) and runs it once for each
// sub-benchmark in each round: a round runs every library of every
// scenario once, and each round starts each scenario from the next library
// (see schedule), so that no library runs its repetitions back to back and
// a machine whose speed drifts during the run slows every library alike.
//
// The flags are:
//
//	-count N
//		Run N rounds; default 6, the fewest for which benchstat gives a
//		confidence interval.
//	-benchtime T
//		Run each sub-benchmark for T (go test -benchtime); default 500ms.
//	-goroutines N
//		Decide from N goroutines in the Redis scenarios, for every
//		library (-peers.goroutines); default 64.
//	-study
//		Also run the concurrency study: redis-admit for ginlimit/fixed,
//		ginlimit/sliding and ulule/fixed (with go-redis's default pool and
//		with one connection a goroutine) from 1, 8 and 64 goroutines a CPU,
//		interleaved as the rounds are, written to
//		docs/benchmarks/concurrency.txt.
//	-from FILE
//		Do not run the benchmarks: read go test output saved in FILE.
//	-root DIR
//		The repository root, which holds docs/; default "..".
//
// Under the root it writes docs/benchmarks/raw.txt, the output of the runs
// preceded by lines that record the date, the Go and Redis versions, the
// command and the goroutines of the Redis scenarios (benchstat reads it as
// is); docs/BENCHMARKS.md, with a table per scenario, the targets ginlimit
// meets or misses, the concurrency study if docs/benchmarks/concurrency.txt
// exists, and notes on each peer library from bench.Libraries; and
// docs/benchmarks/SCENARIO.svg, a bar chart of each scenario's time per
// operation, with SCENARIO-redis-cpu.svg for the Redis CPU of each Redis
// scenario. With -from, FILE is copied to raw.txt, so that the page always
// describes the raw output beside it; if FILE lacks the lines benchreport
// records, the date is FILE's modification time and the versions are those
// installed now.
//
// Progress goes to standard error.
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/ginlimit/ginlimit/bench"
)

// benchModule is the module path of the bench module, whose directory
// benchreport must run in to run the benchmarks.
const benchModule = "github.com/ginlimit/ginlimit/bench"

func main() {
	if err := run(os.Args[1:], os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "benchreport:", err)
		os.Exit(1)
	}
}

// run runs benchreport with the command-line arguments args, writing
// progress to stderr.
func run(args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("benchreport", flag.ContinueOnError)
	fs.SetOutput(stderr)
	count := fs.Int("count", 6, "run `N` rounds of every sub-benchmark")
	benchtime := fs.String("benchtime", "500ms", "run each sub-benchmark for `T` (go test -benchtime)")
	goroutines := fs.Int("goroutines", 64, "decide from `N` goroutines in the Redis scenarios")
	study := fs.Bool("study", false, "also run the concurrency study into docs/benchmarks/concurrency.txt")
	from := fs.String("from", "", "read saved go test output from `FILE` instead of running the benchmarks")
	root := fs.String("root", "..", "the repository root `DIR`, which holds docs/")
	if err := fs.Parse(args); errors.Is(err, flag.ErrHelp) {
		return nil
	} else if err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if *count < 1 {
		return fmt.Errorf("-count %d: must be at least 1", *count)
	}
	if *goroutines < 1 {
		return fmt.Errorf("-goroutines %d: must be at least 1", *goroutines)
	}
	if *study && *from != "" {
		return errors.New("-study runs benchmarks, -from does not: give one of them")
	}

	docs := filepath.Join(*root, "docs")
	if fi, err := os.Stat(docs); err != nil || !fi.IsDir() {
		return fmt.Errorf("-root %s: no docs directory there", *root)
	}
	outDir := filepath.Join(docs, "benchmarks")
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return err
	}
	rawPath := filepath.Join(outDir, "raw.txt")
	studyPath := filepath.Join(outDir, studyFile)

	s := suite{Dir: ".", Count: *count, Benchtime: *benchtime, Goroutines: *goroutines}
	command := fmt.Sprintf("cd bench && go run ./cmd/benchreport -count %d -benchtime %s -goroutines %d", *count, shellJoin([]string{*benchtime}), *goroutines)
	if *study {
		command += " -study"
	}
	defaults := map[string]string{
		configDate:       time.Now().UTC().Format(time.DateOnly),
		configGo:         goVersion("."),
		configRedis:      redisVersion(),
		configCommand:    command,
		configGoTest:     s.describe(),
		configGoroutines: fmt.Sprint(*goroutines),
	}

	input := rawPath
	if *from == "" {
		if err := checkBenchModule("."); err != nil {
			return err
		}
		tmp, err := os.MkdirTemp("", "benchreport")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		bin, err := s.build(tmp, stderr)
		if err != nil {
			return err
		}
		p, err := s.list(bin)
		if err != nil {
			return err
		}
		header := []string{configDate, configGo, configRedis, configCommand, configGoTest, configGoroutines}
		if err := runToFile(rawPath, defaults, header, func(w io.Writer) error {
			return s.run(bin, schedule(p, s.Count), w, stderr)
		}); err != nil {
			return err
		}
		if *study {
			header := []string{configDate, configGo, configRedis, configCommand}
			if err := runToFile(studyPath, defaults, header, func(w io.Writer) error {
				return s.run(bin, studySchedule(s.Count, runtime.GOMAXPROCS(0)), w, stderr)
			}); err != nil {
				return err
			}
		}
	} else {
		fi, err := os.Stat(*from)
		if err != nil {
			return err
		}
		defaults[configDate] = fi.ModTime().UTC().Format(time.DateOnly)
		input = *from
	}

	res, err := parseFile(input, stderr)
	if err != nil {
		return err
	}
	if !sameFile(input, rawPath) {
		if err := copyFile(rawPath, input); err != nil {
			return err
		}
	}
	for k, v := range defaults {
		if _, ok := res.Config[k]; !ok && k != configGoroutines {
			res.Config[k] = v
		}
	}
	var st *results
	if _, err := os.Stat(studyPath); err == nil {
		if st, err = parseStudyFile(studyPath, stderr); err != nil {
			return err
		}
	}

	mdPath := filepath.Join(docs, "BENCHMARKS.md")
	if err := os.WriteFile(mdPath, renderMarkdown(res, st, bench.Libraries), 0o644); err != nil {
		return err
	}
	fmt.Fprintln(stderr, "benchreport: wrote", mdPath)
	for _, c := range charts(res) {
		svg, err := renderChart(c)
		if err != nil {
			return err
		}
		path := filepath.Join(outDir, c.File)
		if err := os.WriteFile(path, svg, 0o644); err != nil {
			return err
		}
		fmt.Fprintln(stderr, "benchreport: wrote", path)
	}
	return nil
}

// runToFile creates the file at path, writes a line "key: value" for each
// of keys with its value in config, and then what write writes. The file is
// kept if write fails.
func runToFile(path string, config map[string]string, keys []string, write func(io.Writer) error) (err error) {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			err = fmt.Errorf("%w (output so far in %s)", err, path)
		}
	}()
	for _, k := range keys {
		if _, err := fmt.Fprintf(f, "%s: %s\n", k, config[k]); err != nil {
			return err
		}
	}
	return write(f)
}

// parseFile parses the go test output in the file at path, writing
// warnings to stderr.
func parseFile(path string, stderr io.Writer) (*results, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return parse(f, path, func(msg string) { fmt.Fprintln(stderr, "benchreport: warning:", msg) })
}

// parseStudyFile parses the concurrency study in the file at path, writing
// warnings to stderr.
func parseStudyFile(path string, stderr io.Writer) (*results, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return parseSplit(f, path, []string{configGoroutines, configPool}, func(msg string) { fmt.Fprintln(stderr, "benchreport: warning:", msg) })
}

// checkBenchModule returns an error unless dir is the bench module's root.
func checkBenchModule(dir string) error {
	data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err == nil {
		line, _, _ := bytes.Cut(data, []byte("\n"))
		if strings.TrimSpace(string(line)) == "module "+benchModule {
			return nil
		}
	}
	return errors.New("run benchreport in the bench module: cd bench && go run ./cmd/benchreport")
}

// copyFile copies the file src to dst.
func copyFile(dst, src string) error {
	data, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, data, 0o644)
}
