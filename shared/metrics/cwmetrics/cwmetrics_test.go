package cwmetrics_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch/schemas"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/smithy-go/transport/http/protocol/awsquery"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/shared/metrics"
	"github.com/orbit-ci/orbit/shared/metrics/cwmetrics"
	"github.com/orbit-ci/orbit/shared/metrics/metricstest"
	"github.com/orbit-ci/orbit/shared/testenv"
)

// awsQuery makes the client speak awsQuery. The SDK's default for
// CloudWatch, Smithy RPC v2 CBOR, gets a 404 from moto 5.2.1, which routes
// awsQuery and awsJson1_0 only (and awsJson1_0 only with request compression
// off: it gets a gzip header on an uncompressed body). Production keeps the
// default.
func awsQuery(o *cloudwatch.Options) {
	o.Protocol = awsquery.New(schemas.GraniteServiceVersion20100801)
}

// motoConfig returns the client configuration for ORBIT_MOTO_ENDPOINT
// (moto_server in CI), or skips the test.
func motoConfig(t *testing.T) aws.Config {
	t.Helper()
	return testenv.AWS(t, "ORBIT_MOTO_ENDPOINT")
}

// blackHole returns the URL of a server that accepts connections and never
// answers, closed when the test ends.
func blackHole(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		_ = l.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			_ = c.Close()
		}
	})
	return "http://" + l.Addr().String()
}

func TestConformance(t *testing.T) {
	cfg := motoConfig(t)
	c := cloudwatch.NewFromConfig(cfg, awsQuery)
	var seq atomic.Int64
	run := time.Now().UnixNano()

	metricstest.Run(t, func(t *testing.T, tc metricstest.Config) (metrics.Sink, metricstest.Reader) {
		api := c
		if tc.Unreachable {
			down := cfg.Copy()
			down.BaseEndpoint = aws.String(blackHole(t))
			api = cloudwatch.NewFromConfig(down, awsQuery)
		}
		ns := fmt.Sprintf("orbit-test-%d-%d", run, seq.Add(1))
		s, err := cwmetrics.New(api, cwmetrics.Config{Namespace: ns})
		require.NoError(t, err)
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			_ = s.Close(ctx) // the unreachable one fails, the others have nothing left
		})
		return s, &reader{sink: s, c: c, ns: ns, start: time.Now().Add(-time.Minute)}
	})
}

// reader reads a sink's series back from moto with GetMetricData: the Sum
// of the series' data points over the test's time.
//
// moto 5.2.1's GetMetricData matches the dimensions exactly, as CloudWatch
// does, but then ignores the namespace (harmless: the suite's metric names
// are unique to each run), and a query without dimensions matches every
// dimension set of the name; Value refuses that case rather than answer
// wrongly. GetMetricStatistics keeps the namespace but matches dimensions
// as a subset ({queue=run} also reads {queue=run,region=eu}), which the
// suite would catch. Its dimension comparison also depends on their order
// (Dimension.__lt__ compares a value with a name), so Value asks in the
// order the sink sends, sorted by name; CloudWatch treats them as a set.
type reader struct {
	sink  *cwmetrics.Sink
	c     *cloudwatch.Client
	ns    string
	start time.Time
}

func (r *reader) Flush(ctx context.Context) error { return r.sink.Flush(ctx) }

func (r *reader) Value(ctx context.Context, name string, dims ...metrics.Dimension) (float64, bool, error) {
	return readSum(ctx, r.c, r.ns, name, "", r.start, dims)
}

// readSum sums the series' data points since start, of unit if not empty.
func readSum(ctx context.Context, c *cloudwatch.Client, ns, name string, unit types.StandardUnit, start time.Time, dims []metrics.Dimension) (float64, bool, error) {
	if len(dims) == 0 {
		out, err := c.ListMetrics(ctx, &cloudwatch.ListMetricsInput{Namespace: aws.String(ns), MetricName: aws.String(name)})
		if err != nil {
			return 0, false, fmt.Errorf("list metrics %s: %w", name, err)
		}
		for _, m := range out.Metrics {
			if len(m.Dimensions) > 0 {
				return 0, false, fmt.Errorf("moto cannot read %s without dimensions apart from its series with dimensions", name)
			}
		}
	}
	dims = slices.Clone(dims)
	slices.SortFunc(dims, func(a, b metrics.Dimension) int { return strings.Compare(a.Name, b.Name) })
	cwDims := make([]types.Dimension, len(dims))
	for i, d := range dims {
		cwDims[i] = types.Dimension{Name: aws.String(d.Name), Value: aws.String(d.Value)}
	}
	out, err := c.GetMetricData(ctx, &cloudwatch.GetMetricDataInput{
		StartTime: aws.Time(start),
		EndTime:   aws.Time(time.Now().Add(time.Minute)),
		MetricDataQueries: []types.MetricDataQuery{{
			Id: aws.String("v"),
			MetricStat: &types.MetricStat{
				Metric: &types.Metric{Namespace: aws.String(ns), MetricName: aws.String(name), Dimensions: cwDims},
				Period: aws.Int32(60),
				Stat:   aws.String("Sum"),
				Unit:   unit,
			},
		}},
	})
	if err != nil {
		return 0, false, fmt.Errorf("get metric data %s: %w", name, err)
	}
	var sum float64
	found := false
	for _, res := range out.MetricDataResults {
		for _, v := range res.Values {
			sum += v
			found = true
		}
	}
	return sum, found, nil
}

