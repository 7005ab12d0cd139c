package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/orbit-ci/orbit/shared/kv"
)

// The records of shared/vault (key layout in store.go): environment
// variables of projects and contexts, contexts, and SSH keys. Values and
// private keys are sealed by the secrets port before they get here; the
// store never sees them in clear.

// VarScope is the partition that holds environment variables: a project's
// or a context's.
type VarScope string

// ProjectScope is the scope of a project's environment variables.
func ProjectScope(slug string) VarScope { return VarScope("PROJECT#" + slug) }

// ContextScope is the scope of a context's environment variables.
func ContextScope(id string) VarScope { return VarScope("CONTEXT#" + id) }

// SecretVar is an environment variable whose value is sealed.
type SecretVar struct {
	Name   string `json:"name"`
	Sealed []byte `json:"sealed"`
	// Masked is how the value is shown ("xxxx" + its last four
	// characters), kept so listing never decrypts.
	Masked    string    `json:"masked"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// PutVar creates or replaces an environment variable; a replaced one keeps
// its creation time.
func (s *Store) PutVar(ctx context.Context, scope VarScope, v SecretVar) (SecretVar, error) {
	now := s.Now()
	v.UpdatedAt = now
	for range maxRetries {
		var cur SecretVar
		ver, err := s.get(ctx, string(scope), "ENVVAR#"+v.Name, &cur)
		cond := kv.Condition{IfVersion: ver}
		switch {
		case errors.Is(err, ErrNotFound):
			v.CreatedAt, cond = now, kv.Condition{IfNotExists: true}
		case err != nil:
			return SecretVar{}, err
		default:
			v.CreatedAt = cur.CreatedAt
		}
		it, err := item(string(scope), "ENVVAR#"+v.Name, v)
		if err != nil {
			return SecretVar{}, err
		}
		if _, err = s.kv.Put(ctx, it, cond); errors.Is(err, kv.ErrConflict) {
			continue
		}
		if err != nil {
			return SecretVar{}, fmt.Errorf("put variable %s: %w", v.Name, err)
		}
		return v, nil
	}
	return SecretVar{}, fmt.Errorf("put variable %s: too much contention", v.Name)
}

// GetVar returns one environment variable.
func (s *Store) GetVar(ctx context.Context, scope VarScope, name string) (SecretVar, error) {
	var v SecretVar
	if _, err := s.get(ctx, string(scope), "ENVVAR#"+name, &v); err != nil {
		return SecretVar{}, fmt.Errorf("variable %s: %w", name, err)
	}
	return v, nil
}

// ListVars returns a scope's environment variables by name.
func (s *Store) ListVars(ctx context.Context, scope VarScope) ([]SecretVar, error) {
	return queryAll[SecretVar](ctx, s, kv.Query{PK: string(scope), Prefix: "ENVVAR#"})
}

// DeleteVar deletes an environment variable, or returns ErrNotFound.
func (s *Store) DeleteVar(ctx context.Context, scope VarScope, name string) error {
	return s.deleteExisting(ctx, string(scope), "ENVVAR#"+name)
}

// deleteExisting deletes an item that exists, or returns ErrNotFound.
func (s *Store) deleteExisting(ctx context.Context, pk, sk string) error {
	it, err := s.kv.Get(ctx, pk, sk)
	if errors.Is(err, kv.ErrNotFound) {
		return fmt.Errorf("%s/%s: %w", pk, sk, ErrNotFound)
	}
	if err != nil {
		return err
	}
	err = s.kv.Delete(ctx, pk, sk, kv.Condition{IfVersion: it.Version})
	if errors.Is(err, kv.ErrConflict) {
		return s.deleteExisting(ctx, pk, sk) // replaced meanwhile: delete the new one
	}
	return err
}

// Context is a named set of environment variables shared by an owner's
// (an organization's) projects.
type Context struct {
	ID string `json:"id"`
	// Owner is the organization slug, e.g. "local/acme" or "gh/acme".
	Owner     string    `json:"owner"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
	// Restrictions limit which projects' jobs may use the context (none:
	// every project of the owner).
	Restrictions []Restriction `json:"restrictions,omitempty"`
}

// Restriction lets one project use a context.
type Restriction struct {
	ID          string `json:"id"`
	ProjectSlug string `json:"project_slug"`
}

// CreateContext stores a new context, or returns ErrExists when its owner
// already has a context of that name.
func (s *Store) CreateContext(ctx context.Context, c Context) (Context, error) {
	if c.CreatedAt.IsZero() {
		c.CreatedAt = s.Now()
	}
	meta, err := item("CONTEXT#"+c.ID, "META", c)
	if err != nil {
		return Context{}, err
	}
	contextIndex(&c, &meta)
	name, err := item("OWNER#"+c.Owner, "CONTEXTNAME#"+c.Name, contextRef{ID: c.ID})
	if err != nil {
		return Context{}, err
	}
	err = s.kv.Transact(ctx, []kv.Op{
		{Kind: kv.OpPut, Item: name, Cond: kv.Condition{IfNotExists: true}},
		{Kind: kv.OpPut, Item: meta, Cond: kv.Condition{IfNotExists: true}},
	})
	if errors.Is(err, kv.ErrConflict) {
		return Context{}, fmt.Errorf("context %s of %s: %w", c.Name, c.Owner, ErrExists)
	}
	if err != nil {
		return Context{}, fmt.Errorf("create context %s: %w", c.Name, err)
	}
	return c, nil
}

// contextRef is the name pointer's record.
type contextRef struct {
	ID string `json:"id"`
}

