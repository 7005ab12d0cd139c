// Package cwmetrics is the CloudWatch driver of the metrics port, for the
// long-running bridge (the Lambdas write EMF to their logs instead). It
// aggregates in memory and sends with PutMetricData:
//
//	Gauge/Count ──▶ buffer: one entry per series (name + sorted dimensions)
//	                  gauge: last value · count: sum of deltas
//	                  at most MaxSeries entries; a new series beyond is dropped
//	Run, every Interval ──▶ Flush: take the buffer, send ≤ 1000 datums per call
//	                  ok ──▶ gone
//	                  rejected by CloudWatch (invalid parameter) ──▶ logged, dropped
//	                  any other failure ──▶ logged, merged back into the buffer
//	                                         for the next flush (still bounded)
//	Close ──▶ stop Run, flush once
//
// Recording only takes a mutex that is never held across the network, so it
// never waits for CloudWatch. The bridge records its Nomad gauges every 10 s
// and the sink sends once a minute, so a minute's data point is the last
// gauge value and the minute's total count: one PutMetricData call a minute,
// at CloudWatch's standard (60 s) resolution. A gauge not recorded since the
// last flush is not sent again, so a poller that stops shows as missing data
// (which alarms can treat as breaching) rather than as a stale value.
//
// Logs carry metric names, dimensions, numbers of series and errors; never
// metric values.
package cwmetrics

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"

	"github.com/orbit-ci/orbit/shared/clock"
	"github.com/orbit-ci/orbit/shared/metrics"
)

// DefaultNamespace is the CloudWatch namespace of Orbit's metrics. CircleCI
// Server left its namespace to the operator, so there is no name to stay
// compatible with; the metric names are CircleCI's (circle.nomad.…), so a
// dashboard or alarm made for CircleCI Server ports by changing only the
// namespace, and a separate namespace keeps Orbit's series from mixing with
// those of a CircleCI Server installation still reporting during a migration.
const DefaultNamespace = "Orbit"

// Limits of PutMetricData.
const (
	// maxDatums is the most datums one PutMetricData call takes.
	maxDatums = 1000
	// maxRequestBytes is how large a call's (uncompressed) body may grow;
	// CloudWatch takes at most 1 MB. estimateBytes overestimates.
	maxRequestBytes = 1 << 20
	// maxDimensions, maxNameLen and maxDimValueLen are CloudWatch's limits
	// on a datum: 30 dimensions; names of 1–255 characters; dimension
	// values of 1–1024 characters.
	maxDimensions  = 30
	maxNameLen     = 255
	maxDimValueLen = 1024
)

// maxMagnitude is the largest magnitude CloudWatch accepts (2^360).
var maxMagnitude = math.Ldexp(1, 360)

// API is the part of *cloudwatch.Client the sink uses.
type API interface {
	PutMetricData(ctx context.Context, in *cloudwatch.PutMetricDataInput, optFns ...func(*cloudwatch.Options)) (*cloudwatch.PutMetricDataOutput, error)
}

var (
	_ API          = (*cloudwatch.Client)(nil)
	_ metrics.Sink = (*Sink)(nil)
)

// Clock is the sink's time source; tests use a fake one.
type Clock interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
}

// Config configures a Sink.
type Config struct {
	// Namespace is the CloudWatch namespace of every datum (default
	// DefaultNamespace, "Orbit").
	Namespace string
	// Interval is how often Run flushes (default 60 s); each flush may take
	// at most this long.
	Interval time.Duration
	// MaxSeries bounds the buffer: at most this many series wait for a
	// flush, including those kept after a failed send (default 10000). A new
	// series recorded beyond it is dropped and counted in the next flush's
	// log line. Memory therefore stays bounded however long CloudWatch is
	// unreachable: a series' data aggregates into its one entry.
	MaxSeries int
	// Clock is the time source (default: the real clock).
	Clock Clock
	// Logger receives failed sends and dropped data (default: discarded).
	Logger *slog.Logger
}

// Sink buffers metrics and sends them to CloudWatch. Its methods are safe
// for concurrent use.
type Sink struct {
	api       API
	namespace string
	interval  time.Duration
	maxSeries int
	clock     Clock
	log       *slog.Logger

	mu      sync.Mutex
	buf     map[string]*entry
	dropped int    // new series dropped because buf was full, since the last flush
	example string // the name of one of them, for the log
	closed  bool

	flushMu   sync.Mutex // one flush at a time, so merges back keep their order
	done      chan struct{}
	closeOnce sync.Once
}

// entry is one series waiting for a flush.
type entry struct {
	key  string // seriesKey(name, dims)
	name string
	dims []metrics.Dimension // sorted by name
	// value is the gauge's last value, or the sum of the counts.
	value float64
	// gauge is true when Gauge set the series since the last flush; Count
	// then adds to that value, as memmetrics does. A series only counted is
	// sent with Unit Count.
	gauge bool
}

