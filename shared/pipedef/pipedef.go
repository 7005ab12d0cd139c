// Package pipedef keeps CircleCI's pipeline definitions and triggers on
// Orbit's projects. A project builds from its own repository; a pipeline
// definition names which config file of it a pipeline builds from, and a
// trigger says what starts pipelines of a definition:
//
//	every project    the default definition (.circleci/config.yml), made
//	                 at first use, edited or deleted like any other
//	github_oauth /   the repository's pushes: the GitHub webhook and the
//	github_app       local-git triggers run the project's default config
//	                 file, so such a trigger is a record of that
//	webhook          a custom inbound webhook: POST to its URL (with its
//	                 secret) starts a pipeline of the definition on the
//	                 trigger's checkout_ref (Invoke)
//
// Key layout (the kv port's single table):
//
//	PIPEDEF#<slug>   DEF#<id>       definition
//	PIPEDEF#<slug>   TRIGGER#<id>   trigger (its webhook secret sealed)
//	PIPEDEF#<slug>   INIT           the default definition was made
//	PIPEDEFTRIGGER#<id>  META       trigger id → project (for Invoke)
package pipedef

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/orbit-ci/orbit/shared/conductor"
	"github.com/orbit-ci/orbit/shared/ids"
	"github.com/orbit-ci/orbit/shared/kv"
	"github.com/orbit-ci/orbit/shared/store"
)

// DefaultConfigPath is the config file of a project's default definition.
const DefaultConfigPath = ".circleci/config.yml"

// Errors callers map to statuses.
var (
	// ErrInvalid: a field is not acceptable (400).
	ErrInvalid = errors.New("invalid pipeline definition or trigger")
	// ErrForbidden: a trigger's secret is wrong (401/403 at the webhook).
	ErrForbidden = errors.New("wrong trigger secret")
)

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

// Definition is a pipeline definition of a project.
type Definition struct {
	ID          string    `json:"id"`
	ProjectSlug string    `json:"project_slug"`
	Name        string    `json:"name"`
	Description string    `json:"description,omitempty"`
	ConfigPath  string    `json:"config_path"`
	CreatedAt   time.Time `json:"created_at"`
}

// Triggerer starts pipelines (*conductor.Conductor).
type Triggerer interface {
	Trigger(ctx context.Context, req conductor.TriggerRequest) (store.Pipeline, error)
}

// Sealer seals the custom webhooks' secrets (the secrets port).
type Sealer interface {
	Seal(ctx context.Context, plaintext []byte, aad map[string]string) ([]byte, error)
	Open(ctx context.Context, sealed []byte, aad map[string]string) ([]byte, error)
}

