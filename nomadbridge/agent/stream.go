package agent

import (
	"bytes"
	"context"
	"fmt"
	"sort"
	"sync"
	"time"
)

// maskText replaces secrets in output, as CircleCI does.
const maskText = "********"

// masker replaces secret values in a byte stream. Because a secret may be
// split across two writes (and so across two chunks), mask holds back a tail
// that could still be the start of a secret until more output arrives or
// the stream ends.
type masker struct {
	secrets [][]byte // longest first, so the longest match wins
	maxLen  int
}

func newMasker(secrets []string) *masker {
	seen := map[string]bool{}
	m := &masker{}
	for _, s := range secrets {
		if s == "" || seen[s] {
			continue
		}
		seen[s] = true
		m.secrets = append(m.secrets, []byte(s))
		m.maxLen = max(m.maxLen, len(s))
	}
	sort.Slice(m.secrets, func(i, j int) bool { return len(m.secrets[i]) > len(m.secrets[j]) })
	return m
}

// mask returns the masked output that is safe to send and the raw tail to
// keep for later (empty when final).
func (m *masker) mask(buf []byte, final bool) (out, rest []byte) {
	if len(m.secrets) == 0 {
		return buf, nil
	}
	out = make([]byte, 0, len(buf))
	i := 0
scan:
	for i < len(buf) {
		for _, s := range m.secrets {
			if bytes.HasPrefix(buf[i:], s) {
				out = append(out, maskText...)
				i += len(s)
				continue scan
			}
		}
		if !final && len(buf)-i < m.maxLen {
			for _, s := range m.secrets {
				if len(s) > len(buf)-i && bytes.HasPrefix(s, buf[i:]) {
					return out, bytes.Clone(buf[i:])
				}
			}
		}
		out = append(out, buf[i])
		i++
	}
	return out, nil
}

// text masks a whole string (test results' names and messages).
func (m *masker) text(s string) string {
	out, _ := m.mask([]byte(s), true)
	return string(out)
}

// streamer collects one step's output and sends it to the runner API in
// chunks: whatever is waiting every interval, and at once when max bytes are
// waiting. Chunks are sent one at a time, in order, numbered from 0.
// Writes never fail: if sending fails, onError is called once and later
// output is discarded, so the step's process never blocks on a dead API.
// Past limit bytes (of masked output) the streamer sends a truncation line
// and discards the rest; the step keeps running.
type streamer struct {
	send     func(ctx context.Context, seq int, data []byte) error
	ctx      context.Context
	interval time.Duration
	max      int
	limit    int64
	mask     *masker
	onError  func(error)

	mu        sync.Mutex
	cond      *sync.Cond
	pending   []byte
	closed    bool
	failed    bool
	truncated bool
	sent      int64
	seq       int

	activity chan struct{} // a non-blocking signal on every write
	kick     chan struct{}
	done     chan struct{}
}

func newStreamer(ctx context.Context, send func(context.Context, int, []byte) error, interval time.Duration,
	maxChunk int, limit int64, m *masker, onError func(error)) *streamer {
	s := &streamer{
		send: send, ctx: ctx, interval: interval, max: maxChunk, limit: limit, mask: m, onError: onError,
		activity: make(chan struct{}, 1),
		kick:     make(chan struct{}, 1),
		done:     make(chan struct{}),
	}
	s.cond = sync.NewCond(&s.mu)
	go s.loop()
	return s
}

// Write implements io.Writer. It blocks while too much output is waiting
// (back pressure on the step's process) unless sending failed.
func (s *streamer) Write(p []byte) (int, error) {
	s.mu.Lock()
	for len(s.pending) >= 4*s.max && !s.closed && !s.failed {
		s.cond.Wait()
	}
	if !s.failed && !s.truncated {
		s.pending = append(s.pending, p...)
	}
	full := len(s.pending) >= s.max
	s.mu.Unlock()
	signal(s.activity)
	if full {
		signal(s.kick)
	}
	return len(p), nil
}

// Close sends what is left and waits until every chunk is sent (or sending
// failed).
func (s *streamer) Close() {
	s.mu.Lock()
	s.closed = true
	s.cond.Broadcast()
	s.mu.Unlock()
	signal(s.kick)
	<-s.done
}

func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

func (s *streamer) loop() {
	defer close(s.done)
	t := time.NewTicker(s.interval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
		case <-s.kick:
		}
		s.mu.Lock()
		final := s.closed
		out, rest := s.mask.mask(s.pending, final)
		s.pending = rest
		out = s.cap(out)
		s.cond.Broadcast()
		s.mu.Unlock()
		for len(out) > 0 {
			n := min(len(out), s.max)
			if !s.post(out[:n]) {
				break
			}
			out = out[n:]
		}
		if final {
			return
		}
	}
}

// cap applies the output limit to masked output about to be sent; s.mu is
// held.
func (s *streamer) cap(out []byte) []byte {
	if s.truncated {
		return nil
	}
	if s.limit <= 0 || s.sent+int64(len(out)) <= s.limit {
		s.sent += int64(len(out))
		return out
	}
	keep := out[:s.limit-s.sent]
	s.sent = s.limit
	s.truncated = true
	s.pending = nil
	return append(bytes.Clone(keep), TruncationLine(s.limit)...)
}

// TruncationLine ends a step's output that reached the limit: a colour
// reset, so an escape sequence cut in half does not colour the notice, then
// the notice.
func TruncationLine(limit int64) string {
	return fmt.Sprintf("\n\x1b[0m[Orbit: output truncated: this step printed more than %s; "+
		"the rest of its output is discarded. The step keeps running.]\n", humanSize(limit))
}

func (s *streamer) post(chunk []byte) bool {
	s.mu.Lock()
	if s.failed {
		s.mu.Unlock()
		return false
	}
	seq := s.seq
	s.seq++
	s.mu.Unlock()
	if err := s.send(s.ctx, seq, chunk); err != nil {
		s.mu.Lock()
		s.failed = true
		s.pending = nil
		s.cond.Broadcast()
		s.mu.Unlock()
		s.onError(err)
		return false
	}
	return true
}
