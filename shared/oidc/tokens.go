package oidc

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/orbit-ci/orbit/shared/ids"
	"github.com/orbit-ci/orbit/shared/runner"
)

// Environment variables the tokens are given in.
const (
	EnvToken   = "CIRCLE_OIDC_TOKEN"
	EnvTokenV2 = "CIRCLE_OIDC_TOKEN_V2"
)

// Job is what a token says about a job.
type Job struct {
	ProjectSlug string
	// UserID is the triggering user's id.
	UserID                        string
	PipelineID, WorkflowID, JobID string
	// ContextIDs are the ids of the contexts the job uses.
	ContextIDs []string
	// Branch or Tag is the pipeline's ref.
	Branch, Tag string
}

// Tokens signs a job's CIRCLE_OIDC_TOKEN and CIRCLE_OIDC_TOKEN_V2.
func (i *Issuer) Tokens(ctx context.Context, j Job) (v1, v2 string, err error) {
	k, err := i.signer(ctx)
	if err != nil {
		return "", "", err
	}
	owner := ids.Owner(j.ProjectSlug)
	orgID, projectID := ids.Org(owner), ids.Project(j.ProjectSlug)
	aud, ttl, err := i.effective(ctx, orgID, projectID)
	if err != nil {
		return "", "", err
	}
	origin, ref := vcsOrigin(j.ProjectSlug), vcsRef(j.Branch, j.Tag)
	now := i.now()
	contexts := j.ContextIDs
	if contexts == nil {
		contexts = []string{}
	}
	sub := "org/" + orgID + "/project/" + projectID + "/user/" + j.UserID
	claims := map[string]any{
		"iss": i.cfg.Issuer, "sub": sub, "aud": aud,
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(ttl).Unix(),
		ClaimPrefix + "org-id": orgID, ClaimPrefix + "project-id": projectID,
		ClaimPrefix + "context-ids": contexts, ClaimPrefix + "vcs-origin": origin, ClaimPrefix + "vcs-ref": ref,
		ClaimPrefix + "pipeline-id": j.PipelineID, ClaimPrefix + "workflow-id": j.WorkflowID, ClaimPrefix + "job-id": j.JobID,
	}
	if v1, err = k.sign(claims); err != nil {
		return "", "", err
	}
	claims["sub"] = sub + "/vcs-origin/" + origin + "/vcs-ref/" + ref
	if v2, err = k.sign(claims); err != nil {
		return "", "", err
	}
	return v1, v2, nil
}

// effective is the audience and lifetime of a project's tokens: its own
// custom claims, else its organization's, else the organization id and
// DefaultTTL. One audience is a string, several an array (as JWTs write
// them).
func (i *Issuer) effective(ctx context.Context, orgID, projectID string) (aud any, ttl time.Duration, err error) {
	org, err := i.GetClaims(ctx, Scope{OrgID: orgID})
	if err != nil {
		return nil, 0, err
	}
	proj, err := i.GetClaims(ctx, Scope{OrgID: orgID, ProjectID: projectID})
	if err != nil {
		return nil, 0, err
	}
	audience := []string{orgID}
	for _, c := range []Claims{org, proj} {
		if len(c.Audience) > 0 {
			audience = c.Audience
		}
	}
	ttl = DefaultTTL
	for _, c := range []Claims{org, proj} {
		if c.TTL != "" {
			if ttl, err = ParseTTL(c.TTL); err != nil {
				return nil, 0, err
			}
		}
	}
	if len(audience) == 1 {
		return audience[0], ttl, nil
	}
	return audience, ttl, nil
}

// AddTaskSecrets adds the job's tokens to a task's environment and to the
// values masked in its output; contexts are the names of the contexts the
// job uses. It has the shape of the conductor's Secrets step, which calls
// it after the vault's.
func (i *Issuer) AddTaskSecrets(ctx context.Context, spec *runner.TaskSpec, contexts []string) error {
	p, err := i.cfg.Records.GetPipeline(ctx, spec.PipelineID)
	if err != nil {
		return err
	}
	j := Job{ProjectSlug: spec.ProjectSlug, PipelineID: spec.PipelineID, WorkflowID: spec.WorkflowID, JobID: spec.JobID,
		Branch: p.VCS.Branch, Tag: p.VCS.Tag, UserID: i.userID(ctx, p.Trigger.Actor)}
	for _, name := range contexts {
		c, err := i.cfg.Records.ContextByName(ctx, ids.Owner(spec.ProjectSlug), name)
		if err != nil {
			return fmt.Errorf("context %s: %w", name, err)
		}
		j.ContextIDs = append(j.ContextIDs, c.ID)
	}
	v1, v2, err := i.Tokens(ctx, j)
	if err != nil {
		return fmt.Errorf("sign the OIDC tokens of job %s: %w", spec.JobID, err)
	}
	spec.Environment = append(spec.Environment, runner.EnvVar{Name: EnvToken, Value: v1}, runner.EnvVar{Name: EnvTokenV2, Value: v2})
	spec.Secrets = append(spec.Secrets, v1, v2)
	return nil
}

// userID is the triggering user's id, or one derived from their login
// when it cannot be found (a schedule or webhook with no Orbit user).
func (i *Issuer) userID(ctx context.Context, login string) string {
	if i.cfg.Users != nil && login != "" {
		if id, err := i.cfg.Users(ctx, login); err == nil && id != "" {
			return id
		}
	}
	return ids.Derive("user", login)
}

// vcsOrigin is the repository as CircleCI's claims name it
// ("github.com/acme/api"); a local project keeps its slug.
func vcsOrigin(slug string) string {
	vcs, rest, _ := strings.Cut(slug, "/")
	switch vcs {
	case "gh", "github":
		return "github.com/" + rest
	case "bb", "bitbucket":
		return "bitbucket.org/" + rest
	}
	return slug
}

func vcsRef(branch, tag string) string {
	if tag != "" {
		return "refs/tags/" + tag
	}
	return "refs/heads/" + branch
}
