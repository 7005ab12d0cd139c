package compose

import (
	"github.com/orbit-ci/orbit/shared/api"
	"github.com/orbit-ci/orbit/shared/outhook"
	"github.com/orbit-ci/orbit/shared/secrets"
	"github.com/orbit-ci/orbit/shared/usage"
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
	return api.Integrations{Webhooks: hooks, UsageExports: exports}, nil
}
