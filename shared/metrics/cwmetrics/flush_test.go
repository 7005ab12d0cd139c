package cwmetrics_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/shared/metrics"
	"github.com/orbit-ci/orbit/shared/metrics/cwmetrics"
	"github.com/orbit-ci/orbit/shared/testenv"
)

// fakeAPI records PutMetricData calls; fail, when set, decides each call's
// error from its index (0-based).
type fakeAPI struct {
	mu    sync.Mutex
	calls []*cloudwatch.PutMetricDataInput
	fail  func(call int) error
}

func (f *fakeAPI) PutMetricData(_ context.Context, in *cloudwatch.PutMetricDataInput, _ ...func(*cloudwatch.Options)) (*cloudwatch.PutMetricDataOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, in)
	if f.fail != nil {
		if err := f.fail(len(f.calls) - 1); err != nil {
			return nil, err
		}
	}
	return &cloudwatch.PutMetricDataOutput{}, nil
}

// sent returns the datums of the calls from index from on, by series.
func (f *fakeAPI) sent(t *testing.T, from int) map[string]types.MetricDatum {
	t.Helper()
	return f.sentIn(t, from, -1)
}

// sentIn returns the datums of calls [from, to) (to < 0: to the last), by
// series.
func (f *fakeAPI) sentIn(t *testing.T, from, to int) map[string]types.MetricDatum {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if to < 0 {
		to = len(f.calls)
	}
	out := map[string]types.MetricDatum{}
	for _, c := range f.calls[from:to] {
		for _, d := range c.MetricData {
			k := key(d)
			_, dup := out[k]
			require.False(t, dup, "series %s sent twice", k)
			out[k] = d
		}
	}
	return out
}

func (f *fakeAPI) numCalls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.calls)
}

// key renders a datum's series as name{dim="value",…} in the order sent.
func key(d types.MetricDatum) string {
	parts := make([]string, len(d.Dimensions))
	for i, dim := range d.Dimensions {
		parts[i] = aws.ToString(dim.Name) + "=" + strconv.Quote(aws.ToString(dim.Value))
	}
	return aws.ToString(d.MetricName) + "{" + strings.Join(parts, ",") + "}"
}

// fakeClock stands still; After hands out the one ticks channel.
type fakeClock struct {
	now   time.Time
	ticks chan time.Time
	mu    sync.Mutex
	asked []time.Duration
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC), ticks: make(chan time.Time)}
}

func (c *fakeClock) Now() time.Time { return c.now }

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.asked = append(c.asked, d)
	return c.ticks
}

func newSink(t *testing.T, api cwmetrics.API, cfg cwmetrics.Config) (*cwmetrics.Sink, *testenv.Buffer) {
	t.Helper()
	logs := &testenv.Buffer{}
	cfg.Logger = slog.New(slog.NewTextHandler(logs, nil))
	if cfg.Clock == nil {
		cfg.Clock = newFakeClock()
	}
	s, err := cwmetrics.New(api, cfg)
	require.NoError(t, err)
	return s, logs
}

func dim(name, value string) metrics.Dimension { return metrics.Dimension{Name: name, Value: value} }

var errUnavailable = errors.New("connection refused")

func TestFlushSendsSeries(t *testing.T) {
	api := &fakeAPI{}
	clock := newFakeClock()
	s, _ := newSink(t, api, cwmetrics.Config{Clock: clock})
	s.Gauge("jobs.running", 3)
	s.Gauge("jobs.running", 2)
	s.Count("dispatched", 1, dim("queue", "run"), dim("class", "medium"))
	s.Count("dispatched", 2, dim("class", "medium"), dim("queue", "run"))
	s.Gauge("mixed", 5)
	s.Count("mixed", 1) // a count after a gauge adds to it, as in memmetrics

	require.NoError(t, s.Flush(t.Context()))
	require.Equal(t, 1, api.numCalls())
	assert.Equal(t, cwmetrics.DefaultNamespace, aws.ToString(api.calls[0].Namespace))
	got := api.sent(t, 0)
	require.Len(t, got, 3)

	running := got["jobs.running{}"]
	assert.Equal(t, 2.0, aws.ToFloat64(running.Value))
	assert.Empty(t, running.Unit, "a gauge has no unit")
	assert.Equal(t, clock.now, aws.ToTime(running.Timestamp))

	dispatched, ok := got[`dispatched{class="medium",queue="run"}`]
	require.True(t, ok, "dimensions sent as given, sorted by name: %v", got)
	assert.Equal(t, 3.0, aws.ToFloat64(dispatched.Value))
	assert.Equal(t, types.StandardUnitCount, dispatched.Unit)

	assert.Equal(t, 6.0, aws.ToFloat64(got["mixed{}"].Value))
	assert.Empty(t, got["mixed{}"].Unit)

	// Nothing new: no call at all.
	require.NoError(t, s.Flush(t.Context()))
	assert.Equal(t, 1, api.numCalls())
}

