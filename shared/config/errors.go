package config

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// DefaultFilename names the config in errors when Options.Filename is empty.
const DefaultFilename = ".circleci/config.yml"

// Error is one problem in a config, located by file position and key.
type Error struct {
	// File is the config's name (Options.Filename).
	File string `json:"file"`
	// Line and Col are 1-based; 0 when unknown (Col is unknown for some
	// YAML syntax errors).
	Line int `json:"line"`
	Col  int `json:"col"`
	// Key is the dotted path of the offending value, e.g.
	// "jobs.build.steps[1].run"; "" for the document itself.
	Key string `json:"key"`
	// Msg says what is wrong.
	Msg string `json:"msg"`
}

// Error returns "file:line:col: key: msg", leaving out the parts that are
// unknown (col 0, line 0, empty key).
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		b.WriteString(":" + strconv.Itoa(e.Line))
		if e.Col > 0 {
			b.WriteString(":" + strconv.Itoa(e.Col))
		}
	}
	b.WriteString(": ")
	if e.Key != "" {
		b.WriteString(e.Key + ": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// ErrorList is every problem Compile found, sorted by position. Compile
// returns it as its error; use errors.As to get at the entries.
type ErrorList []*Error

// Error joins the entries' messages with newlines.
func (l ErrorList) Error() string {
	lines := make([]string, len(l))
	for i, e := range l {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// sort orders the list by file (main first, then the orbs' files), line,
// column and key, and drops exact duplicates (an anchored value that is
// wrong is reached through every alias, but each alias has its own key, so
// only true repeats go; a job body that is wrong is reported once however
// many times it is invoked).
func (l ErrorList) sort(main string) ErrorList {
	sort.SliceStable(l, func(i, j int) bool {
		a, b := l[i], l[j]
		if a.File != b.File {
			if a.File == main || b.File == main {
				return a.File == main
			}
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		if a.Col != b.Col {
			return a.Col < b.Col
		}
		if a.Key != b.Key {
			return a.Key < b.Key
		}
		return a.Msg < b.Msg
	})
	out := l[:0]
	for i, e := range l {
		if i > 0 && *e == *l[i-1] {
			continue
		}
		out = append(out, e)
	}
	return out
}

// errs collects errors. One errs per source file (the config, each orb)
// names that file in its errors; all of them append to the root's list, so
// one ErrorList reports the config and its orbs together.
type errs struct {
	file string
	list ErrorList
	// warnings are the things CircleCI tolerates and Orbit accepts, but
	// that the author likely did not mean (a key a step does not use).
	warnings ErrorList
	// root is the errs whose list collects everything (nil: this one).
	root *errs
}

// sink is the errs holding the list.
func (e *errs) sink() *errs {
	if e.root != nil {
		return e.root
	}
	return e
}

// in returns an errs for another file that reports into the same list.
func (e *errs) in(file string) *errs { return &errs{file: file, root: e.sink()} }

// add records a finished error.
func (e *errs) add(err *Error) {
	s := e.sink()
	s.list = append(s.list, err)
}

// at records an error located at node n (which may be nil: the error then
// has no position).
func (e *errs) at(n *yaml.Node, key, format string, args ...any) {
	err := &Error{File: e.file, Key: key, Msg: fmt.Sprintf(format, args...)}
	if n != nil {
		err.Line, err.Col = n.Line, n.Column
	}
	e.add(err)
}

// warn records a warning located at node n (which may be nil).
func (e *errs) warn(n *yaml.Node, key, format string, args ...any) {
	w := &Error{File: e.file, Key: key, Msg: fmt.Sprintf(format, args...)}
	if n != nil {
		w.Line, w.Col = n.Line, n.Column
	}
	s := e.sink()
	s.warnings = append(s.warnings, w)
}

// Warning returns "file:line:col: warning: key: msg", the form compilers
// use, so a warning is told from an error at a glance.
func (e *Error) Warning() string {
	w := *e
	w.Key, w.Msg = "", "warning: "+e.Msg
	if e.Key != "" {
		w.Msg = "warning: " + e.Key + ": " + e.Msg
	}
	return w.Error()
}

// oncePerPlace keeps one warning per file position and message: a step
// in a command is parsed once per invocation, each time under another key.
func (l ErrorList) oncePerPlace() ErrorList {
	type place struct {
		file      string
		line, col int
		msg       string
	}
	seen := map[place]bool{}
	out := l[:0]
	for _, e := range l {
		k := place{e.File, e.Line, e.Col, e.Msg}
		if e.Line > 0 && seen[k] {
			continue
		}
		seen[k] = true
		out = append(out, e)
	}
	return out
}

// count is the number of errors so far, in every file; callers compare
// counts to learn whether a sub-parse failed.
func (e *errs) count() int { return len(e.sink().list) }
