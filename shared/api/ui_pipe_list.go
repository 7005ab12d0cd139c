package api

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/orbit-ci/orbit/shared/accounts"
	"github.com/orbit-ci/orbit/shared/store"
	"github.com/orbit-ci/orbit/shared/vcs"
)

// The pipeline listing of the dashboard and the project page: the
// pipelines of several projects merged newest first, filtered by branch,
// status and "mine", one page at a time. Each project is read through the
// store's own pages (newest first); the page link carries, per project,
// where its reading stopped. A filter that matches little reads at most
// pipeScanLimit pipelines per page, so a page costs the same on a project
// with ten or ten thousand pipelines; the page then offers to look further.

const (
	// pipePageSize is how many pipelines a listing page shows.
	pipePageSize = 20
	// pipeScanLimit bounds the pipelines a filtered page reads.
	pipeScanLimit = 400
	// pipeChunk is how many pipelines one store read fetches per project
	// (always the same, so a page token's skip counts within the same
	// store page).
	pipeChunk = 50
)

// pipeFilter narrows a listing (the dashboard's GET form).
type pipeFilter struct {
	Project, Branch, Status string
	// Mine keeps the pipelines the signed-in user triggered.
	Mine bool
}

func pipeFilterOf(r *http.Request) pipeFilter {
	q := r.URL.Query()
	return pipeFilter{Project: q.Get("project"), Branch: q.Get("branch"), Status: q.Get("status"), Mine: q.Get("mine") != ""}
}

func (f pipeFilter) active() bool { return f.Branch != "" || f.Status != "" || f.Mine }

// pipeList is a listing page as the "pipe-table" partial shows it.
type pipeList struct {
	Rows []pipeRow
	// ShowProject adds the project column (the dashboard).
	ShowProject bool
	// Next is the URL of the next page ("" on the last); First the first
	// page's, set on any later page.
	Next, First string
	// Scanned is set when a filtered page stopped reading before it was full.
	Scanned int
	// Active: a pipeline on the page has unfinished work.
	Active bool
}

// pipeRow is one pipeline of a listing.
type pipeRow struct {
	ID, Slug, State, Branch, Tag, Revision string
	TriggerType, Actor, Duration           string
	Number                                 int64
	CreatedAt                              time.Time
	Workflows                              []pipeCell
	// Commit is the revision's commit ("pipe-commit"); zero when unknown.
	Commit vcs.Commit
}

// subjectBytes is how much of a commit subject the pages show: git's
// customary subject width.
const subjectBytes = 72

// clipSubject is subject clipped to subjectBytes on a rune boundary, with
// an ellipsis when something was cut (the page's title attribute has it
// all).
func clipSubject(subject string) string {
	if c := vcs.Clip(subject, subjectBytes); c != subject {
		return c + "…"
	}
	return subject
}

// pipeCell is one workflow of a row.
type pipeCell struct{ ID, Name, Status string }

// pipeStream reads one project's pipelines, newest first.
type pipeStream struct {
	slug   string
	cursor string // the store page the buffer came from
	skip   int    // how many of that page were consumed (< pipeChunk)
	buf    []store.Pipeline
	next   string // the store page after the buffer's
	loaded bool
	done   bool
}

func (st *pipeStream) peek(ctx context.Context, s *server) (*store.Pipeline, error) {
	for !st.done {
		if !st.loaded {
			ps, next, err := s.st.ListPipelines(ctx, st.slug, st.cursor, pipeChunk)
			if err != nil {
				return nil, err
			}
			st.buf, st.next, st.loaded = ps[min(st.skip, len(ps)):], next, true
		}
		if len(st.buf) > 0 {
			return &st.buf[0], nil
		}
		if st.next == "" {
			st.done = true
			break
		}
		st.cursor, st.skip, st.loaded = st.next, 0, false
	}
	return nil, nil
}

func (st *pipeStream) pop() { st.buf, st.skip = st.buf[1:], st.skip+1 }

// pipeCursor is where each project's reading stopped: slug → [store page, skip].
type pipeCursor map[string][2]any

