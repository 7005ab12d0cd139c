package nomadbridge

import "time"

// watchIndex decides the WaitIndex of each blocking query on the allocation
// list, so that an idle bridge really waits on Nomad instead of spinning:
//
//	first query            WaitIndex 0: answers at once (the reconciliation)
//	answer with index 0    (an empty allocation table) ──▶ wait on 1: index 0
//	                       never blocks, and Nomad answered ~1,400 times a
//	                       second with an empty list
//	index went backwards   (Nomad's state was reset, e.g. a new dev agent)
//	                       ──▶ wait on the new index: the answer already is
//	                       the whole new list
//	answer came back early without news (a proxy or server that does not
//	                       block) ──▶ pause, doubling from min to max, so the
//	                       watch never loops faster than that
//	failed query           ──▶ pause with the same backoff, then list from 0
//
// Times come from the caller (the bridge's injected clock).
type watchIndex struct {
	index    uint64        // WaitIndex of the next query
	last     uint64        // index of the last answer
	seen     bool          // an answer came since the last failure
	min, max time.Duration // bounds of the pause
	pause    time.Duration // next pause after a query without news
}

func newWatchIndex(minBackoff, maxBackoff time.Duration) *watchIndex {
	return &watchIndex{min: minBackoff, max: max(maxBackoff, minBackoff), pause: minBackoff}
}

// next is the WaitIndex of the next query.
func (w *watchIndex) next() uint64 { return w.index }

// answered takes an answer's index, how long the query took and how long it
// was allowed to block; it returns how long to pause before the next query
// (0 for none) and whether the index went backwards.
func (w *watchIndex) answered(got uint64, took, waitTime time.Duration) (pause time.Duration, reset bool) {
	prev := w.index
	reset = w.seen && got < w.last
	w.index, w.last, w.seen = max(got, 1), got, true
	blocked := prev > 0
	if blocked && got <= prev && took < waitTime/2 {
		// A blocking query came back early with nothing new: the server
		// did not block. Never loop faster than the backoff.
		pause = w.pause
		w.pause = min(2*w.pause, w.max)
		return pause, reset
	}
	w.pause = w.min
	return 0, reset
}

// failed records a failed query: the next one lists from 0 (the
// reconciliation), after the returned pause.
func (w *watchIndex) failed() time.Duration {
	w.index, w.seen = 0, false
	pause := w.pause
	w.pause = min(2*w.pause, w.max)
	return pause
}