// New returns a Sink that sends to CloudWatch through api.
func New(api API, cfg Config) (*Sink, error) {
	if api == nil {
		return nil, errors.New("cwmetrics: nil CloudWatch client")
	}
	if cfg.Interval < 0 || cfg.MaxSeries < 0 {
		return nil, fmt.Errorf("cwmetrics: negative Interval (%v) or MaxSeries (%d)", cfg.Interval, cfg.MaxSeries)
	}
	if cfg.Namespace == "" {
		cfg.Namespace = DefaultNamespace
	}
	if strings.HasPrefix(cfg.Namespace, "AWS/") || len(cfg.Namespace) > maxNameLen {
		return nil, fmt.Errorf("cwmetrics: namespace %q is reserved or too long", cfg.Namespace)
	}
	if cfg.Interval == 0 {
		cfg.Interval = time.Minute
	}
	if cfg.MaxSeries == 0 {
		cfg.MaxSeries = 10000
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Sink{
		api:       api,
		namespace: cfg.Namespace,
		interval:  cfg.Interval,
		maxSeries: cfg.MaxSeries,
		clock:     cfg.Clock,
		log:       cfg.Logger,
		buf:       map[string]*entry{},
		done:      make(chan struct{}),
	}, nil
}

// Gauge implements metrics.Sink: the next flush sends the last value.
func (s *Sink) Gauge(name string, value float64, dims ...metrics.Dimension) {
	s.record(name, value, true, dims)
}

// Count implements metrics.Sink: the next flush sends the sum of the deltas.
func (s *Sink) Count(name string, delta float64, dims ...metrics.Dimension) {
	s.record(name, delta, false, dims)
}

func (s *Sink) record(name string, v float64, gauge bool, dims []metrics.Dimension) {
	sorted := sortDims(dims)
	if why := invalid(name, v, sorted); why != "" {
		s.log.Warn("metrics: datum dropped", "metric", name, "dimensions", dimAttr(sorted), "reason", why)
		return
	}
	key := seriesKey(name, sorted)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	e, ok := s.buf[key]
	if !ok {
		if len(s.buf) >= s.maxSeries {
			s.dropped++
			s.example = name
			return
		}
		e = &entry{key: key, name: name, dims: sorted}
		s.buf[key] = e
	}
	if gauge {
		e.value, e.gauge = v, true
	} else {
		e.value += v
	}
}

// Run flushes every Interval until ctx ends or Close is called, then
// returns nil. Each flush may take at most Interval; what it cannot send
// stays buffered for the next (Flush logs why). Close sends what is left.
func (s *Sink) Run(ctx context.Context) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-s.done:
			return nil
		case <-s.clock.After(s.interval):
		}
		fctx, cancel := context.WithTimeout(ctx, s.interval)
		_ = s.Flush(fctx) // logged by Flush; the data waits for the next one
		cancel()
	}
}

// Close stops Run, stops recording (later values are dropped) and flushes
// once. It returns the flush's error.
func (s *Sink) Close(ctx context.Context) error {
	s.closeOnce.Do(func() { close(s.done) })
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	return s.Flush(ctx)
}

// Flush sends everything recorded since the last flush, at most 1000
// datums per PutMetricData call, stamped with the current time. A call
// CloudWatch rejects as invalid is dropped; after any other failure that
// call's datums and the ones not yet sent go back into the buffer (merged
// with what was recorded meanwhile) for the next flush. Each failure is
// logged; the error returned joins them. Flushes run one at a time.
func (s *Sink) Flush(ctx context.Context) error {
	s.flushMu.Lock()
	defer s.flushMu.Unlock()

	s.mu.Lock()
	batch, dropped, example := s.buf, s.dropped, s.example
	s.buf, s.dropped, s.example = make(map[string]*entry, len(batch)), 0, ""
	s.mu.Unlock()
	if dropped > 0 {
		s.log.Warn("metrics: buffer full, new series dropped", "dropped", dropped,
			"max_series", s.maxSeries, "metric", example)
	}
	if len(batch) == 0 {
		return nil
	}

	entries := make([]*entry, 0, len(batch))
	for _, e := range batch {
		if math.IsNaN(e.value) || math.IsInf(e.value, 0) || math.Abs(e.value) > maxMagnitude { // a sum of counts can pass 2^360
			s.log.Warn("metrics: datum dropped", "metric", e.name, "dimensions", dimAttr(e.dims), "reason", "value out of CloudWatch's range")
			continue
		}
		entries = append(entries, e)
	}
	slices.SortFunc(entries, func(a, b *entry) int { return strings.Compare(a.key, b.key) })

	now := s.clock.Now()
	var errs []error
	for len(entries) > 0 {
		n := chunkLen(entries)
		chunk := entries[:n]
		_, err := s.api.PutMetricData(ctx, &cloudwatch.PutMetricDataInput{
			Namespace:  aws.String(s.namespace),
			MetricData: datums(chunk, now),
		})
		switch {
		case err == nil:
			entries = entries[n:]
		case rejected(err):
			s.log.Error("metrics: CloudWatch rejected the data, dropped", "namespace", s.namespace,
				"series", n, "metric", chunk[0].name, "error", err)
			errs = append(errs, fmt.Errorf("put %d metrics to %s: %w", n, s.namespace, err))
			entries = entries[n:]
		default:
			// CloudWatch is unreachable, throttling or failing (the SDK has
			// retried already): keep everything not sent for the next flush.
			kept, lost := s.restore(entries)
			s.log.Warn("metrics: send to CloudWatch failed, kept for the next flush", "namespace", s.namespace,
				"series", kept, "dropped", lost, "error", err)
			return errors.Join(append(errs, fmt.Errorf("put %d metrics to %s: %w", len(entries), s.namespace, err))...)
		}
	}
	return errors.Join(errs...)
}

