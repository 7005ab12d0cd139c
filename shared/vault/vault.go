// Package vault keeps the secrets projects give their builds: project
// environment variables, contexts (an organization's named sets of
// variables) and their variables, checkout keys and additional SSH keys.
// It is Orbit's contexts-service: values are sealed by the secrets port
// (envelope encryption; KMS in AWS, a key file in the embedded shape) before
// they reach the store, and opened only to build the spec of a task that
// is about to run (AddTaskSecrets), never for the API.
//
// What callers see of a value is its mask: "xxxx" and its last four
// characters, as CircleCI shows it. Every sealed value is bound to where
// it lives (scope and name) so a sealed value copied into another record
// does not open.
//
// A job gets, after CircleCI's built-in variables: the project's variables,
// then the variables of each context the workflow names for it, in the
// order named (a later one overrides an earlier one of the same name). A
// context is found by name among the contexts of the project's owner (the
// organization part of its slug); a job naming a context that does not
// exist, or whose project restrictions leave its project out, is not run
// (ContextsDenied says why).
package vault

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/orbit-ci/orbit/shared/runner"
	"github.com/orbit-ci/orbit/shared/secrets"
	"github.com/orbit-ci/orbit/shared/store"
)

// Sealer encrypts and decrypts values bound to additional data (the secrets
// port; shared/secrets provides it).
type Sealer interface {
	Seal(ctx context.Context, plaintext []byte, aad map[string]string) ([]byte, error)
	Open(ctx context.Context, sealed []byte, aad map[string]string) ([]byte, error)
}

// Errors callers map to statuses.
var (
	// ErrInvalid: a name, value or key is not acceptable (400).
	ErrInvalid = errors.New("invalid")
	// ErrDenied: a job may not use a context (its job becomes unauthorized).
	ErrDenied = errors.New("context not allowed")
)

// invalidError is an ErrInvalid whose text is only what is wrong.
type invalidError struct{ msg string }

func (e *invalidError) Error() string        { return e.msg }
func (e *invalidError) Is(target error) bool { return target == ErrInvalid }

func invalid(format string, args ...any) error {
	return &invalidError{msg: fmt.Sprintf(format, args...)}
}

// MaxValue bounds one variable's value, as CircleCI does (32 KiB).
const MaxValue = 32 << 10

// MinMasked is the shortest value that is masked in build output: shorter
// values would mask ordinary words (CircleCI masks values of 4 characters
// or more).
const MinMasked = 4

var varName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// Vault reads and writes project and context secrets.
type Vault struct {
	st   *store.Store
	seal Sealer
}

// New returns a Vault over the store, sealing with s.
func New(st *store.Store, s Sealer) *Vault { return &Vault{st: st, seal: s} }

// Var is what callers see of an environment variable: never its value.
type Var struct {
	Name string
	// Masked is "xxxx" and the value's last four characters.
	Masked    string
	CreatedAt time.Time
	UpdatedAt time.Time
}

func aad(scope store.VarScope, name string) map[string]string {
	return map[string]string{"orbit:scope": string(scope), "orbit:name": name}
}

// SetVar creates or replaces a variable of a project (store.ProjectScope)
// or a context (store.ContextScope).
func (v *Vault) SetVar(ctx context.Context, scope store.VarScope, name, value string) (Var, error) {
	if !varName.MatchString(name) {
		return Var{}, invalid("environment variable name %q: use letters, digits and underscores, not starting with a digit", name)
	}
	if len(value) > MaxValue {
		return Var{}, invalid("the value of %s is %d bytes; the limit is %d", name, len(value), MaxValue)
	}
	sealed, err := v.seal.Seal(ctx, []byte(value), aad(scope, name))
	if err != nil {
		return Var{}, fmt.Errorf("seal %s: %w", name, err)
	}
	rec, err := v.st.PutVar(ctx, scope, store.SecretVar{Name: name, Sealed: sealed, Masked: secrets.Mask(value)})
	if err != nil {
		return Var{}, err
	}
	return view(rec), nil
}

// GetVar returns a variable, masked.
func (v *Vault) GetVar(ctx context.Context, scope store.VarScope, name string) (Var, error) {
	rec, err := v.st.GetVar(ctx, scope, name)
	if err != nil {
		return Var{}, err
	}
	return view(rec), nil
}

// ListVars returns a scope's variables by name, masked.
func (v *Vault) ListVars(ctx context.Context, scope store.VarScope) ([]Var, error) {
	recs, err := v.st.ListVars(ctx, scope)
	if err != nil {
		return nil, err
	}
	out := make([]Var, 0, len(recs))
	for _, r := range recs {
		out = append(out, view(r))
	}
	return out, nil
}

// DeleteVar deletes a variable (store.ErrNotFound if there is none).
func (v *Vault) DeleteVar(ctx context.Context, scope store.VarScope, name string) error {
	return v.st.DeleteVar(ctx, scope, name)
}