func contextIndex(c *Context, it *kv.Item) { it.GSI1PK, it.GSI1SK = "CONTEXTS#"+c.Owner, c.Name }

// UpdateContext changes a context under a conditional write (fn may refuse
// with an error, which is returned).
func (s *Store) UpdateContext(ctx context.Context, id string, fn func(*Context) error) (Context, error) {
	c, err := update(ctx, s, "CONTEXT#"+id, "META", contextIndex, fn)
	if errors.Is(err, ErrNotFound) {
		return c, fmt.Errorf("context %s: %w", id, err)
	}
	return c, err
}

// GetContext returns the context with the id.
func (s *Store) GetContext(ctx context.Context, id string) (Context, error) {
	var c Context
	if _, err := s.get(ctx, "CONTEXT#"+id, "META", &c); err != nil {
		return Context{}, fmt.Errorf("context %s: %w", id, err)
	}
	return c, nil
}

// ContextByName returns the owner's context with the name.
func (s *Store) ContextByName(ctx context.Context, owner, name string) (Context, error) {
	var ref contextRef
	if _, err := s.get(ctx, "OWNER#"+owner, "CONTEXTNAME#"+name, &ref); err != nil {
		return Context{}, fmt.Errorf("context %s of %s: %w", name, owner, err)
	}
	return s.GetContext(ctx, ref.ID)
}

// ListContexts returns the owner's contexts by name.
func (s *Store) ListContexts(ctx context.Context, owner string) ([]Context, error) {
	return queryAll[Context](ctx, s, kv.Query{Index: kv.GSI1, PK: "CONTEXTS#" + owner})
}

// DeleteContext deletes a context and its variables.
func (s *Store) DeleteContext(ctx context.Context, id string) error {
	c, err := s.GetContext(ctx, id)
	if err != nil {
		return err
	}
	vars, err := s.ListVars(ctx, ContextScope(id))
	if err != nil {
		return err
	}
	// The name goes first: once it is free the context cannot be used
	// by jobs, and a crash midway leaves only unreachable variables.
	if err := s.kv.Transact(ctx, []kv.Op{
		{Kind: kv.OpDelete, Item: kv.Item{PK: "OWNER#" + c.Owner, SK: "CONTEXTNAME#" + c.Name}},
		{Kind: kv.OpDelete, Item: kv.Item{PK: "CONTEXT#" + id, SK: "META"}},
	}); err != nil {
		return fmt.Errorf("delete context %s: %w", id, err)
	}
	for _, v := range vars {
		if err := s.kv.Delete(ctx, "CONTEXT#"+id, "ENVVAR#"+v.Name, kv.Condition{}); err != nil {
			return fmt.Errorf("delete context %s variable %s: %w", id, v.Name, err)
		}
	}
	return nil
}

// SSH key kinds.
const (
	// SSHKeyCheckout is a project's checkout key (checkout uses it).
	SSHKeyCheckout = "checkout"
	// SSHKeyAdditional is an additional key (add_ssh_keys installs it).
	SSHKeyAdditional = "additional"
)

// SSHKey is a project's SSH key; the private key is sealed.
type SSHKey struct {
	// Kind is SSHKeyCheckout or SSHKeyAdditional.
	Kind string `json:"kind"`
	// Type is a checkout key's type ("deploy-key" or "user-key").
	Type string `json:"type,omitempty"`
	// Fingerprint is the key's SHA256 fingerprint ("SHA256:…").
	Fingerprint string `json:"fingerprint"`
	// MD5 is the key's MD5 fingerprint ("aa:bb:…").
	MD5 string `json:"md5"`
	// PublicKey is the authorized_keys line.
	PublicKey string `json:"public_key"`
	// Hostname limits an additional key to one host ("" for all).
	Hostname  string    `json:"hostname,omitempty"`
	Preferred bool      `json:"preferred,omitempty"`
	SealedKey []byte    `json:"sealed_key"`
	CreatedAt time.Time `json:"created_at"`
}

func sshKeySK(kind, fp string) string { return "SSHKEY#" + kind + "#" + fp }

// CreateSSHKey stores a project's key, or returns ErrExists.
func (s *Store) CreateSSHKey(ctx context.Context, slug string, k SSHKey) (SSHKey, error) {
	if k.CreatedAt.IsZero() {
		k.CreatedAt = s.Now()
	}
	it, err := item("PROJECT#"+slug, sshKeySK(k.Kind, k.Fingerprint), k)
	if err != nil {
		return SSHKey{}, err
	}
	if err := s.create(ctx, it); err != nil {
		return SSHKey{}, fmt.Errorf("%s key %s: %w", k.Kind, k.Fingerprint, err)
	}
	return k, nil
}

// ListSSHKeys returns a project's keys of one kind, oldest first.
func (s *Store) ListSSHKeys(ctx context.Context, slug, kind string) ([]SSHKey, error) {
	keys, err := queryAll[SSHKey](ctx, s, kv.Query{PK: "PROJECT#" + slug, Prefix: sshKeySK(kind, "")})
	if err != nil {
		return nil, err
	}
	slices.SortStableFunc(keys, func(a, b SSHKey) int { return a.CreatedAt.Compare(b.CreatedAt) })
	return keys, nil
}

// DeleteSSHKey deletes a project's key, or returns ErrNotFound.
func (s *Store) DeleteSSHKey(ctx context.Context, slug, kind, fp string) error {
	return s.deleteExisting(ctx, "PROJECT#"+slug, sshKeySK(kind, fp))
}