// restore merges entries that failed to send back into the buffer, as
// older than what was recorded meanwhile: a newer gauge wins; newer counts
// add to the older value. It returns how many series it kept and how many
// it dropped because the buffer was full.
func (s *Sink) restore(old []*entry) (kept, dropped int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, o := range old {
		n, ok := s.buf[o.key]
		switch {
		case !ok && len(s.buf) >= s.maxSeries:
			dropped++
			continue
		case !ok:
			s.buf[o.key] = o
		case !n.gauge:
			n.value += o.value
			n.gauge = o.gauge
		}
		kept++
	}
	return kept, dropped
}

// rejected reports whether CloudWatch refused the call's content, which
// sending it again cannot fix.
func rejected(err error) bool {
	var (
		value   *types.InvalidParameterValueException
		combo   *types.InvalidParameterCombinationException
		missing *types.MissingRequiredParameterException
	)
	return errors.As(err, &value) || errors.As(err, &combo) || errors.As(err, &missing)
}

// datums converts entries to PutMetricData's form.
func datums(entries []*entry, now time.Time) []types.MetricDatum {
	out := make([]types.MetricDatum, len(entries))
	for i, e := range entries {
		d := types.MetricDatum{
			MetricName: aws.String(e.name),
			Value:      aws.Float64(e.value),
			Timestamp:  aws.Time(now),
		}
		if !e.gauge {
			d.Unit = types.StandardUnitCount
		}
		if len(e.dims) > 0 {
			d.Dimensions = make([]types.Dimension, len(e.dims))
			for j, dim := range e.dims {
				d.Dimensions[j] = types.Dimension{Name: aws.String(dim.Name), Value: aws.String(dim.Value)}
			}
		}
		out[i] = d
	}
	return out
}

// chunkLen returns how many of entries (at least one) fit in one call.
func chunkLen(entries []*entry) int {
	size := 0
	for i, e := range entries {
		size += estimateBytes(e)
		if i == maxDatums || (i > 0 && size > maxRequestBytes) {
			return i
		}
	}
	return len(entries)
}

// estimateBytes overestimates an entry's share of an awsQuery body (the
// largest of the SDK's encodings): every character percent-encoded, plus
// the parameter names and the value, timestamp and unit.
func estimateBytes(e *entry) int {
	n := 200 + 3*len(e.name)
	for _, d := range e.dims {
		n += 100 + 3*(len(d.Name)+len(d.Value))
	}
	return n
}

// invalid says why CloudWatch would reject the datum, or "" if it would not.
// A datum CloudWatch rejects fails its whole call, so it is dropped here.
func invalid(name string, v float64, dims []metrics.Dimension) string {
	switch {
	case name == "" || len(name) > maxNameLen:
		return "metric name must have 1 to 255 characters"
	case math.IsNaN(v) || math.IsInf(v, 0) || math.Abs(v) > maxMagnitude:
		return "value is NaN, infinite or beyond ±2^360"
	case len(dims) > maxDimensions:
		return "more than 30 dimensions"
	}
	for i, d := range dims {
		switch {
		case d.Name == "" || len(d.Name) > maxNameLen:
			return "dimension name must have 1 to 255 characters"
		case d.Value == "" || len(d.Value) > maxDimValueLen:
			return "dimension value must have 1 to 1024 characters"
		case i > 0 && dims[i-1].Name == d.Name:
			return "dimension " + d.Name + " given twice"
		}
	}
	return ""
}

// sortDims returns a copy of dims sorted by name (the caller may reuse its
// slice), so a series has one key whatever order its dimensions come in.
func sortDims(dims []metrics.Dimension) []metrics.Dimension {
	if len(dims) == 0 {
		return nil
	}
	out := slices.Clone(dims)
	slices.SortStableFunc(out, func(a, b metrics.Dimension) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// seriesKey identifies a series; dims are sorted. Lengths prefix each part
// so no name or value can forge another series' key.
func seriesKey(name string, dims []metrics.Dimension) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d:%s", len(name), name)
	for _, d := range dims {
		fmt.Fprintf(&b, "|%d:%s=%d:%s", len(d.Name), d.Name, len(d.Value), d.Value)
	}
	return b.String()
}

// dimAttr renders dimensions for a log line.
func dimAttr(dims []metrics.Dimension) string {
	parts := make([]string, len(dims))
	for i, d := range dims {
		parts[i] = d.Name + "=" + d.Value
	}
	return strings.Join(parts, ",")
}
