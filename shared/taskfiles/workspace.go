package taskfiles

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/orbit-ci/orbit/shared/blob"
	"github.com/orbit-ci/orbit/shared/runner"
)

// layerManifest is a persisted workspace layer.
type layerManifest struct {
	JobName   string    `json:"job_name"`
	Attempt   int       `json:"attempt"`
	TaskID    string    `json:"task_id"`
	Object    string    `json:"object"`
	Size      int64     `json:"size"`
	SHA256    string    `json:"sha256"`
	Files     int       `json:"files"`
	CreatedAt time.Time `json:"created_at"`
}

func workspacePrefix(workflowID string) string { return "workflows/" + workflowID + "/workspace/" }

// PersistWorkspace implements runner.Files.
func (s *Service) PersistWorkspace(ctx context.Context, taskID string, r runner.WorkspacePersist) (runner.Upload, error) {
	tc, err := s.cfg.Tasks.TaskContext(ctx, taskID)
	if err != nil {
		return runner.Upload{}, err
	}
	return s.uploadFor(ctx, workspacePrefix(tc.WorkflowID)+objectName(taskID, r.Step)+".tar.gz", archiveType)
}

// CommitWorkspace implements runner.Files: the layer becomes visible to the
// jobs that require this one.
func (s *Service) CommitWorkspace(ctx context.Context, taskID string, r runner.WorkspaceCommit) error {
	tc, err := s.cfg.Tasks.TaskContext(ctx, taskID)
	if err != nil {
		return err
	}
	if err := checkSHA(r.SHA256); err != nil {
		return err
	}
	base := workspacePrefix(tc.WorkflowID) + objectName(taskID, r.Step)
	info, err := s.cfg.Blobs.Head(ctx, base+".tar.gz")
	if errors.Is(err, blob.ErrNotFound) {
		return badRequest("the workspace layer was not uploaded")
	} else if err != nil {
		return fmt.Errorf("check workspace layer: %w", err)
	}
	if info.Size != r.Size {
		return badRequest("the uploaded workspace layer has %d bytes, not %d", info.Size, r.Size)
	}
	return s.putJSON(ctx, base+".json", layerManifest{
		JobName: tc.JobName, Attempt: tc.Attempt, TaskID: taskID, Object: base + ".tar.gz",
		Size: r.Size, SHA256: r.SHA256, Files: r.Files, CreatedAt: s.cfg.Now().UTC(),
	})
}

// AttachWorkspace implements runner.Files: the layers of the upstream jobs'
// runs that count (tc.Upstream), in the order they were persisted. A job a
// rerun kept persisted in the workflow that ran it, so the layers come from
// every workflow the upstream runs name, ordered together.
func (s *Service) AttachWorkspace(ctx context.Context, taskID string) (runner.WorkspaceLayers, error) {
	out := runner.WorkspaceLayers{Layers: []runner.WorkspaceLayer{}}
	tc, err := s.cfg.Tasks.TaskContext(ctx, taskID)
	if err != nil {
		return out, err
	}
	// want[workflow][job] is the attempt of the job whose layers count.
	want := map[string]map[string]int{}
	for job, att := range tc.Upstream {
		wid := tc.WorkflowID
		if w := tc.UpstreamWorkflows[job]; w != "" {
			wid = w
		}
		if want[wid] == nil {
			want[wid] = map[string]int{}
		}
		want[wid][job] = att
	}
	var layers []layerManifest
	for _, wid := range slices.Sorted(maps.Keys(want)) {
		objs, err := s.list(ctx, workspacePrefix(wid))
		if err != nil {
			return out, err
		}
		for _, o := range objs {
			if !strings.HasSuffix(o.Key, ".json") {
				continue
			}
			var m layerManifest
			if err := s.getJSON(ctx, o.Key, &m); err != nil {
				return out, err
			}
			if att, ok := want[wid][m.JobName]; ok && att == m.Attempt {
				layers = append(layers, m)
			}
		}
	}
	sort.SliceStable(layers, func(i, j int) bool { return layers[i].CreatedAt.Before(layers[j].CreatedAt) })
	for _, m := range layers {
		u, err := s.presign(ctx, m.Object)
		if err != nil {
			return out, err
		}
		out.Layers = append(out.Layers, runner.WorkspaceLayer{JobName: m.JobName, URL: u, Size: m.Size, SHA256: m.SHA256})
	}
	return out, nil
}