func TestFlushBatches(t *testing.T) {
	tests := []struct {
		name     string
		series   int
		dims     func(i int) []metrics.Dimension
		wantMin  int // calls at least
		wantCall func(t *testing.T, calls []*cloudwatch.PutMetricDataInput)
	}{
		{
			name:   "at most 1000 datums a call",
			series: 2500,
			dims:   func(i int) []metrics.Dimension { return []metrics.Dimension{dim("i", fmt.Sprint(i))} },
			wantCall: func(t *testing.T, calls []*cloudwatch.PutMetricDataInput) {
				require.Len(t, calls, 3)
				assert.Len(t, calls[0].MetricData, 1000)
				assert.Len(t, calls[1].MetricData, 1000)
				assert.Len(t, calls[2].MetricData, 500)
			},
		},
		{
			name:   "exactly 1000 in one call",
			series: 1000,
			dims:   func(i int) []metrics.Dimension { return []metrics.Dimension{dim("i", fmt.Sprint(i))} },
			wantCall: func(t *testing.T, calls []*cloudwatch.PutMetricDataInput) {
				require.Len(t, calls, 1)
			},
		},
		{
			name:   "large datums split before 1 MB",
			series: 200,
			dims: func(i int) []metrics.Dimension {
				ds := make([]metrics.Dimension, 30)
				for j := range ds {
					ds[j] = dim(fmt.Sprintf("d%02d", j), fmt.Sprintf("%d-%s", i, strings.Repeat("v", 1000)))
				}
				return ds
			},
			wantCall: func(t *testing.T, calls []*cloudwatch.PutMetricDataInput) {
				require.Greater(t, len(calls), 1)
				for _, c := range calls {
					size := 0
					for _, d := range c.MetricData {
						for _, dim := range d.Dimensions {
							size += len(*dim.Name) + len(*dim.Value)
						}
					}
					assert.Less(t, size, 1<<20, "a call's dimensions alone pass 1 MB")
				}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			api := &fakeAPI{}
			s, _ := newSink(t, api, cwmetrics.Config{Namespace: "Test"})
			for i := range tc.series {
				s.Gauge("g", float64(i), tc.dims(i)...)
			}
			require.NoError(t, s.Flush(t.Context()))
			tc.wantCall(t, api.calls)
			assert.Len(t, api.sent(t, 0), tc.series, "every series sent once")
			for _, c := range api.calls {
				assert.Equal(t, "Test", aws.ToString(c.Namespace))
			}
		})
	}
}

func TestFailedSendIsKept(t *testing.T) {
	api := &fakeAPI{fail: func(call int) error {
		if call == 0 {
			return errUnavailable
		}
		return nil
	}}
	s, logs := newSink(t, api, cwmetrics.Config{})
	s.Gauge("newer.gauge", 5)
	s.Gauge("kept.gauge", 4)
	s.Count("count", 1)
	s.Gauge("gauge.then.count", 10)
	s.Count("count.then.gauge", 1)
	err := s.Flush(t.Context())
	require.ErrorIs(t, err, errUnavailable)
	assert.Contains(t, logs.String(), "send to CloudWatch failed")
	assert.Contains(t, logs.String(), "connection refused")

	// Recorded meanwhile, so newer than what failed.
	s.Gauge("newer.gauge", 7)
	s.Count("count", 2)
	s.Count("gauge.then.count", 1)
	s.Gauge("count.then.gauge", 3)
	require.NoError(t, s.Flush(t.Context()))
	got := api.sent(t, 1)
	want := map[string]struct {
		value float64
		unit  types.StandardUnit
	}{
		"newer.gauge{}":      {7, ""},
		"kept.gauge{}":       {4, ""},
		"count{}":            {3, types.StandardUnitCount},
		"gauge.then.count{}": {11, ""},
		"count.then.gauge{}": {3, ""},
	}
	require.Len(t, got, len(want))
	for k, w := range want {
		assert.Equal(t, w.value, aws.ToFloat64(got[k].Value), k)
		assert.Equal(t, w.unit, got[k].Unit, k)
	}

	require.NoError(t, s.Flush(t.Context()))
	assert.Equal(t, 2, api.numCalls(), "sent once, not again")
}