// TestUnitsOnMoto checks what reaches CloudWatch: counts with Unit Count,
// gauges without a unit, in the configured namespace.
func TestUnitsOnMoto(t *testing.T) {
	c := cloudwatch.NewFromConfig(motoConfig(t), awsQuery)
	ns := fmt.Sprintf("orbit-test-units-%d", time.Now().UnixNano())
	start := time.Now().Add(-time.Minute)
	s, err := cwmetrics.New(c, cwmetrics.Config{Namespace: ns})
	require.NoError(t, err)
	gauge, count := ns+".gauge", ns+".count"
	q := metrics.Dimension{Name: "queue", Value: "run"}
	s.Gauge(gauge, 4, q)
	s.Count(count, 3, q)
	require.NoError(t, s.Close(t.Context()))

	ctx := t.Context()
	v, ok, err := readSum(ctx, c, ns, count, types.StandardUnitCount, start, []metrics.Dimension{q})
	require.NoError(t, err)
	assert.True(t, ok, "the count was sent with Unit Count")
	assert.Equal(t, 3.0, v)
	_, ok, err = readSum(ctx, c, ns, gauge, types.StandardUnitCount, start, []metrics.Dimension{q})
	require.NoError(t, err)
	assert.False(t, ok, "the gauge was sent with Unit Count")
	v, ok, err = readSum(ctx, c, ns, gauge, "", start, []metrics.Dimension{q})
	require.NoError(t, err)
	assert.True(t, ok)
	assert.Equal(t, 4.0, v)

	out, err := c.ListMetrics(ctx, &cloudwatch.ListMetricsInput{Namespace: aws.String(ns)})
	require.NoError(t, err)
	assert.Len(t, out.Metrics, 2, "both series are in the namespace")
}

// TestFlushToUnreachableKeepsData: a flush that times out keeps its data,
// and the next flush to a working CloudWatch sends it.
func TestFlushToUnreachableKeepsData(t *testing.T) {
	cfg := motoConfig(t)
	ns := fmt.Sprintf("orbit-test-outage-%d", time.Now().UnixNano())
	start := time.Now().Add(-time.Minute)
	good := cloudwatch.NewFromConfig(cfg, awsQuery)
	down := cfg.Copy()
	down.BaseEndpoint = aws.String(blackHole(t))
	var api switchable
	api.set(cloudwatch.NewFromConfig(down, awsQuery))
	s, err := cwmetrics.New(&api, cwmetrics.Config{Namespace: ns})
	require.NoError(t, err)

	name := ns + ".dispatched"
	s.Count(name, 2)
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	err = s.Flush(ctx)
	require.Error(t, err)
	assert.True(t, errors.Is(err, context.DeadlineExceeded), "error %v", err)

	s.Count(name, 3)
	api.set(good)
	require.NoError(t, s.Flush(t.Context()))
	v, ok, err := readSum(t.Context(), good, ns, name, types.StandardUnitCount, start, nil)
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, 5.0, v)
}

// switchable sends to whichever client was set last.
type switchable struct {
	mu  sync.Mutex
	api cwmetrics.API
}

func (s *switchable) set(api cwmetrics.API) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.api = api
}

func (s *switchable) PutMetricData(ctx context.Context, in *cloudwatch.PutMetricDataInput, optFns ...func(*cloudwatch.Options)) (*cloudwatch.PutMetricDataOutput, error) {
	s.mu.Lock()
	api := s.api
	s.mu.Unlock()
	return api.PutMetricData(ctx, in, optFns...)
}
