// Package cishim is the `circleci` command inside a job: the orbit binary
// runs it when invoked under that name (the build agent links it into the
// steps' PATH). It offers what jobs use from CircleCI's in-job CLI:
//
//	circleci tests glob PATTERN...      files matching the globs (**, {a,b})
//	circleci tests split [FILE]         this node's share of the names on
//	    --split-by=name|timings|filesize   stdin (or in FILE)
//	    --timings-type=filename|classname|testname
//	    --index N --total M             (default CIRCLE_NODE_INDEX/TOTAL)
//	    --time-default 10s              weight of names without timings
//	circleci step halt                  end the job successfully after this step
//
// It reads the timings the agent fetched and signals a halt through files
// in $CIRCLE_INTERNAL_TASK_DATA (see package agent); it holds no token.
package cishim

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/orbit-ci/orbit/nomadbridge/agent"
	"github.com/orbit-ci/orbit/shared/pathglob"
	"github.com/orbit-ci/orbit/shared/runner"
	"github.com/orbit-ci/orbit/shared/testsplit"
)

const usage = `usage: circleci <command>

Commands available inside an Orbit job:
  tests glob PATTERN...     print the files matching the glob patterns
  tests split [FILE]        print this node's share of the names read from FILE or stdin
                            --split-by=name|timings|filesize  --timings-type=filename|classname|testname
                            --index N --total M  --time-default DURATION
  step halt                 end the job successfully once the current step ends
`

// IO is the shim's environment.
type IO struct {
	Getenv func(string) string
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	// Dir is the working directory globs and file sizes are relative to.
	Dir string
}

// path resolves a name relative to Dir.
func (e IO) path(name string) string {
	if filepath.IsAbs(name) {
		return name
	}
	return filepath.Join(e.Dir, name)
}

// Main runs the shim with args (without the program name) and returns the
// exit code.
func Main(args []string, e IO) int {
	err := run(args, e)
	var ue usageError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ue):
		fmt.Fprintf(e.Stderr, "circleci: %v\n\n%s", err, usage)
		return 2
	}
	fmt.Fprintf(e.Stderr, "circleci: %v\n", err)
	return 1
}

type usageError struct{ msg string }

func (u usageError) Error() string { return u.msg }

func run(args []string, e IO) error {
	if len(args) < 2 {
		return usageError{"missing command"}
	}
	switch args[0] + " " + args[1] {
	case "tests glob":
		return glob(args[2:], e)
	case "tests split":
		return split(args[2:], e)
	case "step halt":
		return halt(e)
	}
	return usageError{fmt.Sprintf("%q is not available inside Orbit jobs", strings.Join(args[:2], " "))}
}

func glob(patterns []string, e IO) error {
	if len(patterns) == 0 {
		return usageError{"tests glob needs at least one pattern"}
	}
	var rel, abs []string
	for _, p := range patterns {
		if filepath.IsAbs(p) {
			abs = append(abs, strings.TrimPrefix(p, "/"))
		} else {
			rel = append(rel, p)
		}
	}
	w := bufio.NewWriter(e.Stdout)
	for _, set := range []struct {
		root, prefix string
		pats         []string
	}{{e.Dir, "", rel}, {"/", "/", abs}} {
		if len(set.pats) == 0 {
			continue
		}
		matches, err := pathglob.Glob(os.DirFS(set.root), set.pats...)
		if err != nil {
			return err
		}
		for _, m := range matches {
			if info, err := os.Stat(filepath.Join(set.root, m)); err == nil && info.IsDir() {
				continue // like CircleCI: files only
			}
			fmt.Fprintln(w, set.prefix+m)
		}
	}
	return w.Flush()
}