func TestFailedSendKeepsOnlyWhatWasNotSent(t *testing.T) {
	api := &fakeAPI{fail: func(call int) error {
		if call == 1 {
			return errUnavailable
		}
		return nil
	}}
	s, _ := newSink(t, api, cwmetrics.Config{})
	for i := range 2500 {
		s.Count("c", 1, dim("i", fmt.Sprintf("%04d", i)))
	}
	require.ErrorIs(t, s.Flush(t.Context()), errUnavailable)
	require.Equal(t, 2, api.numCalls(), "stops at the first failure")
	require.NoError(t, s.Flush(t.Context()))
	first, retried := api.sentIn(t, 0, 1), api.sent(t, 2)
	assert.Len(t, first, 1000)
	assert.Len(t, retried, 1500, "the failed call's series and those not tried yet")
	for k := range retried {
		assert.NotContains(t, first, k, "a series sent is not sent again")
	}
}

func TestRejectedDataIsDropped(t *testing.T) {
	tests := []struct {
		name string
		err  error
	}{
		{"InvalidParameterValue", &types.InvalidParameterValueException{Message: aws.String("bad value")}},
		{"InvalidParameterCombination", &types.InvalidParameterCombinationException{Message: aws.String("bad")}},
		{"MissingRequiredParameter", &types.MissingRequiredParameterException{Message: aws.String("missing")}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			api := &fakeAPI{fail: func(call int) error {
				if call == 0 {
					return tc.err
				}
				return nil
			}}
			s, logs := newSink(t, api, cwmetrics.Config{})
			s.Count("c", 1)
			err := s.Flush(t.Context())
			require.ErrorIs(t, err, tc.err)
			assert.Contains(t, logs.String(), "rejected")
			require.NoError(t, s.Flush(t.Context()))
			assert.Equal(t, 1, api.numCalls(), "rejected data is not sent again")
		})
	}
}

func TestBufferIsBounded(t *testing.T) {
	t.Run("new series beyond MaxSeries", func(t *testing.T) {
		api := &fakeAPI{}
		s, logs := newSink(t, api, cwmetrics.Config{MaxSeries: 3})
		for i := range 5 {
			s.Count(fmt.Sprintf("s%d", i), 1)
		}
		s.Count("s0", 1) // an existing series still records
		require.NoError(t, s.Flush(t.Context()))
		got := api.sent(t, 0)
		assert.Len(t, got, 3)
		assert.Equal(t, 2.0, aws.ToFloat64(got["s0{}"].Value))
		assert.Contains(t, logs.String(), "buffer full")
		assert.Contains(t, logs.String(), "dropped=2")
	})
	t.Run("a long outage", func(t *testing.T) {
		api := &fakeAPI{fail: func(int) error { return errUnavailable }}
		s, logs := newSink(t, api, cwmetrics.Config{MaxSeries: 2})
		s.Count("a", 1)
		s.Gauge("b", 1)
		for i := range 10 {
			require.Error(t, s.Flush(t.Context()))
			s.Count("a", 1) // kept series keep aggregating
			s.Gauge("b", float64(i))
			s.Count("c", 1) // a new series while the buffer is full of kept ones
		}
		api.mu.Lock()
		api.fail = nil
		api.mu.Unlock()
		from := api.numCalls()
		require.NoError(t, s.Flush(t.Context()))
		got := api.sent(t, from)
		require.Len(t, got, 2, "never more than MaxSeries")
		assert.Equal(t, 11.0, aws.ToFloat64(got["a{}"].Value), "counts add up over the outage")
		assert.Equal(t, 9.0, aws.ToFloat64(got["b{}"].Value), "the last gauge wins")
		assert.Contains(t, logs.String(), "buffer full")
	})
	t.Run("kept data meets a full buffer", func(t *testing.T) {
		var s *cwmetrics.Sink
		api := &fakeAPI{fail: func(call int) error {
			if call == 0 { // recorded while the first send is in flight
				s.Count("c", 1)
				s.Count("d", 1)
				return errUnavailable
			}
			return nil
		}}
		s, logs := newSink(t, api, cwmetrics.Config{MaxSeries: 3})
		s.Count("a", 1)
		s.Count("b", 1)
		require.Error(t, s.Flush(t.Context()))
		assert.Contains(t, logs.String(), "series=1 dropped=1")
		require.NoError(t, s.Flush(t.Context()))
		assert.Len(t, api.sent(t, 1), 3)
	})
}

