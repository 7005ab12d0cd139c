package taskfiles

import (
	"context"
	"errors"
	"fmt"
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

// AttachWorkspace implements runner.Files: the layers of the current
// attempts of the upstream jobs, in the order they were persisted.
func (s *Service) AttachWorkspace(ctx context.Context, taskID string) (runner.WorkspaceLayers, error) {
	out := runner.WorkspaceLayers{Layers: []runner.WorkspaceLayer{}}
	tc, err := s.cfg.Tasks.TaskContext(ctx, taskID)
	if err != nil {
		return out, err
	}
	objs, err := s.list(ctx, workspacePrefix(tc.WorkflowID))
	if err != nil {
		return out, err
	}
	var layers []layerManifest
	for _, o := range objs {
		if !strings.HasSuffix(o.Key, ".json") {
			continue
		}
		var m layerManifest
		if err := s.getJSON(ctx, o.Key, &m); err != nil {
			return out, err
		}
		if att, ok := tc.Upstream[m.JobName]; ok && att == m.Attempt {
			layers = append(layers, m)
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
