package compose

import (
	"context"

	"github.com/orbit-ci/orbit/shared/api"
	"github.com/orbit-ci/orbit/shared/conductor"
	"github.com/orbit-ci/orbit/shared/oidc"
	"github.com/orbit-ci/orbit/shared/outhook"
	"github.com/orbit-ci/orbit/shared/pipedef"
	"github.com/orbit-ci/orbit/shared/runner"
	"github.com/orbit-ci/orbit/shared/secrets"
	"github.com/orbit-ci/orbit/shared/usage"
	"github.com/orbit-ci/orbit/shared/vault"
)

// Webhooks keeps the projects' outbound webhooks and delivers their
// events, watching the store's status changes from the first call on:
// every process that writes statuses (the conductor, the API) queues
// deliveries in the kv outbox; `orbit up` (RunOutboxes) and the cron
// function send them. Signing secrets are sealed under the vault's master
// keys.
func (a *Assembly) Webhooks() (*outhook.Service, error) {
	if a.webhooks != nil {
		return a.webhooks, nil
	}
	st, err := a.Store()
	if err != nil {
		return nil, err
	}
	if _, err := a.Vault(); err != nil { // sets a.keysSvc
		return nil, err
	}
	svc, err := outhook.New(outhook.Config{KV: a.kvs, Records: st, Sealer: secrets.NewSealer(a.keysSvc),
		BaseURL: a.cfg.BaseURL, Logger: a.log.With("component", "outhook")})
	if err != nil {
		return nil, err
	}
	st.Observe(svc)
	a.webhooks = svc
	return svc, nil
}

// integrations are the API's services of the newer v2 operations.
func (a *Assembly) integrations() (api.Integrations, error) {
	hooks, err := a.Webhooks()
	if err != nil {
		return api.Integrations{}, err
	}
	st, err := a.Store()
	if err != nil {
		return api.Integrations{}, err
	}
	blobs, err := a.Blobs()
	if err != nil {
		return api.Integrations{}, err
	}
	exports, err := usage.NewExports(usage.ExportsConfig{KV: a.kvs, Records: st, Blobs: blobs,
		Logger: a.log.With("component", "usage-export")})
	if err != nil {
		return api.Integrations{}, err
	}
	issuer, err := a.OIDC()
	if err != nil {
		return api.Integrations{}, err
	}
	cond, err := a.Conductor()
	if err != nil {
		return api.Integrations{}, err
	}
	defs, err := pipedef.New(pipedef.Config{KV: a.kvs, Sealer: secrets.NewSealer(a.keysSvc), Trigger: cond, BaseURL: a.cfg.BaseURL})
	if err != nil {
		return api.Integrations{}, err
	}
	return api.Integrations{Webhooks: hooks, UsageExports: exports, OIDC: issuer, Definitions: defs}, nil
}

// OIDC is the issuer of jobs' OIDC tokens (Orbit's URL is the issuer, its
// RS256 key sealed under the vault's master keys); nil, with no error, when
// the base URL is not set, as tokens then have no issuer to name.
func (a *Assembly) OIDC() (*oidc.Issuer, error) {
	if a.oidc != nil || a.cfg.BaseURL == "" {
		return a.oidc, nil
	}
	st, err := a.Store()
	if err != nil {
		return nil, err
	}
	if _, err := a.Vault(); err != nil { // sets a.keysSvc
		return nil, err
	}
	acc, err := a.Accounts()
	if err != nil {
		return nil, err
	}
	users := func(ctx context.Context, login string) (string, error) {
		u, err := acc.ByLogin(ctx, login)
		if err != nil {
			return "", err
		}
		return u.ID, nil
	}
	a.oidc, err = oidc.New(oidc.Config{KV: a.kvs, Sealer: secrets.NewSealer(a.keysSvc), Records: st, Issuer: a.cfg.BaseURL,
		Users: users, Logger: a.log.With("component", "oidc")})
	return a.oidc, err
}

// taskSecrets are the vault's secrets of a task, then its OIDC tokens.
type taskSecrets struct {
	*vault.Vault
	oidc *oidc.Issuer
}

func (t taskSecrets) AddTaskSecrets(ctx context.Context, spec *runner.TaskSpec, contexts []string) (string, error) {
	denied, err := t.Vault.AddTaskSecrets(ctx, spec, contexts)
	if err != nil || denied != "" || t.oidc == nil {
		return denied, err
	}
	return "", t.oidc.AddTaskSecrets(ctx, spec, contexts)
}

// secretsOfTasks is what the conductor gives tasks.
func (a *Assembly) secretsOfTasks(v *vault.Vault) (conductor.Secrets, error) {
	issuer, err := a.OIDC()
	if err != nil {
		return nil, err
	}
	return taskSecrets{Vault: v, oidc: issuer}, nil
}