func TestInvalidDatumsAreDropped(t *testing.T) {
	many := make([]metrics.Dimension, 31)
	for i := range many {
		many[i] = dim(fmt.Sprintf("d%02d", i), "v")
	}
	tests := []struct {
		name   string
		record func(s metrics.Sink)
		reason string
	}{
		{"NaN", func(s metrics.Sink) { s.Gauge("nan", math.NaN()) }, "NaN"},
		{"infinite", func(s metrics.Sink) { s.Count("inf", math.Inf(1)) }, "infinite"},
		{"beyond 2^360", func(s metrics.Sink) { s.Gauge("huge", math.Ldexp(1, 361)) }, "2^360"},
		{"empty name", func(s metrics.Sink) { s.Gauge("", 1) }, "metric name"},
		{"long name", func(s metrics.Sink) { s.Gauge(strings.Repeat("n", 256), 1) }, "metric name"},
		{"31 dimensions", func(s metrics.Sink) { s.Gauge("dims", 1, many...) }, "30 dimensions"},
		{"empty dimension name", func(s metrics.Sink) { s.Gauge("dims", 1, dim("", "v")) }, "dimension name"},
		{"empty dimension value", func(s metrics.Sink) { s.Gauge("dims", 1, dim("queue", "")) }, "dimension value"},
		{"long dimension value", func(s metrics.Sink) { s.Gauge("dims", 1, dim("queue", strings.Repeat("v", 1025))) }, "dimension value"},
		{"dimension twice", func(s metrics.Sink) { s.Gauge("dims", 1, dim("queue", "a"), dim("queue", "b")) }, "given twice"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			api := &fakeAPI{}
			s, logs := newSink(t, api, cwmetrics.Config{})
			tc.record(s)
			s.Gauge("valid", 1)
			require.NoError(t, s.Flush(t.Context()))
			got := api.sent(t, 0)
			assert.Len(t, got, 1, "only the valid datum is sent: %v", got)
			assert.Contains(t, got, "valid{}")
			assert.Contains(t, logs.String(), tc.reason)
		})
	}

	t.Run("a sum that overflows", func(t *testing.T) {
		api := &fakeAPI{}
		s, logs := newSink(t, api, cwmetrics.Config{})
		s.Count("sum", math.Ldexp(1, 360))
		s.Count("sum", math.Ldexp(1, 360))
		s.Gauge("valid", 1)
		require.NoError(t, s.Flush(t.Context()))
		assert.Len(t, api.sent(t, 0), 1)
		assert.Contains(t, logs.String(), "out of CloudWatch's range")
	})
}

// TestLogsCarryNoValues: names, dimensions and errors only.
func TestLogsCarryNoValues(t *testing.T) {
	api := &fakeAPI{fail: func(int) error { return errUnavailable }}
	s, logs := newSink(t, api, cwmetrics.Config{MaxSeries: 1})
	s.Gauge("secretless.gauge", 8675309, dim("queue", "run"))
	s.Count("second.series", 8675309) // dropped: the buffer is full
	s.Gauge("bad.dims", 8675309, dim("queue", ""))
	require.Error(t, s.Flush(t.Context()))
	out := logs.String()
	assert.Contains(t, out, "second.series")
	assert.Contains(t, out, "bad.dims")
	assert.NotContains(t, out, "8675309")
	assert.NotContains(t, out, "8.675309e+06")
}

