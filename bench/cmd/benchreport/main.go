// Benchreport runs BenchmarkPeers, which compares ginlimit with other rate
// limiters, and writes docs/BENCHMARKS.md and its charts from the results.
//
// Run it in the bench module:
//
//	cd bench && go run ./cmd/benchreport [flags]
//
// The flags are:
//
//	-count N
//		Run every sub-benchmark N times (go test -count); default 6, the
//		fewest for which benchstat gives a confidence interval.
//	-benchtime T
//		Run each of them for T (go test -benchtime); default 500ms,
//		which keeps the run of about 40 sub-benchmarks under 10 minutes
//		on 2 CPUs.
//	-from FILE
//		Do not run the benchmarks: read go test output saved in FILE.
//	-root DIR
//		The repository root, which holds docs/; default "..".
//
// Under the root it writes docs/benchmarks/raw.txt, the output of go test
// preceded by lines that record the date, the Go and Redis versions and the
// command (benchstat reads it as is); docs/BENCHMARKS.md, with a table per
// scenario, the targets ginlimit meets or misses, and notes on each peer
// library from bench.Libraries; and docs/benchmarks/SCENARIO.svg, a bar
// chart of each scenario. With -from, FILE is copied to raw.txt, so that the
// page always describes the raw output beside it; if FILE lacks the lines
// benchreport records, the date is FILE's modification time and the
// versions are those installed now.
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
	count := fs.Int("count", 6, "run every sub-benchmark `N` times")
	benchtime := fs.String("benchtime", "500ms", "run each sub-benchmark for `T` (go test -benchtime)")
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

	docs := filepath.Join(*root, "docs")
	if fi, err := os.Stat(docs); err != nil || !fi.IsDir() {
		return fmt.Errorf("-root %s: no docs directory there", *root)
	}
	outDir := filepath.Join(docs, "benchmarks")
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return err
	}
	rawPath := filepath.Join(outDir, "raw.txt")

	command := fmt.Sprintf("cd bench && go run ./cmd/benchreport -count %d -benchtime %s", *count, shellJoin([]string{*benchtime}))
	testArgs := goTestArgs(*count, *benchtime)
	defaults := map[string]string{
		configDate:    time.Now().UTC().Format(time.DateOnly),
		configGo:      goVersion("."),
		configRedis:   redisVersion(),
		configCommand: command,
		configGoTest:  "go " + shellJoin(testArgs),
	}

	input := rawPath
	if *from == "" {
		if err := checkBenchModule("."); err != nil {
			return err
		}
		if err := runToFile(rawPath, defaults, testArgs, *count, stderr); err != nil {
			return err
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
		if res.Config[k] == "" {
			res.Config[k] = v
		}
	}

	mdPath := filepath.Join(docs, "BENCHMARKS.md")
	if err := os.WriteFile(mdPath, renderMarkdown(res, bench.Libraries), 0o644); err != nil {
		return err
	}
	fmt.Fprintln(stderr, "benchreport: wrote", mdPath)
	for _, sc := range res.Scenarios {
		svg, err := renderChart(sc)
		if err != nil {
			return err
		}
		path := filepath.Join(outDir, chartFile(sc.Name))
		if err := os.WriteFile(path, svg, 0o644); err != nil {
			return err
		}
		fmt.Fprintln(stderr, "benchreport: wrote", path)
	}
	return nil
}

// runToFile runs the benchmarks with go test testArgs and writes their
// output to path, after a line "key: value" for each of config's keys that
// describes the run. The file is kept if the run fails.
func runToFile(path string, config map[string]string, testArgs []string, count int, stderr io.Writer) (err error) {
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
	for _, k := range []string{configDate, configGo, configRedis, configCommand, configGoTest} {
		if _, err := fmt.Fprintf(f, "%s: %s\n", k, config[k]); err != nil {
			return err
		}
	}
	return runSuite(".", testArgs, f, stderr)
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