func split(args []string, e IO) error {
	fs := flag.NewFlagSet("tests split", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	splitBy := fs.String("split-by", "name", "")
	timingsType := fs.String("timings-type", "filename", "")
	index := fs.Int("index", envInt(e, "CIRCLE_NODE_INDEX", 0), "")
	total := fs.Int("total", envInt(e, "CIRCLE_NODE_TOTAL", 1), "")
	timeDefault := fs.Duration("time-default", 0, "")
	showCounts := fs.Bool("show-counts", false, "")
	if err := fs.Parse(args); err != nil {
		return usageError{err.Error()}
	}
	if err := testsplit.Check(*index, *total); err != nil {
		return err
	}
	in := e.Stdin
	if fs.NArg() > 0 {
		f, err := os.Open(e.path(fs.Arg(0)))
		if err != nil {
			return err
		}
		defer f.Close()
		in = f
	}
	names, err := readNames(in)
	if err != nil {
		return err
	}
	var share []string
	switch *splitBy {
	case "name":
		share = testsplit.ByName(names, *index, *total)
	case "filesize":
		share, _ = testsplit.ByWeight(names, func(n string) (float64, bool) {
			info, err := os.Stat(e.path(n))
			if err != nil {
				return 0, false
			}
			return float64(info.Size()), true
		}, *index, *total)
	case "timings":
		share, err = byTimings(names, *timingsType, *timeDefault, *index, *total, e)
		if err != nil {
			return err
		}
	default:
		return usageError{fmt.Sprintf("--split-by=%s: use name, timings or filesize", *splitBy)}
	}
	if *showCounts {
		fmt.Fprintf(e.Stderr, "circleci: node %d of %d runs %d of %d\n", *index, *total, len(share), len(names))
	}
	w := bufio.NewWriter(e.Stdout)
	for _, n := range share {
		fmt.Fprintln(w, n)
	}
	return w.Flush()
}

// byTimings splits by the timings of the job's last run; without any it
// splits by name, as CircleCI does.
func byTimings(names []string, typ string, def time.Duration, index, total int, e IO) ([]string, error) {
	var t runner.Timings
	b, err := os.ReadFile(filepath.Join(e.Getenv(agent.EnvTaskData), agent.TimingsFile))
	if err == nil {
		err = json.Unmarshal(b, &t)
	}
	var table map[string]float64
	normalize := func(s string) string { return s }
	switch typ {
	case "filename", "autodetect", "":
		table, normalize = t.Files, testsplit.NormalizeFile
	case "classname":
		table = t.Classnames
	case "testname":
		table = t.Tests
	default:
		return nil, usageError{fmt.Sprintf("--timings-type=%s: use filename, classname or testname", typ)}
	}
	if err != nil || len(table) == 0 {
		fmt.Fprintln(e.Stderr, "circleci: no timing data found for this job (no earlier run stored test results); splitting by name")
		return testsplit.ByName(names, index, total), nil
	}
	weight := func(n string) (float64, bool) {
		v, ok := table[normalize(n)]
		if !ok && def > 0 {
			return def.Seconds(), true
		}
		return v, ok
	}
	share, unknown := testsplit.ByWeight(names, weight, index, total)
	for _, n := range unknown {
		fmt.Fprintf(e.Stderr, "circleci: no timing found for %q\n", n)
	}
	return share, nil
}

// readNames reads whitespace-separated names.
func readNames(r io.Reader) ([]string, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	sc.Split(bufio.ScanWords)
	var out []string
	for sc.Scan() {
		out = append(out, sc.Text())
	}
	return out, sc.Err()
}

func envInt(e IO, name string, def int) int {
	if v, err := strconv.Atoi(e.Getenv(name)); err == nil {
		return v
	}
	return def
}

func halt(e IO) error {
	dir := e.Getenv(agent.EnvTaskData)
	if dir == "" {
		return errors.New("step halt works only inside an Orbit job (CIRCLE_INTERNAL_TASK_DATA is not set)")
	}
	if err := os.WriteFile(filepath.Join(dir, agent.HaltFile), nil, 0o644); err != nil {
		return fmt.Errorf("step halt: %w", err)
	}
	return nil
}
