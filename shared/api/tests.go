package api

import (
	"errors"
	"net/http"

	"github.com/orbit-ci/orbit/shared/junit"
	"github.com/orbit-ci/orbit/shared/taskfiles"
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

// testsPage bounds a page of GET …/{number}/tests: CircleCI's document
// calls the list paginated (next_page_token ↔ page-token) without saying
// its page size; a page also stays well under the api Lambda's 6 MB
// response (messages are up to junit.MaxMessage each).
var testsPage = taskfiles.TestsPageLimits{Items: 1000, Bytes: MaxOutputResponse}

// listTests serves the test results of the job's latest attempt, a page at
// a time.
func (s *server) listTests(w http.ResponseWriter, r *http.Request) error {
	j, err := s.filesJob(r)
	if err != nil {
		return err
	}
	token := r.URL.Query().Get("page-token")
	if j.Attempt == 0 {
		if token != "" {
			return badRequest("page-token %q is not a token this list returned", token)
		}
		writeJSON(w, http.StatusOK, newList([]testJSON{}, ""))
		return nil
	}
	tests, next, err := s.cfg.Files.TestsPage(r.Context(), j.ProjectSlug, j.Number, j.Attempt, token, testsPage)
	if errors.Is(err, taskfiles.ErrPageToken) {
		return badRequest("page-token %q is not a token this list returned", token)
	} else if err != nil {
		return err
	}
	writeList(w, tests, next, testView)
	return nil
}
