package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/orbit-ci/orbit/shared/store"
)

const (
	// eventsPoll is how often the event stream looks for new output.
	eventsPoll = 250 * time.Millisecond
	// eventsMaxDuration bounds one event stream; the browser reconnects
	// with Last-Event-ID and the stream goes on from there.
	eventsMaxDuration = 5 * time.Minute
	// eventsPing is how often an idle stream sends a comment, so proxies
	// keep it open.
	eventsPing = 15 * time.Second
)

// outputEvent is an "output" event: a chunk of a step's output, as text
// (a multi-byte character split between chunks goes whole into the
// later one).
type outputEvent struct {
	Seq  int    `json:"seq"`
	Text string `json:"text"`
	// At is when the chunk was stored ("15:04:05" UTC), "" when unknown.
	At string `json:"at,omitempty"`
}

// statusEvent is a "status" event: the step's status changed; the last
// one before "end".
type statusEvent struct {
	Status   string `json:"status"`
	ExitCode *int   `json:"exit_code"`
	Duration string `json:"duration"`
}

// jobEvents streams a step's output as server-sent events:
//
//	GET /ui/project/{vcs}/{org}/{repo}/job/{number}/events?step=N&task=I&from=SEQ
//
// "output" events carry the chunks from SEQ on (each with its id, the
// next sequence number, so a reconnecting EventSource resumes through
// Last-Event-ID); a "status" event carries the step's status when it
// changes and an "end" event closes the stream once the step (or its
// job) has ended. A stream also ends after eventsMaxDuration or when the
// client goes away.
func (s *server) jobEvents(w http.ResponseWriter, r *http.Request) error {
	j, step, task, from, err := s.outputTarget(r)
	if err != nil {
		return err
	}
	if id := r.Header.Get("Last-Event-ID"); id != "" {
		if n, err := strconv.Atoi(id); err == nil && n >= 0 {
			from = n
		}
	}
	if err := s.stepExists(r.Context(), j, task, step); err != nil {
		return err
	}
	ctx := r.Context()
	taskID := store.TaskID(j.ID, j.Attempt, task)
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	send := func(event, id string, v any) bool {
		b, _ := json.Marshal(v)
		if id != "" {
			id = "id: " + id + "\n"
		}
		_, err := fmt.Fprintf(w, "%sevent: %s\ndata: %s\n\n", id, event, b)
		return err == nil
	}
	stop := time.NewTimer(eventsMaxDuration)
	defer stop.Stop()
	tick := time.NewTicker(eventsPoll)
	defer tick.Stop()
	var carry []byte // the start of a character split between chunks
	lastStatus, idle := "", time.Now()
	for {
		// The status first: output stored before the step ended is then
		// read below, before the end is sent.
		st, done, err := s.stepState(r, j, taskID, step)
		if err != nil {
			return nil // the stream has started: it just ends
		}
		chunks, err := s.st.Output(ctx, taskID, step, from)
		if err != nil {
			return nil
		}
		for _, c := range chunks {
			text := append(carry, c.Data...)
			carry = nil
			if cut := incompleteTail(text); cut > 0 && !done {
				text, carry = text[:len(text)-cut], append([]byte(nil), text[len(text)-cut:]...)
			}
			ev := outputEvent{Seq: c.Seq, Text: string(text)}
			if !c.At.IsZero() {
				ev.At = c.At.UTC().Format("15:04:05")
			}
			from = c.Seq + 1
			if !send("output", strconv.Itoa(from), ev) {
				return nil
			}
		}
		if len(chunks) > 0 {
			idle = time.Now()
		}
		if string(st.Status) != lastStatus || done {
			lastStatus = string(st.Status)
			if !send("status", "", statusEvent{Status: lastStatus, ExitCode: st.ExitCode, Duration: formatDuration(stepStart(st), st.StoppedAt)}) {
				return nil
			}
		}
		if done {
			send("end", "", struct{}{})
			_ = rc.Flush()
			return nil
		}
		if time.Since(idle) > eventsPing {
			idle = time.Now()
			if _, err := fmt.Fprint(w, ": ping\n\n"); err != nil {
				return nil
			}
		}
		if err := rc.Flush(); err != nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-stop.C:
			return nil
		case <-tick.C:
		}
	}
}

// stepState reads a step and whether it is over: it stopped, or its job
// ended (a task that was killed leaves its step running).
func (s *server) stepState(r *http.Request, j store.Job, taskID string, step int) (store.Step, bool, error) {
	steps, err := s.st.ListSteps(r.Context(), taskID)
	if err != nil {
		return store.Step{}, false, err
	}
	var st store.Step
	for _, x := range steps {
		if x.Index == step {
			st = x
		}
	}
	if st.Status != "" && !stepRunning(st) {
		return st, true, nil
	}
	cur, err := s.st.GetJob(r.Context(), j.ID)
	if err != nil {
		return st, false, err
	}
	return st, cur.Status.Terminal() || cur.Attempt != j.Attempt, nil
}

// incompleteTail is how many bytes at the end of b start a UTF-8
// character that the next chunk completes (0 when none).
func incompleteTail(b []byte) int {
	for n := 1; n <= 3 && n <= len(b); n++ {
		c := b[len(b)-n]
		if c < 0x80 {
			return 0
		}
		if utf8.RuneStart(c) {
			if !utf8.FullRune(b[len(b)-n:]) {
				return n
			}
			return 0
		}
	}
	return 0
}
