package api

import (
	"net/http"

	"github.com/orbit-ci/orbit/shared/junit"
)

// testJSON is CircleCI's TestMetadata.
type testJSON struct {
	Message   string  `json:"message"`
	Source    string  `json:"source"`
	RunTime   float64 `json:"run_time"`
	File      string  `json:"file"`
	Result    string  `json:"result"`
	Name      string  `json:"name"`
	Classname string  `json:"classname"`
}

func testView(t junit.Test) testJSON {
	return testJSON{Message: t.Message, Source: t.Source, RunTime: t.RunTime, File: t.File,
		Result: t.Result, Name: t.Name, Classname: t.Classname}
}

// listTests serves the test results of the job's latest attempt.
func (s *server) listTests(w http.ResponseWriter, r *http.Request) error {
	j, err := s.filesJob(r)
	if err != nil {
		return err
	}
	out := listJSON[testJSON]{Items: []testJSON{}}
	if j.Attempt > 0 {
		tests, err := s.cfg.Files.Tests(r.Context(), j.ProjectSlug, j.Number, j.Attempt)
		if err != nil {
			return err
		}
		for _, t := range tests {
			out.Items = append(out.Items, testView(t))
		}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
