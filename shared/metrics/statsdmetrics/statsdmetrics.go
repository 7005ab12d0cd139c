// Package statsdmetrics is the StatsD/DogStatsD driver of the metrics port,
// so operators who run Datadog (the seed's built-in Datadog option) or
// Telegraf's statsd input get Orbit's metrics beside, or instead of,
// CloudWatch. It aggregates in memory and sends over UDP:
//
//	Gauge/Count ──▶ buffer: one entry per series (name + sorted dimensions)
//	                  gauge: last value · count: sum of deltas
//	                  at most MaxSeries entries; a new series beyond is dropped
//	                  and counted (Stats().Dropped)
//	Run, every Interval ──▶ Flush: take the buffer, format one line per series,
//	                  pack lines into datagrams of at most MaxPacket bytes,
//	                  write each (UDP: the write never waits for the agent)
//	Close ──▶ stop Run, flush once
//
// Wire format, one line per series:
//
//	DogStatsD  circle.nomad.server_agent.jobs.running:3|g|#queue:run,region:eu
//	StatsD     circle.nomad.server_agent.jobs.running.queue.run.region.eu:3|g
//
// Plain StatsD has no tags, so a series' dimensions are folded into its
// name (sorted by dimension name, then value), which keeps every series
// apart as the port's contract demands; Telegraf's statsd templates can
// turn them back into tags. A negative gauge is sent as "0|g" followed by
// the value in the same datagram, because StatsD reads a signed gauge as a
// change to the current value. Characters the protocol reserves (':', '|',
// '@', '#', ',' and line breaks) become '_'.
//
// 1432 bytes is DogStatsD's default for UDP: the largest payload that fits
// an Ethernet frame's 1500-byte MTU after IP and UDP headers on every path.
// A series whose line alone is longer is dropped and counted.
//
// Recording takes a mutex that is never held across the network. Writes go
// to a connected UDP socket: an agent that is down costs a refused write
// (counted, logged once per flush), never a wait. Logs carry metric names
// and counts, never metric values.
package statsdmetrics

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/orbit-ci/orbit/shared/clock"
	"github.com/orbit-ci/orbit/shared/metrics"
)

// Mode is the line format.
type Mode string

const (
	// DogStatsD sends dimensions as tags (|#name:value,…): the Datadog
	// agent, and Telegraf with datadog_extensions = true.
	DogStatsD Mode = "dogstatsd"
	// StatsD sends no tags: dimensions are folded into the name.
	StatsD Mode = "statsd"
)

// DefaultMaxPacket is the largest datagram sent (DogStatsD's UDP default).
const DefaultMaxPacket = 1432

var _ metrics.Sink = (*Sink)(nil)

// Clock is the sink's time source; tests use a fake one.
type Clock interface {
	After(d time.Duration) <-chan time.Time
}

// Config configures a Sink.
type Config struct {
	// Addr is the agent's UDP address, host:port (Datadog's and Telegraf's
	// default is 127.0.0.1:8125). Required.
	Addr string
	// Mode is DogStatsD (default) or StatsD.
	Mode Mode
	// Interval is how often Run flushes (default 10 s, the DogStatsD
	// agent's own flush interval, so each of its intervals holds one value
	// per series).
	Interval time.Duration
	// MaxSeries bounds the buffer: at most this many series wait for a
	// flush (default 10000). A new series beyond is dropped and counted.
	MaxSeries int
	// MaxPacket is the largest datagram in bytes (default 1432; raise it
	// only for an agent on the same host, e.g. 8192).
	MaxPacket int
	// Clock is the time source (default: the real clock).
	Clock Clock
	// Logger receives failed writes and dropped data (default: discarded).
	Logger *slog.Logger
}

// Stats counts what the sink did since it was made.
type Stats struct {
	// Packets is how many datagrams were written without error.
	Packets int64
	// Dropped is how many series were lost: recorded beyond MaxSeries,
	// longer than a datagram, or in a datagram whose write failed.
	Dropped int64
}

