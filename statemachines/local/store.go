package local

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Snapshot is what the engine persists of a running execution at each state
// transition (and when it parks on a task token, schedules a retry or
// starts waiting), enough for Resume to continue it after a crash. Only the
// top level of an execution is snapshotted: an execution inside a Parallel
// or Map state resumes by re-entering that state.
type Snapshot struct {
	ExecutionArn    string          `json:"executionArn"`
	StateMachineArn string          `json:"stateMachineArn"`
	Name            string          `json:"name"`
	Input           json.RawMessage `json:"input"`
	StartDate       time.Time       `json:"startDate"`
	// Deadline is the execution's TimeoutSeconds deadline; zero = none.
	Deadline time.Time `json:"deadline,omitzero"`
	// EventID is the last history event id, so ids stay increasing on resume.
	EventID int64 `json:"eventId"`
	// Seq numbers task tokens and generated child execution names.
	Seq int64 `json:"seq"`

	// State is the current state and StateInput its raw input (before InputPath).
	State       string          `json:"state"`
	StateInput  json.RawMessage `json:"stateInput"`
	EnteredTime time.Time       `json:"enteredTime"`
	// Retries counts the attempts used per retrier of State, in Retry order.
	Retries []int `json:"retries,omitempty"`
	// TaskToken is set while State waits on a task token; Invoked tells that
	// the resource has been called with it, so Resume only waits again.
	TaskToken string `json:"taskToken,omitempty"`
	Invoked   bool   `json:"invoked,omitempty"`
	// WaitUntil is a Wait state's end or a retry's back-off end.
	WaitUntil time.Time `json:"waitUntil,omitzero"`
	// TimeoutAt is the current task attempt's TimeoutSeconds deadline.
	TimeoutAt time.Time `json:"timeoutAt,omitzero"`

	// Terminal fields, set in archived (finished) snapshots.
	Status   string          `json:"status,omitempty"`
	Output   json.RawMessage `json:"output,omitempty"`
	Error    string          `json:"error,omitempty"`
	Cause    string          `json:"cause,omitempty"`
	StopDate time.Time       `json:"stopDate,omitzero"`
}

// Store persists running executions. Save replaces the execution's snapshot;
// Delete forgets it (a no-op if absent); List returns every saved one. The
// engine serialises calls per execution but calls concurrently for
// different executions.
type Store interface {
	Save(ctx context.Context, s Snapshot) error
	Delete(ctx context.Context, execID string) error
	List(ctx context.Context) ([]Snapshot, error)
}

// Archive is optionally implemented by a Store to keep finished executions,
// so that DescribeExecution and StartExecution's name check see them after a
// restart. Archive replaces the running snapshot by the finished one
// atomically; Lookup returns ErrExecutionDoesNotExist for an unknown id.
type Archive interface {
	Archive(ctx context.Context, s Snapshot) error
	Lookup(ctx context.Context, execID string) (Snapshot, error)
}

var (
	bucketRunning  = []byte("sfn-running")
	bucketFinished = []byte("sfn-finished")
	bucketByStop   = []byte("sfn-finished-by-stop")
)

// BoltStore is a Store and Archive in a bbolt database, in its own buckets.
type BoltStore struct {
	db *bolt.DB
	// Update runs the store's write transactions; NewBoltStore sets it to
	// db.Update. Replace it with a group committer (a function with
	// bolt.DB.Update's signature that shares one transaction among the
	// writes arriving together) so that saving a snapshot at each state
	// does not cost an fsync of its own. Functions given to it may run more
	// than once, as with bolt.DB.Batch.
	Update func(func(*bolt.Tx) error) error
	// MaxFinished caps the archived finished executions; the oldest are
	// pruned first. Default 10000.
	MaxFinished int
}

var (
	_ Store   = (*BoltStore)(nil)
	_ Archive = (*BoltStore)(nil)
)

// NewBoltStore creates the store's buckets in db.
func NewBoltStore(db *bolt.DB) (*BoltStore, error) {
	err := db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketRunning, bucketFinished, bucketByStop} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("create state machine buckets: %w", err)
	}
	return &BoltStore{db: db, Update: db.Update, MaxFinished: 10000}, nil
}

// Save implements Store.
func (s *BoltStore) Save(_ context.Context, snap Snapshot) error {
	data, err := json.Marshal(snap)
	if err != nil {
		return err
	}
	return s.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketRunning).Put([]byte(snap.ExecutionArn), data)
	})
}

// Delete implements Store.
func (s *BoltStore) Delete(_ context.Context, execID string) error {
	return s.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketRunning).Delete([]byte(execID))
	})
}

// List implements Store.
func (s *BoltStore) List(_ context.Context) ([]Snapshot, error) {
	var out []Snapshot
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketRunning).ForEach(func(k, v []byte) error {
			var snap Snapshot
			if err := json.Unmarshal(v, &snap); err != nil {
				return fmt.Errorf("decode snapshot %s: %w", k, err)
			}
			out = append(out, snap)
			return nil
		})
	})
	return out, err
}

// Archive implements Archive: it moves the execution to the finished bucket
// and prunes the oldest finished executions beyond MaxFinished.
func (s *BoltStore) Archive(_ context.Context, snap Snapshot) error {
	data, err := json.Marshal(snap)
	if err != nil {
		return err
	}
	return s.Update(func(tx *bolt.Tx) error {
		id := []byte(snap.ExecutionArn)
		if err := tx.Bucket(bucketRunning).Delete(id); err != nil {
			return err
		}
		fin, byStop := tx.Bucket(bucketFinished), tx.Bucket(bucketByStop)
		if err := fin.Put(id, data); err != nil {
			return err
		}
		key := binary.BigEndian.AppendUint64(nil, uint64(snap.StopDate.UnixNano()))
		if err := byStop.Put(append(key, id...), nil); err != nil {
			return err
		}
		// The bucket's sequence counts its keys, so pruning needs no scan.
		n := byStop.Sequence() + 1
		c := byStop.Cursor()
		for k, _ := c.First(); k != nil && n > uint64(max(s.MaxFinished, 1)); k, _ = c.First() {
			if err := fin.Delete(k[8:]); err != nil {
				return err
			}
			if err := c.Delete(); err != nil {
				return err
			}
			n--
		}
		return byStop.SetSequence(n)
	})
}

// Lookup implements Archive.
func (s *BoltStore) Lookup(_ context.Context, execID string) (Snapshot, error) {
	var snap Snapshot
	err := s.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketFinished).Get([]byte(execID))
		if v == nil {
			return ErrExecutionDoesNotExist
		}
		return json.Unmarshal(v, &snap)
	})
	if err != nil && !errors.Is(err, ErrExecutionDoesNotExist) {
		err = fmt.Errorf("lookup execution %s: %w", execID, err)
	}
	return snap, err
}
