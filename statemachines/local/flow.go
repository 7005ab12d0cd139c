package local

import (
	"context"
	"sync"
)

// parallel runs every branch on the same input (after Parameters) and
// returns their outputs in branch order; the first failure cancels the
// other branches and is the state's error.
func (sr *stateRun) parallel(ctx context.Context, eff any) (any, *statesError) {
	st := sr.st
	in := eff
	if st.Parameters != nil {
		var err *statesError
		if in, err = st.Parameters.eval(eff, sr.context); err != nil {
			return nil, err
		}
	}
	return sr.fanOut(ctx, len(st.Branches), 0, "ParallelBranch", func(i int) (*scope, any, *statesError) {
		return st.Branches[i], in, nil
	})
}

// mapItems runs the ItemProcessor once per item of ItemsPath (after
// ItemSelector, where $$.Map.Item.Index and .Value are set), at most
// MaxConcurrency at a time (0 = no limit), and returns the outputs in item
// order; the first failure cancels the other iterations.
func (sr *stateRun) mapItems(ctx context.Context, eff any) (any, *statesError) {
	st := sr.st
	items := eff
	if st.ItemsPath != nil {
		var err *statesError
		if items, err = st.ItemsPath.mustGet(eff, sr.context); err != nil {
			return nil, err
		}
	}
	arr, ok := items.([]any)
	if !ok {
		return nil, failf(ErrorRuntime, "Map state %q: the items (ItemsPath %q) must be an array, got %s",
			st.Name, pathSrc(st.ItemsPath), truncate(encodeString(items)))
	}
	limit := st.MaxConcurrency
	if st.MaxConcurrencyPath != nil {
		v, err := st.MaxConcurrencyPath.mustGet(eff, sr.context)
		if err != nil {
			return nil, err
		}
		n, ok := toInt(v)
		if !ok || n < 0 {
			return nil, failf(ErrorRuntime, "MaxConcurrencyPath must reference a non-negative integer, got %s", encodeString(v))
		}
		limit = n
	}
	base := sr.context().(map[string]any)
	return sr.fanOut(ctx, len(arr), int(limit), "MapIteration", func(i int) (*scope, any, *statesError) {
		if st.ItemSelector == nil {
			return st.Processor, arr[i], nil
		}
		c := make(map[string]any, len(base)+1)
		for k, v := range base {
			c[k] = v
		}
		c["Map"] = map[string]any{"Item": map[string]any{"Index": int64(i), "Value": arr[i]}}
		in, err := st.ItemSelector.eval(eff, func() any { return c })
		return st.Processor, in, err
	})
}

func pathSrc(p *jpath) string {
	if p == nil {
		return "$"
	}
	return p.src
}

// fanOut runs n scopes concurrently (at most limit at once when limit > 0)
// and gathers their outputs in order.
func (sr *stateRun) fanOut(ctx context.Context, n, limit int, event string,
	prepare func(i int) (*scope, any, *statesError)) (any, *statesError) {
	x := sr.x
	results := make([]any, n)
	bctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first *statesError
	)
	fail := func(err *statesError) {
		mu.Lock()
		defer mu.Unlock()
		if first == nil {
			first = err
			cancel()
		}
	}
	var sem chan struct{}
	if limit > 0 {
		sem = make(chan struct{}, limit)
	}
launch:
	for i := 0; i < n; i++ {
		if sem != nil {
			select {
			case sem <- struct{}{}:
			case <-bctx.Done():
				break launch
			}
		}
		if bctx.Err() != nil {
			break
		}
		sc, in, err := prepare(i)
		if err != nil {
			fail(err)
			break
		}
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			if sem != nil {
				defer func() { <-sem }()
			}
			x.addEvent(HistoryEvent{Type: event + "Started", StateName: sr.st.Name, Index: i})
			out, err := x.runScope(bctx, sc, in, &frame{}, nil)
			if err != nil {
				if err != errCancelled {
					x.addEvent(HistoryEvent{Type: event + "Failed", StateName: sr.st.Name, Index: i, Error: err.name, Cause: err.cause})
					fail(err)
				}
				return
			}
			x.addEvent(HistoryEvent{Type: event + "Succeeded", StateName: sr.st.Name, Index: i})
			results[i] = out
		}(i)
	}
	wg.Wait()
	if ctx.Err() != nil {
		return nil, errCancelled
	}
	if first != nil {
		return nil, first
	}
	return results, nil
}
