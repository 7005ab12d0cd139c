package junit_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/shared/junit"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name string
		xml  string
		want []junit.Test
		err  string
	}{
		{
			name: "testsuites with outcomes",
			xml: `<?xml version="1.0" encoding="UTF-8"?>
<testsuites>
  <testsuite name="pkg" tests="4" file="suite_test.go">
    <testcase name="TestOK" classname="pkg" time="0.50"/>
    <testcase name="TestBad" classname="pkg" file="bad_test.go" time="1.25">
      <failure message="expected 1, got 2" type="assert">bad_test.go:10: expected 1, got 2</failure>
    </testcase>
    <testcase name="TestErr" classname="pkg" time="0.01"><error message="panic"/></testcase>
    <testcase name="TestSkip" classname="pkg" time="0"><skipped message="needs docker"/></testcase>
  </testsuite>
</testsuites>`,
			want: []junit.Test{
				{Name: "TestOK", Classname: "pkg", File: "suite_test.go", RunTime: 0.5, Result: "success"},
				{Name: "TestBad", Classname: "pkg", File: "bad_test.go", RunTime: 1.25, Result: "failure",
					Message: "expected 1, got 2\nbad_test.go:10: expected 1, got 2"},
				{Name: "TestErr", Classname: "pkg", File: "suite_test.go", RunTime: 0.01, Result: "failure", Message: "panic"},
				{Name: "TestSkip", Classname: "pkg", File: "suite_test.go", Result: "skipped", Message: "needs docker"},
			},
		},
		{
			name: "bare testsuite, nested suites, class attribute, thousands separator",
			xml: `<testsuite name="outer"><testsuite name="inner" file="a.rb">
<testcase name="works" class="A" time="1,234.5"/></testsuite></testsuite>`,
			want: []junit.Test{{Name: "works", Classname: "A", File: "a.rb", RunTime: 1234.5, Result: "success"}},
		},
		{name: "empty suite", xml: `<testsuites/>`, want: nil},
		{name: "not junit", xml: `<html><body/></html>`, err: "not a JUnit report"},
		{name: "not xml", xml: `{"json": true}`, err: "parse JUnit XML"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := junit.Parse(strings.NewReader(tt.xml))
			if tt.err != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestParseTruncatesHugeMessages(t *testing.T) {
	xml := `<testsuite><testcase name="x"><failure>` + strings.Repeat("a", junit.MaxMessage+10) + `</failure></testcase></testsuite>`
	got, err := junit.Parse(strings.NewReader(xml))
	require.NoError(t, err)
	require.Len(t, got, 1)
	assert.True(t, strings.HasSuffix(got[0].Message, "[message truncated]"))
}