// view shows a variable without opening its value: its mask was kept when
// it was set.
func view(r store.SecretVar) Var {
	return Var{Name: r.Name, Masked: r.Masked, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
}

func (v *Vault) open(ctx context.Context, scope store.VarScope, r store.SecretVar) (string, error) {
	b, err := v.seal.Open(ctx, r.Sealed, aad(scope, r.Name))
	if err != nil {
		return "", fmt.Errorf("open variable %s: %w", r.Name, err)
	}
	return string(b), nil
}

// Owner is the organization that owns a project's contexts: its slug
// without the repository ("local/acme" for "local/acme/api").
func Owner(projectSlug string) string {
	i := strings.LastIndex(projectSlug, "/")
	if i < 0 {
		return projectSlug
	}
	return projectSlug[:i]
}

var contextName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._ -]{0,127}$`)

// CreateContext creates an owner's context (store.ErrExists if the name is
// taken).
func (v *Vault) CreateContext(ctx context.Context, owner, name string) (store.Context, error) {
	if !contextName.MatchString(name) {
		return store.Context{}, invalid("context name %q: up to 128 letters, digits, spaces, dots, dashes and underscores", name)
	}
	if strings.Count(owner, "/") != 1 || strings.HasPrefix(owner, "/") || strings.HasSuffix(owner, "/") {
		return store.Context{}, invalid("owner %q: want an organization slug such as local/acme", owner)
	}
	return v.st.CreateContext(ctx, store.Context{ID: uuid.NewString(), Owner: owner, Name: name})
}

// ContextsDenied says why a job of the project may not use the named
// contexts ("" when it may): the first that does not exist for the
// project's owner is named. An error is a failure to find out.
func (v *Vault) ContextsDenied(ctx context.Context, projectSlug string, names []string) (string, error) {
	_, err := v.contexts(ctx, projectSlug, names)
	if errors.Is(err, ErrDenied) {
		return reason(err), nil
	}
	return "", err
}

// reason is a denial's text without the sentinel's.
func reason(err error) string { return strings.TrimPrefix(err.Error(), ErrDenied.Error()+": ") }

func (v *Vault) contexts(ctx context.Context, projectSlug string, names []string) ([]store.Context, error) {
	owner := Owner(projectSlug)
	out := make([]store.Context, 0, len(names))
	for _, n := range names {
		c, err := v.st.ContextByName(ctx, owner, n)
		if errors.Is(err, store.ErrNotFound) {
			return nil, fmt.Errorf("%w: there is no context named %q in %s", ErrDenied, n, owner)
		}
		if err != nil {
			return nil, err
		}
		if !allowed(c, projectSlug) {
			return nil, fmt.Errorf("%w: the context %q is restricted to other projects", ErrDenied, n)
		}
		out = append(out, c)
	}
	return out, nil
}

// allowed: a context without restrictions serves every project of its
// owner; one with project restrictions only those projects.
func allowed(c store.Context, projectSlug string) bool {
	if len(c.Restrictions) == 0 {
		return true
	}
	return slices.ContainsFunc(c.Restrictions, func(r store.Restriction) bool { return r.ProjectSlug == projectSlug })
}

// Restrict lets a project of the context's owner use it; once a context
// has a restriction, only the projects it names may.
func (v *Vault) Restrict(ctx context.Context, contextID, projectSlug string) (store.Restriction, error) {
	r := store.Restriction{ID: uuid.NewString(), ProjectSlug: projectSlug}
	_, err := v.st.UpdateContext(ctx, contextID, func(c *store.Context) error {
		if Owner(projectSlug) != c.Owner {
			return invalid("project %s is not in %s, the owner of context %s", projectSlug, c.Owner, c.Name)
		}
		for _, have := range c.Restrictions {
			if have.ProjectSlug == projectSlug {
				r = have
				return nil
			}
		}
		c.Restrictions = append(c.Restrictions, r)
		return nil
	})
	return r, err
}

// Unrestrict removes a restriction (store.ErrNotFound if the context has
// none with that id).
func (v *Vault) Unrestrict(ctx context.Context, contextID, restrictionID string) error {
	_, err := v.st.UpdateContext(ctx, contextID, func(c *store.Context) error {
		i := slices.IndexFunc(c.Restrictions, func(r store.Restriction) bool { return r.ID == restrictionID })
		if i < 0 {
			return fmt.Errorf("restriction %s: %w", restrictionID, store.ErrNotFound)
		}
		c.Restrictions = slices.Delete(c.Restrictions, i, i+1)
		return nil
	})
	return err
}

// AddTaskSecrets opens what a task of the project may use and adds it to
// its spec: the project's variables, then those of each context in order,
// to Environment (after what is there: CircleCI's built-in variables) and
// every value of MinMasked characters or more to Secrets; the preferred
// checkout key to Checkout.SSHKey; the additional keys to SSHKeys. When a
// context may not be used it adds nothing and says why (as
// ContextsDenied).
func (v *Vault) AddTaskSecrets(ctx context.Context, spec *runner.TaskSpec, contexts []string) (denied string, err error) {
	cs, err := v.contexts(ctx, spec.ProjectSlug, contexts)
	if errors.Is(err, ErrDenied) {
		return reason(err), nil
	}
	if err != nil {
		return "", err
	}
	scopes := []store.VarScope{store.ProjectScope(spec.ProjectSlug)}
	for _, c := range cs {
		scopes = append(scopes, store.ContextScope(c.ID))
	}
	for _, scope := range scopes {
		recs, err := v.st.ListVars(ctx, scope)
		if err != nil {
			return "", err
		}
		for _, r := range recs {
			val, err := v.open(ctx, scope, r)
			if err != nil {
				return "", err
			}
			spec.Environment = append(spec.Environment, runner.EnvVar{Name: r.Name, Value: val})
			addSecret(spec, val)
		}
	}
	return "", v.addKeys(ctx, spec)
}

// addSecret masks a value in the task's output (multi-line values line by
// line, since output is masked as it streams).
func addSecret(spec *runner.TaskSpec, val string) {
	for _, line := range strings.Split(val, "\n") {
		line = strings.TrimRight(line, "\r")
		if len(line) >= MinMasked && !slices.Contains(spec.Secrets, line) {
			spec.Secrets = append(spec.Secrets, line)
		}
	}
}