// Sink buffers metrics and sends them to a StatsD agent. Its methods are
// safe for concurrent use.
type Sink struct {
	conn      net.Conn
	mode      Mode
	interval  time.Duration
	maxSeries int
	maxPacket int
	clock     Clock
	log       *slog.Logger

	mu      sync.Mutex
	buf     map[string]*series
	closed  bool
	packets atomic.Int64
	dropped atomic.Int64

	flushMu   sync.Mutex
	done      chan struct{}
	closeOnce sync.Once
}

// series is one series waiting for a flush.
type series struct {
	line  string // the line without value and type: "name" + tags, or the folded name
	tags  string // DogStatsD: "|#a:1,b:2" or ""
	value float64
	gauge bool // Gauge set it since the last flush; Count then adds, as memmetrics does
}

// New returns a Sink that writes to cfg.Addr. It resolves the address now;
// the agent need not be up.
func New(cfg Config) (*Sink, error) {
	if cfg.Addr == "" {
		return nil, errors.New("statsdmetrics: Addr (the agent's host:port) is required")
	}
	switch cfg.Mode {
	case "":
		cfg.Mode = DogStatsD
	case DogStatsD, StatsD:
	default:
		return nil, fmt.Errorf("statsdmetrics: mode %q: want %s or %s", cfg.Mode, DogStatsD, StatsD)
	}
	if cfg.Interval < 0 || cfg.MaxSeries < 0 || cfg.MaxPacket < 0 {
		return nil, fmt.Errorf("statsdmetrics: negative Interval (%v), MaxSeries (%d) or MaxPacket (%d)",
			cfg.Interval, cfg.MaxSeries, cfg.MaxPacket)
	}
	if cfg.Interval == 0 {
		cfg.Interval = 10 * time.Second
	}
	if cfg.MaxSeries == 0 {
		cfg.MaxSeries = 10000
	}
	if cfg.MaxPacket == 0 {
		cfg.MaxPacket = DefaultMaxPacket
	}
	if cfg.MaxPacket > 65507 {
		return nil, fmt.Errorf("statsdmetrics: MaxPacket %d is larger than a UDP datagram (65507)", cfg.MaxPacket)
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	conn, err := net.Dial("udp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("statsdmetrics: agent address %q: %w", cfg.Addr, err)
	}
	return &Sink{
		conn: conn, mode: cfg.Mode, interval: cfg.Interval, maxSeries: cfg.MaxSeries,
		maxPacket: cfg.MaxPacket, clock: cfg.Clock, log: cfg.Logger,
		buf: map[string]*series{}, done: make(chan struct{}),
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
	if name == "" || math.IsNaN(v) || math.IsInf(v, 0) {
		s.dropped.Add(1)
		return
	}
	line, tags := s.encode(name, dims)
	key := line + tags
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	e, ok := s.buf[key]
	if !ok {
		if len(s.buf) >= s.maxSeries {
			s.dropped.Add(1)
			return
		}
		e = &series{line: line, tags: tags}
		s.buf[key] = e
	}
	if gauge {
		e.value, e.gauge = v, true
	} else {
		e.value += v
	}
}

// encode returns a series' name part and tag part, dimensions sorted.
func (s *Sink) encode(name string, dims []metrics.Dimension) (line, tags string) {
	sorted := slices.Clone(dims)
	slices.SortStableFunc(sorted, func(a, b metrics.Dimension) int {
		if c := strings.Compare(a.Name, b.Name); c != 0 {
			return c
		}
		return strings.Compare(a.Value, b.Value)
	})
	var b strings.Builder
	b.WriteString(clean(name))
	if s.mode == StatsD {
		for _, d := range sorted {
			b.WriteString("." + clean(d.Name) + "." + clean(d.Value))
		}
		return b.String(), ""
	}
	if len(sorted) == 0 {
		return b.String(), ""
	}
	var t strings.Builder
	t.WriteString("|#")
	for i, d := range sorted {
		if i > 0 {
			t.WriteByte(',')
		}
		t.WriteString(clean(d.Name) + ":" + clean(d.Value))
	}
	return b.String(), t.String()
}

// reserved are the characters StatsD and DogStatsD give a meaning to.
var reserved = strings.NewReplacer(":", "_", "|", "_", "@", "_", "#", "_", ",", "_", "\n", "_", "\r", "_")

func clean(s string) string { return reserved.Replace(s) }

// format renders a series as one or two lines (a negative gauge is reset to
// zero first: a signed StatsD gauge is a change, not a value).
func (e *series) format() string {
	v := strconv.FormatFloat(e.value, 'f', -1, 64)
	if !e.gauge {
		return e.line + ":" + v + "|c" + e.tags
	}
	if e.value < 0 || (e.value == 0 && math.Signbit(e.value)) {
		return e.line + ":0|g" + e.tags + "\n" + e.line + ":" + v + "|g" + e.tags
	}
	return e.line + ":" + v + "|g" + e.tags
}

// Run flushes every Interval until ctx ends or Close is called, then
// returns nil.
func (s *Sink) Run(ctx context.Context) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-s.done:
			return nil
		case <-s.clock.After(s.interval):
		}
		_ = s.Flush(ctx) // logged by Flush; UDP keeps nothing for later
	}
}