// Config configures a Service.
type Config struct {
	// KV keeps the records. Required.
	KV kv.Store
	// Sealer seals webhook secrets. Required.
	Sealer Sealer
	// Trigger starts the pipelines of webhook triggers. Required.
	Trigger Triggerer
	// BaseURL is Orbit's URL, for the custom webhooks' URLs.
	BaseURL string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Service keeps definitions and triggers. Safe for concurrent use.
type Service struct{ cfg Config }

// New returns a Service.
func New(cfg Config) (*Service, error) {
	if cfg.KV == nil || cfg.Sealer == nil || cfg.Trigger == nil {
		return nil, errors.New("pipedef: Config.KV, Sealer and Trigger are required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Service{cfg: cfg}, nil
}

func pk(slug string) string { return "PIPEDEF#" + slug }

// DefaultID is the id of a project's default definition.
func DefaultID(slug string) string { return ids.Derive("pipeline-definition", slug) }

// ensureDefault makes the project's default definition once.
func (s *Service) ensureDefault(ctx context.Context, slug string) error {
	if _, err := s.cfg.KV.Get(ctx, pk(slug), "INIT"); err == nil {
		return nil
	} else if !errors.Is(err, kv.ErrNotFound) {
		return err
	}
	d := Definition{ID: DefaultID(slug), ProjectSlug: slug, Name: "default", Description: "The project's " + DefaultConfigPath,
		ConfigPath: DefaultConfigPath, CreatedAt: s.cfg.Now().UTC()}
	it, err := record(pk(slug), "DEF#"+d.ID, d)
	if err != nil {
		return err
	}
	err = s.cfg.KV.Transact(ctx, []kv.Op{
		{Kind: kv.OpPut, Item: kv.Item{PK: pk(slug), SK: "INIT", Data: []byte("{}")}, Cond: kv.Condition{IfNotExists: true}},
		{Kind: kv.OpPut, Item: it, Cond: kv.Condition{IfNotExists: true}},
	})
	if errors.Is(err, kv.ErrConflict) {
		return nil // made meanwhile
	}
	return err
}

func record(pk, sk string, v any) (kv.Item, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return kv.Item{}, err
	}
	return kv.Item{PK: pk, SK: sk, Data: b}, nil
}

func get[T any](ctx context.Context, db kv.Store, pk, sk, what string) (T, int64, error) {
	var v T
	it, err := db.Get(ctx, pk, sk)
	if errors.Is(err, kv.ErrNotFound) {
		return v, 0, fmt.Errorf("%s: %w", what, store.ErrNotFound)
	}
	if err != nil {
		return v, 0, err
	}
	if err := json.Unmarshal(it.Data, &v); err != nil {
		return v, 0, fmt.Errorf("decode %s: %w", what, err)
	}
	return v, it.Version, nil
}

func list[T any](ctx context.Context, db kv.Store, pk, prefix string) ([]T, error) {
	return kv.All[T](ctx, db, kv.Query{PK: pk, Prefix: prefix})
}

// ListDefinitions returns a project's definitions.
func (s *Service) ListDefinitions(ctx context.Context, slug string) ([]Definition, error) {
	if err := s.ensureDefault(ctx, slug); err != nil {
		return nil, err
	}
	return list[Definition](ctx, s.cfg.KV, pk(slug), "DEF#")
}

// GetDefinition returns a definition of the project.
func (s *Service) GetDefinition(ctx context.Context, slug, id string) (Definition, error) {
	if err := s.ensureDefault(ctx, slug); err != nil {
		return Definition{}, err
	}
	d, _, err := get[Definition](ctx, s.cfg.KV, pk(slug), "DEF#"+id, "pipeline definition "+id)
	return d, err
}

// DefinitionSpec is what a caller sets; nil fields are kept on update.
type DefinitionSpec struct {
	Name, Description, ConfigPath *string
}

func (sp DefinitionSpec) apply(d *Definition) error {
	if sp.Name != nil {
		if *sp.Name == "" {
			return invalid("name must not be empty")
		}
		d.Name = *sp.Name
	}
	if sp.Description != nil {
		d.Description = *sp.Description
	}
	if sp.ConfigPath != nil {
		if *sp.ConfigPath == "" {
			return invalid("config_source.file_path must name the config file, e.g. %s", DefaultConfigPath)
		}
		d.ConfigPath = *sp.ConfigPath
	}
	return nil
}

// CreateDefinition stores a new definition; name and config path are
// required.
func (s *Service) CreateDefinition(ctx context.Context, slug string, sp DefinitionSpec) (Definition, error) {
	if sp.Name == nil || sp.ConfigPath == nil {
		return Definition{}, invalid("name and config_source.file_path are required")
	}
	if err := s.ensureDefault(ctx, slug); err != nil {
		return Definition{}, err
	}
	d := Definition{ID: newID(), ProjectSlug: slug, CreatedAt: s.cfg.Now().UTC()}
	if err := sp.apply(&d); err != nil {
		return Definition{}, err
	}
	it, err := record(pk(slug), "DEF#"+d.ID, d)
	if err != nil {
		return Definition{}, err
	}
	_, err = s.cfg.KV.Put(ctx, it, kv.Condition{IfNotExists: true})
	return d, err
}

// UpdateDefinition changes the fields sp sets.
func (s *Service) UpdateDefinition(ctx context.Context, slug, id string, sp DefinitionSpec) (Definition, error) {
	for range 20 {
		d, ver, err := get[Definition](ctx, s.cfg.KV, pk(slug), "DEF#"+id, "pipeline definition "+id)
		if err != nil {
			return Definition{}, err
		}
		if err := sp.apply(&d); err != nil {
			return Definition{}, err
		}
		it, err := record(pk(slug), "DEF#"+id, d)
		if err != nil {
			return Definition{}, err
		}
		if _, err = s.cfg.KV.Put(ctx, it, kv.Condition{IfVersion: ver}); errors.Is(err, kv.ErrConflict) {
			continue
		}
		return d, err
	}
	return Definition{}, fmt.Errorf("pipeline definition %s: too much contention", id)
}

// DeleteDefinition deletes a definition and its triggers.
func (s *Service) DeleteDefinition(ctx context.Context, slug, id string) error {
	if _, err := s.GetDefinition(ctx, slug, id); err != nil {
		return err
	}
	ts, err := s.ListTriggers(ctx, slug, id)
	if err != nil {
		return err
	}
	for _, t := range ts {
		if err := s.DeleteTrigger(ctx, slug, t.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
	}
	return s.cfg.KV.Delete(ctx, pk(slug), "DEF#"+id, kv.Condition{})
}