func TestSeriesKeysCannotCollide(t *testing.T) {
	api := &fakeAPI{}
	s, _ := newSink(t, api, cwmetrics.Config{})
	s.Count("x", 1, dim("a", "1"), dim("b", "2"))
	s.Count("x", 1, dim("a", "1|1:b=1:2"))
	s.Count("x", 1, dim("a", "1,b=2"))
	s.Count("x|1:a=1:1", 1)
	require.NoError(t, s.Flush(t.Context()))
	assert.Len(t, api.sent(t, 0), 4)
}

func TestRecordingCopiesDimensions(t *testing.T) {
	api := &fakeAPI{}
	s, _ := newSink(t, api, cwmetrics.Config{})
	dims := []metrics.Dimension{dim("queue", "run")}
	s.Count("c", 1, dims...)
	dims[0].Value = "changed" // the caller reuses its slice
	require.NoError(t, s.Flush(t.Context()))
	assert.Contains(t, api.sent(t, 0), `c{queue="run"}`)
}

func TestRunFlushesEachIntervalAndCloseFlushesOnce(t *testing.T) {
	api := &fakeAPI{}
	clock := newFakeClock()
	s, _ := newSink(t, api, cwmetrics.Config{Interval: 10 * time.Second, Clock: clock})
	ran := make(chan error, 1)
	go func() { ran <- s.Run(context.Background()) }()

	s.Count("c", 1)
	clock.ticks <- clock.now // Run is waiting: this is its first tick
	require.Eventually(t, func() bool { return api.numCalls() == 1 }, 5*time.Second, time.Millisecond)
	clock.ticks <- clock.now // nothing recorded: no call
	s.Count("c", 2)
	require.NoError(t, s.Close(t.Context()))
	select {
	case err := <-ran:
		assert.NoError(t, err)
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after Close")
	}
	require.Equal(t, 2, api.numCalls(), "Close flushed what was left")
	assert.Equal(t, 2.0, aws.ToFloat64(api.calls[1].MetricData[0].Value))

	s.Count("c", 4) // after Close: dropped
	require.NoError(t, s.Flush(t.Context()))
	assert.Equal(t, 2, api.numCalls())
	clock.mu.Lock()
	defer clock.mu.Unlock()
	assert.Equal(t, 10*time.Second, clock.asked[0], "Run waits Interval")
}

func TestRunBoundsEachFlushAndReturnsWithContext(t *testing.T) {
	hang := make(chan struct{})
	defer close(hang)
	api := &blockingAPI{hang: hang, started: make(chan struct{}, 1)}
	clock := newFakeClock()
	s, logs := newSink(t, api, cwmetrics.Config{Interval: 50 * time.Millisecond, Clock: clock})
	ctx, cancel := context.WithCancel(t.Context())
	ran := make(chan error, 1)
	go func() { ran <- s.Run(ctx) }()

	s.Count("c", 1)
	clock.ticks <- clock.now
	<-api.started
	// The flush gives up after Interval, logged, and Run waits for the next tick.
	clock.ticks <- clock.now
	assert.Contains(t, logs.String(), "deadline exceeded")
	cancel()
	select {
	case err := <-ran:
		assert.NoError(t, err)
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return when its context ended")
	}
}

// blockingAPI never answers until its context ends.
type blockingAPI struct {
	hang    chan struct{}
	started chan struct{}
}

func (b *blockingAPI) PutMetricData(ctx context.Context, _ *cloudwatch.PutMetricDataInput, _ ...func(*cloudwatch.Options)) (*cloudwatch.PutMetricDataOutput, error) {
	select {
	case b.started <- struct{}{}:
	default:
	}
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-b.hang:
		return nil, errors.New("released")
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	tests := []struct {
		name string
		api  cwmetrics.API
		cfg  cwmetrics.Config
	}{
		{"nil client", nil, cwmetrics.Config{}},
		{"negative interval", &fakeAPI{}, cwmetrics.Config{Interval: -time.Second}},
		{"negative max series", &fakeAPI{}, cwmetrics.Config{MaxSeries: -1}},
		{"AWS namespace", &fakeAPI{}, cwmetrics.Config{Namespace: "AWS/EC2"}},
		{"long namespace", &fakeAPI{}, cwmetrics.Config{Namespace: strings.Repeat("n", 256)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := cwmetrics.New(tc.api, tc.cfg)
			assert.Error(t, err)
		})
	}
}