// Close stops Run, stops recording (later values are dropped), flushes once
// and closes the socket. It returns the flush's error.
func (s *Sink) Close(ctx context.Context) error {
	s.closeOnce.Do(func() { close(s.done) })
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	err := s.Flush(ctx)
	return errors.Join(err, s.conn.Close())
}

// Stats returns what the sink sent and dropped so far.
func (s *Sink) Stats() Stats {
	return Stats{Packets: s.packets.Load(), Dropped: s.dropped.Load()}
}

// Flush sends everything recorded since the last flush, in datagrams of at
// most MaxPacket bytes, sorted by series. What a failed write carried is
// dropped (UDP has no acknowledgement to retry on) and counted; the error
// returned says how many datagrams failed and why. Flushes run one at a
// time; each write gives up when ctx ends.
func (s *Sink) Flush(ctx context.Context) error {
	s.flushMu.Lock()
	defer s.flushMu.Unlock()
	s.mu.Lock()
	batch := s.buf
	s.buf = make(map[string]*series, len(batch))
	s.mu.Unlock()
	if len(batch) == 0 {
		return nil
	}
	keys := make([]string, 0, len(batch))
	for k := range batch {
		keys = append(keys, k)
	}
	slices.Sort(keys)

	var (
		packet        []byte
		inPacket      int
		failed, lost  int
		firstErr      error
		tooLong       int
		tooLongMetric string
	)
	send := func() {
		if len(packet) == 0 {
			return
		}
		if err := s.write(ctx, packet); err != nil {
			failed++
			lost += inPacket
			if firstErr == nil {
				firstErr = err
			}
		} else {
			s.packets.Add(1)
		}
		packet, inPacket = packet[:0], 0
	}
	for _, k := range keys {
		e := batch[k]
		line := e.format()
		if len(line) > s.maxPacket {
			tooLong++
			tooLongMetric = e.line
			continue
		}
		if len(packet) > 0 && len(packet)+1+len(line) > s.maxPacket {
			send()
		}
		if len(packet) > 0 {
			packet = append(packet, '\n')
		}
		packet = append(packet, line...)
		inPacket++
	}
	send()
	s.dropped.Add(int64(tooLong + lost))
	if tooLong > 0 {
		s.log.Warn("metrics: series longer than a datagram, dropped", "dropped", tooLong,
			"max_packet", s.maxPacket, "metric", tooLongMetric)
	}
	if failed > 0 {
		s.log.Warn("metrics: send to the StatsD agent failed, dropped", "datagrams", failed,
			"series", lost, "error", firstErr)
		return fmt.Errorf("statsdmetrics: %d datagrams to the agent failed: %w", failed, firstErr)
	}
	return nil
}

// write sends one datagram, giving up when ctx ends.
func (s *Sink) write(ctx context.Context, p []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(s.interval)
	}
	if err := s.conn.SetWriteDeadline(deadline); err != nil {
		return err
	}
	_, err := s.conn.Write(p)
	return err
}