// listPipes reads one page of the pipelines of slugs matching f, from the
// page token cursor ("" for the first page). link builds a page's URL from
// its token.
func (s *server) listPipes(ctx context.Context, slugs []string, f pipeFilter, cursor string, link func(string) string) (pipeList, error) {
	var streams []*pipeStream
	if cursor == "" {
		for _, slug := range slugs {
			streams = append(streams, &pipeStream{slug: slug})
		}
	} else {
		raw, err := base64.RawURLEncoding.DecodeString(cursor)
		var c pipeCursor
		if err == nil {
			err = json.Unmarshal(raw, &c)
		}
		if err != nil {
			return pipeList{}, badRequest("page %q is not a page this list offered", cursor)
		}
		for _, slug := range slugs {
			if at, ok := c[slug]; ok {
				page, _ := at[0].(string)
				skip, _ := at[1].(float64)
				streams = append(streams, &pipeStream{slug: slug, cursor: page, skip: int(skip)})
			}
		}
	}
	var login string
	if u, ok := accounts.FromContext(ctx); ok {
		login = u.Login
	}
	list := pipeList{}
	scanned := 0
	for len(list.Rows) < pipePageSize && (!f.active() || scanned < pipeScanLimit) {
		var best *pipeStream
		var bestP *store.Pipeline
		for _, st := range streams {
			p, err := st.peek(ctx, s)
			if err != nil {
				return pipeList{}, err
			}
			if p != nil && (bestP == nil || p.CreatedAt.After(bestP.CreatedAt)) {
				best, bestP = st, p
			}
		}
		if best == nil {
			break
		}
		p := *bestP
		best.pop()
		scanned++
		if f.Branch != "" && p.VCS.Branch != f.Branch || f.Mine && p.Trigger.Actor != login {
			continue
		}
		wfs, err := s.st.ListWorkflows(ctx, p.ID)
		if err != nil {
			return pipeList{}, err
		}
		if f.Status != "" && string(p.State) != f.Status && !slices.ContainsFunc(wfs, func(w store.Workflow) bool { return string(w.Status) == f.Status }) {
			continue
		}
		row, active := s.pipeRowOf(p, wfs)
		list.Rows = append(list.Rows, row)
		list.Active = list.Active || active
	}
	c := pipeCursor{}
	for _, st := range streams {
		if _, err := st.peek(ctx, s); err != nil {
			return pipeList{}, err
		}
		if !st.done {
			c[st.slug] = [2]any{st.cursor, st.skip}
		}
	}
	if len(c) > 0 {
		raw, err := json.Marshal(c)
		if err != nil {
			return pipeList{}, err
		}
		list.Next = link(base64.RawURLEncoding.EncodeToString(raw))
		if f.active() && len(list.Rows) < pipePageSize {
			list.Scanned = scanned
		}
	}
	if cursor != "" {
		list.First = link("")
	}
	return list, nil
}

// pipeRowOf is a listing's row of pipeline p with its workflows; active
// reports unfinished work.
func (s *server) pipeRowOf(p store.Pipeline, wfs []store.Workflow) (pipeRow, bool) {
	row := pipeRow{ID: p.ID, Slug: p.ProjectSlug, Number: p.Number, State: string(p.State), Branch: p.VCS.Branch,
		Tag: p.VCS.Tag, Revision: p.VCS.Revision, TriggerType: p.Trigger.Type, Actor: p.Trigger.Actor, CreatedAt: p.CreatedAt,
		Commit: p.VCS.Commit}
	active := pipelineActive(p.State)
	var stopped *time.Time
	for _, wf := range wfs {
		row.Workflows = append(row.Workflows, pipeCell{ID: wf.ID, Name: wf.Name, Status: string(wf.Status)})
		active = active || !wf.Status.Terminal()
		if wf.StoppedAt != nil && (stopped == nil || wf.StoppedAt.After(*stopped)) {
			stopped = wf.StoppedAt
		}
	}
	if !active { // a running pipeline shows no ticking duration (see pipeWorkflowOf)
		row.Duration = formatDuration(&p.CreatedAt, stopped)
	}
	return row, active
}

// pageLink is a link builder for listPipes: base's path and query with the
// page token set.
func pageLink(base *url.URL) func(string) string {
	return func(token string) string {
		q := base.Query()
		q.Del("page")
		if token != "" {
			q.Set("page", token)
		}
		u := url.URL{Path: base.Path, RawQuery: q.Encode()}
		return u.String()
	}
}
