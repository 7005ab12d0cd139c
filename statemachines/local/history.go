package local

import (
	"encoding/json"
	"time"
)

// HistoryEvent is one event of an execution's history, named as Step
// Functions names them: ExecutionStarted|Succeeded|Failed|Aborted|TimedOut,
// <Type>StateEntered / <Type>StateExited (TaskStateEntered, PassStateExited,
// …), TaskScheduled, TaskStarted, TaskSubmitted (parked on a token),
// TaskSucceeded, TaskFailed, TaskTimedOut, MapIterationStarted|Succeeded|Failed
// and ParallelBranch… equivalents.
type HistoryEvent struct {
	ID              int64
	PreviousEventID int64
	Type            string
	Timestamp       time.Time
	StateName       string          `json:",omitempty"`
	Resource        string          `json:",omitempty"`
	Input           json.RawMessage `json:",omitempty"`
	Output          json.RawMessage `json:",omitempty"`
	Error           string          `json:",omitempty"`
	Cause           string          `json:",omitempty"`
	// Index is the Map iteration or Parallel branch, for their events.
	Index int `json:",omitempty"`

	// in and out are encoded only when History is read: most events are
	// never looked at, and encoding on every transition would dominate
	// its cost. Values are never mutated, so holding them is safe.
	in, out lazyJSON
}

type lazyJSON struct {
	v   any
	set bool
}

// encoded returns the event with Input and Output filled in.
func (ev HistoryEvent) encoded() HistoryEvent {
	if ev.in.set {
		ev.Input = encodeJSON(ev.in.v)
	}
	if ev.out.set {
		ev.Output = encodeJSON(ev.out.v)
	}
	ev.in, ev.out = lazyJSON{}, lazyJSON{}
	return ev
}
