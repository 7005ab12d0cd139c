package lease_test

import (
	"context"
	"crypto/rand"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/shared/kv"
	"github.com/orbit-ci/orbit/shared/kv/boltkv"
	"github.com/orbit-ci/orbit/shared/kv/dynamokv"
	"github.com/orbit-ci/orbit/shared/testenv"
)

// eachStore runs fn once per kv driver: bbolt, and DynamoDB on moto (gated
// by ORBIT_DYNAMODB_ENDPOINT like dynamokv's own tests).
func eachStore(t *testing.T, fn func(t *testing.T, store kv.Store)) {
	t.Run("boltkv", func(t *testing.T) {
		s, err := boltkv.Open(filepath.Join(t.TempDir(), "kv.db"), boltkv.Config{})
		require.NoError(t, err)
		t.Cleanup(func() { assert.NoError(t, s.Close()) })
		fn(t, s)
	})
	t.Run("dynamokv", func(t *testing.T) {
		fn(t, dynamoStore(t))
	})
}

// dynamoStore returns a kv store on a fresh table in moto.
func dynamoStore(t *testing.T) kv.Store {
	t.Helper()
	c := dynamodb.NewFromConfig(testenv.AWS(t, "ORBIT_DYNAMODB_ENDPOINT"))
	name := "orbit-lease-" + strings.ToLower(rand.Text())
	require.NoError(t, dynamokv.CreateTable(t.Context(), c, name))
	t.Cleanup(func() {
		_, err := c.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: aws.String(name)})
		var gone *types.ResourceNotFoundException
		if !errors.As(err, &gone) { // a retried delete whose first attempt's answer was lost (moto under load)
			assert.NoError(t, err)
		}
	})
	s, err := dynamokv.New(c, dynamokv.Config{Table: name})
	require.NoError(t, err)
	return &serialStore{Store: s}
}

// serialStore passes one request at a time: moto 5.2.1 checks a
// condition and writes without a lock, so two concurrent conditional writes
// can both succeed there (see dynamokv's serialClient); DynamoDB makes each
// write atomic.
type serialStore struct {
	mu sync.Mutex
	kv.Store
}

func (s *serialStore) Get(ctx context.Context, pk, sk string) (kv.Item, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.Store.Get(ctx, pk, sk)
}

func (s *serialStore) Put(ctx context.Context, it kv.Item, c kv.Condition) (kv.Item, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.Store.Put(ctx, it, c)
}

// fakeClock is a settable clock; After fires when Advance passes its time.
type fakeClock struct {
	mu      sync.Mutex
	now     time.Time
	waiters []waiter
}

type waiter struct {
	at time.Time
	ch chan time.Time
}

func newClock() *fakeClock {
	return &fakeClock{now: time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	if d <= 0 {
		ch <- c.now
		return ch
	}
	c.waiters = append(c.waiters, waiter{at: c.now.Add(d), ch: ch})
	return ch
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	kept := c.waiters[:0]
	for _, w := range c.waiters {
		if !w.at.After(c.now) {
			w.ch <- c.now
			continue
		}
		kept = append(kept, w)
	}
	c.waiters = kept
}

// offsetClock reads a base clock shifted by a fixed offset: another host
// whose clock is set wrong but ticks at the same rate.
type offsetClock struct {
	base   *fakeClock
	offset time.Duration
}

func (c offsetClock) Now() time.Time                         { return c.base.Now().Add(c.offset) }
func (c offsetClock) After(d time.Duration) <-chan time.Time { return c.base.After(d) }

// errDown is what a store that cannot be reached answers.
var errDown = errors.New("store unreachable")

// switchStore fails every call while down is set; lostAnswers makes the
// next n writes apply and then answer ErrConflict, as a retried conditional
// write does when its first attempt's answer was lost.
type switchStore struct {
	kv.Store
	mu          sync.Mutex
	down        bool
	hang        bool
	hangNext    int // the next hangNext Puts block until their context ends
	hung        int // Puts that blocked so far
	unhung      int // blocked Puts that returned
	lostAnswers int
}

// hangPuts makes the next n Puts block until their context ends.
func (s *switchStore) hangPuts(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hangNext = n
}

func (s *switchStore) hungPuts() (blocked, returned int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hung, s.unhung
}

// setHang makes every call block until its context ends (a store that
// stopped answering).
func (s *switchStore) setHang(hang bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hang = hang
}

// blocked waits out a hanging call; it reports whether the call must fail.
func (s *switchStore) blocked(ctx context.Context) error {
	s.mu.Lock()
	hang := s.hang
	s.mu.Unlock()
	if hang {
		<-ctx.Done()
		return ctx.Err()
	}
	return nil
}

func (s *switchStore) setDown(down bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.down = down
}

func (s *switchStore) loseAnswers(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lostAnswers = n
}

func (s *switchStore) state() (down, lose bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.lostAnswers > 0 && !s.down {
		s.lostAnswers--
		return false, true
	}
	return s.down, false
}

func (s *switchStore) Get(ctx context.Context, pk, sk string) (kv.Item, error) {
	if err := s.blocked(ctx); err != nil {
		return kv.Item{}, err
	}
	if s.isDown() {
		return kv.Item{}, errDown
	}
	return s.Store.Get(ctx, pk, sk)
}

func (s *switchStore) isDown() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.down
}

func (s *switchStore) Put(ctx context.Context, it kv.Item, c kv.Condition) (kv.Item, error) {
	if err := s.blocked(ctx); err != nil {
		return kv.Item{}, err
	}
	s.mu.Lock()
	hang := s.hangNext > 0
	if hang {
		s.hangNext--
		s.hung++
	}
	s.mu.Unlock()
	if hang {
		<-ctx.Done()
		s.mu.Lock()
		s.unhung++
		s.mu.Unlock()
		return kv.Item{}, ctx.Err()
	}
	down, lose := s.state()
	if down {
		return kv.Item{}, errDown
	}
	stored, err := s.Store.Put(ctx, it, c)
	if lose && err == nil {
		return kv.Item{}, kv.ErrConflict
	}
	return stored, err
}
