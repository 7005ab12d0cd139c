package compose

import (
	"github.com/orbit-ci/orbit/shared/insights"
)

// Insights keeps the Insights aggregates, watching the store's status
// changes from the first call on (every process that changes statuses
// calls it: the conductor and the API), in the store's kv; the API answers
// the Insights routes from it.
func (a *Assembly) Insights() (*insights.Insights, error) {
	if a.insights != nil {
		return a.insights, nil
	}
	st, err := a.Store()
	if err != nil {
		return nil, err
	}
	files, err := a.Files()
	if err != nil {
		return nil, err
	}
	in, err := insights.New(insights.Config{KV: a.kvs, Records: st, Tests: files, Logger: a.log.With("component", "insights")})
	if err != nil {
		return nil, err
	}
	st.Observe(in)
	a.insights = in
	return in, nil
}
