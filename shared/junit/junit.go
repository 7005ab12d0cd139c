// Package junit parses JUnit XML test reports into the test records that
// CircleCI's tests API returns. It accepts what test runners actually
// write: a <testsuites> root or a bare <testsuite>, suites nested in suites,
// <failure>, <error> and <skipped> children with or without a message
// attribute, and times with or without decimals.
//
// Results are CircleCI's: "success", "failure" (a <failure> or an
// <error>) and "skipped".
package junit

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Results of a Test.
const (
	ResultSuccess = "success"
	ResultFailure = "failure"
	ResultSkipped = "skipped"
)

// Test is one test case.
type Test struct {
	// Name and Classname are the test case's.
	Name      string `json:"name"`
	Classname string `json:"classname"`
	// File is the test's source file: the case's file attribute, else its
	// suite's.
	File string `json:"file"`
	// RunTime is in seconds.
	RunTime float64 `json:"run_time"`
	// Result is ResultSuccess, ResultFailure or ResultSkipped.
	Result string `json:"result"`
	// Message is the failure's or skip's message and text.
	Message string `json:"message"`
	// Source names where the report came from (set by the caller).
	Source string `json:"source"`
}

// ErrNotJUnit: the document is XML but not a JUnit report.
var ErrNotJUnit = errors.New("not a JUnit report (the root is not <testsuites> or <testsuite>)")

// MaxMessage bounds a test's message; longer ones are cut with a note.
const MaxMessage = 64 << 10

type suite struct {
	File    string  `xml:"file,attr"`
	Cases   []tcase `xml:"testcase"`
	Suites  []suite `xml:"testsuite"`
	XMLName xml.Name
}

type tcase struct {
	Name      string    `xml:"name,attr"`
	Classname string    `xml:"classname,attr"`
	Class     string    `xml:"class,attr"`
	File      string    `xml:"file,attr"`
	Time      string    `xml:"time,attr"`
	Failures  []outcome `xml:"failure"`
	Errors    []outcome `xml:"error"`
	Skipped   []outcome `xml:"skipped"`
}

type outcome struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

// Parse reads one report.
func Parse(r io.Reader) ([]Test, error) {
	var root suite
	dec := xml.NewDecoder(r)
	dec.Strict = false
	if err := dec.Decode(&root); err != nil {
		return nil, fmt.Errorf("parse JUnit XML: %w", err)
	}
	var out []Test
	switch root.XMLName.Local {
	case "testsuites", "testsuite":
		walk(root, "", &out)
	default:
		return nil, fmt.Errorf("parse JUnit XML: root <%s>: %w", root.XMLName.Local, ErrNotJUnit)
	}
	return out, nil
}

func walk(s suite, file string, out *[]Test) {
	if s.File != "" {
		file = s.File
	}
	for _, c := range s.Cases {
		*out = append(*out, test(c, file))
	}
	for _, sub := range s.Suites {
		walk(sub, file, out)
	}
}

func test(c tcase, suiteFile string) Test {
	t := Test{Name: c.Name, Classname: c.Classname, File: c.File, Result: ResultSuccess}
	if t.Classname == "" {
		t.Classname = c.Class
	}
	if t.File == "" {
		t.File = suiteFile
	}
	if v, err := strconv.ParseFloat(strings.TrimSpace(strings.ReplaceAll(c.Time, ",", "")), 64); err == nil && v > 0 {
		t.RunTime = v
	}
	switch {
	case len(c.Failures) > 0:
		t.Result, t.Message = ResultFailure, message(c.Failures)
	case len(c.Errors) > 0:
		t.Result, t.Message = ResultFailure, message(c.Errors)
	case len(c.Skipped) > 0:
		t.Result, t.Message = ResultSkipped, message(c.Skipped)
	}
	return t
}

// message joins the message attribute and the text of each outcome.
func message(os []outcome) string {
	var parts []string
	for _, o := range os {
		for _, p := range []string{o.Message, strings.TrimSpace(o.Text)} {
			if p != "" && !contains(parts, p) {
				parts = append(parts, p)
			}
		}
	}
	m := strings.Join(parts, "\n")
	if len(m) > MaxMessage {
		m = m[:MaxMessage] + "\n[message truncated]"
	}
	return m
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}
