package svg_test

import (
	"encoding/xml"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/shared/insights"
	"github.com/orbit-ci/orbit/shared/insights/svg"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

var day0 = time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)

// runs: four days of a workflow; day 3 has only a failure (a gap in the
// duration lines), and a job name that needs escaping.
func runs() []insights.Run {
	at := func(d int, h int) time.Time {
		return day0.Add(time.Duration(d)*24*time.Hour + time.Duration(h)*time.Hour)
	}
	mk := func(d, h int, status string, dur, queue float64) insights.Run {
		return insights.Run{ID: "r", Workflow: "build", Job: `test <a&b>`, Status: status, At: at(d, h), StoppedAt: at(d, h).Add(time.Duration(dur) * time.Second),
			Duration: dur, Queue: queue, Started: true}
	}
	return []insights.Run{
		mk(0, 9, "success", 120, 5), mk(0, 15, "success", 180, 15), mk(0, 17, "failed", 60, 25),
		mk(1, 10, "success", 90, 8),
		mk(2, 11, "failed", 300, 40),
		mk(3, 8, "success", 150, 4), mk(3, 9, "canceled", 10, 2),
	}
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".svg")
	if *update {
		require.NoError(t, os.WriteFile(path, []byte(got), 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run go test ./shared/insights/svg -update to create %s", path)
	assert.Equal(t, string(want), got, "%s differs: rerun with -update if the change is meant", path)
}

// wellFormed parses the document as XML and returns its root's attributes
// and every text and title inside.
func wellFormed(t *testing.T, doc string) (map[string]string, string) {
	t.Helper()
	dec := xml.NewDecoder(strings.NewReader(doc))
	attrs := map[string]string{}
	var text strings.Builder
	for first := true; ; {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err, "not well-formed XML")
		switch v := tok.(type) {
		case xml.StartElement:
			if first {
				for _, a := range v.Attr {
					attrs[a.Name.Local] = a.Value
				}
				first = false
			}
		case xml.CharData:
			text.Write(v)
		}
	}
	return attrs, text.String()
}

func TestCharts(t *testing.T) {
	rs := runs()
	points := insights.Series(rs, 24*time.Hour)
	flaky := []insights.FlakyTest{{TestName: "TestB", Classname: "pkg", TimesFlaked: 1}, {TestName: `Test"<x>"`, Classname: "pkg", TimesFlaked: 3}}
	slow := []insights.TestStat{{TestName: "TestSlow", Classname: "pkg", P95Duration: 42.5}, {TestName: "TestQuick", Classname: "pkg", P95Duration: 0.25}}
	charts := map[string]func() string{
		"duration":    func() string { return svg.DurationTrend("dur", "build", points, 24*time.Hour) },
		"success":     func() string { return svg.SuccessRate("ok", "build", points, 24*time.Hour) },
		"queue":       func() string { return svg.QueueTime("queue", `test <a&b>`, rs, 24*time.Hour) },
		"throughput":  func() string { return svg.Throughput("runs", "build", points, 24*time.Hour) },
		"slowest":     func() string { return svg.SlowestTests("slow", slow) },
		"flakiest":    func() string { return svg.FlakiestTests("flaky", flaky) },
		"empty-line":  func() string { return svg.DurationTrend("none", "build", nil, 24*time.Hour) },
		"empty-bars":  func() string { return svg.Throughput("none", "build", nil, 24*time.Hour) },
		"hourly-rate": func() string { return svg.SuccessRate("hr", "build", insights.Series(rs[:3], time.Hour), time.Hour) },
	}
	for name, draw := range charts {
		t.Run(name, func(t *testing.T) {
			got := draw()
			assert.Equal(t, got, draw(), "the same figures draw the same bytes")
			attrs, text := wellFormed(t, got)
			assert.Equal(t, "img", attrs["role"])
			id := strings.Fields(attrs["aria-labelledby"])
			require.Len(t, id, 2)
			assert.Contains(t, got, `<title id="`+id[0]+`">`)
			assert.Contains(t, got, `<desc id="`+id[1]+`">`)
			assert.NotContains(t, got, "<script")
			assert.NotContains(t, text, "NaN")
			golden(t, name, got)
		})
	}
}

func TestChartFiguresAndEscaping(t *testing.T) {
	points := insights.Series(runs(), 24*time.Hour)
	d := svg.DurationTrend("dur", "build", points, 24*time.Hour)
	// Day 0: successful 120 and 180 → median (rank 1) 2m 00s, p95 (rank 2) 3m 00s.
	assert.Contains(t, d, "<title>median Nov 26: 2m 00s</title>")
	assert.Contains(t, d, "<title>p95 Nov 26: 3m 00s</title>")
	assert.NotContains(t, d, "Nov 28: ", "day 2 had no success: a gap, no point")
	ok := svg.SuccessRate("ok", "build", points, 24*time.Hour)
	// Day 0: 2 of 3; day 3: 1 of 1, the canceled run excluded.
	assert.Contains(t, ok, "<title>success rate Nov 26: 66.7%</title>")
	assert.Contains(t, ok, "<title>success rate Nov 29: 100%</title>")
	q := svg.QueueTime("q", `test <a&b>`, runs(), 24*time.Hour)
	assert.Contains(t, q, "Queue time of test &lt;a&amp;b&gt;")
	assert.NotContains(t, q, "<a&b>")
	f := svg.FlakiestTests("f", []insights.FlakyTest{{TestName: "A", TimesFlaked: 1}, {TestName: `"<B>"`, TimesFlaked: 3}})
	assert.Less(t, strings.Index(f, "&#34;&lt;B&gt;&#34;"), strings.Index(f, "<title> A: 1</title>"), "most flaked first")
	assert.Equal(t, "45s", svg.Duration(45))
	assert.Equal(t, "3m 05s", svg.Duration(185))
	assert.Equal(t, "1h 02m", svg.Duration(3725))
}
