package github

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/orbit-ci/orbit/shared/kv"
	"github.com/orbit-ci/orbit/shared/store"
)

// KV is the part of the kv port the registry uses.
type KV interface {
	Get(ctx context.Context, pk, sk string) (kv.Item, error)
	Put(ctx context.Context, item kv.Item, cond kv.Condition) (kv.Item, error)
	Delete(ctx context.Context, pk, sk string, cond kv.Condition) error
}

// Sealer seals and opens secrets (the secrets port; *secrets.Sealer).
type Sealer interface {
	Seal(ctx context.Context, plaintext []byte, aad map[string]string) ([]byte, error)
	Open(ctx context.Context, sealed []byte, aad map[string]string) ([]byte, error)
}

// CheckoutKeys makes a project's checkout key: an Ed25519 pair whose
// private half the vault keeps sealed (*vault.Vault).
type CheckoutKeys interface {
	CreateCheckoutKey(ctx context.Context, slug, typ string) (store.SSHKey, error)
}

// Projects stores the followed project (*store.Store).
type Projects interface {
	CreateProject(ctx context.Context, p store.Project) (store.Project, error)
	GetProject(ctx context.Context, slug string) (store.Project, error)
}

// Registry keeps, per followed GitHub repository, its project slug, its
// webhook secret (sealed) and what following created on GitHub.
//
//	kv: PK "GITHUB#<owner>/<repo>" SK "FOLLOW" → followRecord
//	    PK "SETTINGS" SK "GITHUB_BASE_URL"     → the pinned base URL
type Registry struct {
	KV     KV
	Sealer Sealer
}

type followRecord struct {
	Slug         string    `json:"slug"`
	SealedSecret []byte    `json:"sealed_secret"`
	Following    Following `json:"following"`
}

func followPK(owner, repo string) string { return "GITHUB#" + owner + "/" + repo }

func secretAAD(owner, repo string) map[string]string {
	return map[string]string{"orbit:scope": "github/" + owner + "/" + repo, "orbit:name": "webhook-secret"}
}

// WebhookSecret returns the project slug and webhook secret of a followed
// repository, or store.ErrNotFound.
func (r *Registry) WebhookSecret(ctx context.Context, owner, repo string) (slug string, secret []byte, err error) {
	rec, err := r.get(ctx, owner, repo)
	if err != nil {
		return "", nil, err
	}
	secret, err = r.Sealer.Open(ctx, rec.SealedSecret, secretAAD(owner, repo))
	if err != nil {
		return "", nil, fmt.Errorf("open webhook secret of %s/%s: %w", owner, repo, err)
	}
	return rec.Slug, secret, nil
}

func (r *Registry) get(ctx context.Context, owner, repo string) (followRecord, error) {
	it, err := r.KV.Get(ctx, followPK(owner, repo), "FOLLOW")
	if errors.Is(err, kv.ErrNotFound) {
		return followRecord{}, fmt.Errorf("github repository %s/%s is not followed: %w", owner, repo, store.ErrNotFound)
	}
	if err != nil {
		return followRecord{}, err
	}
	var rec followRecord
	if err := json.Unmarshal(it.Data, &rec); err != nil {
		return followRecord{}, fmt.Errorf("follow record of %s/%s: %w", owner, repo, err)
	}
	return rec, nil
}

// FollowRequest says what to follow.
type FollowRequest struct {
	// Token is the following user's GitHub token (admin on the repository).
	Token string
	Owner string
	Repo  string
	// WebhookURL is where GitHub delivers (…/webhooks/github).
	WebhookURL string
}

// Follow follows owner/repo: a project "gh/<owner>/<repo>" whose
// repository URL is the HTTPS clone URL, a checkout key made by the vault
// and added to GitHub as a read-only deploy key, and a webhook signed with
// a fresh random secret kept sealed. A repository already followed is
// store.ErrExists.
func (r *Registry) Follow(ctx context.Context, d *Driver, keys CheckoutKeys, projects Projects, req FollowRequest) (store.Project, error) {
	slug := "gh/" + req.Owner + "/" + req.Repo
	if _, err := r.get(ctx, req.Owner, req.Repo); err == nil {
		return store.Project{}, fmt.Errorf("%s: %w", slug, store.ErrExists)
	}
	repo, _, err := d.client(req.Token).Repositories.Get(ctx, req.Owner, req.Repo)
	if err != nil {
		return store.Project{}, fmt.Errorf("github repository %s/%s: %w", req.Owner, req.Repo, err)
	}
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return store.Project{}, err
	}
	hexSecret := []byte(hex.EncodeToString(secret))
	sealed, err := r.Sealer.Seal(ctx, hexSecret, secretAAD(req.Owner, req.Repo))
	if err != nil {
		return store.Project{}, fmt.Errorf("seal webhook secret: %w", err)
	}
	key, err := keys.CreateCheckoutKey(ctx, slug, "deploy-key")
	if err != nil {
		return store.Project{}, fmt.Errorf("checkout key for %s: %w", slug, err)
	}
	f, err := d.Follow(ctx, req.Token, req.Owner, req.Repo, req.WebhookURL, string(hexSecret), key.PublicKey, "Orbit "+slug)
	if err != nil {
		return store.Project{}, err
	}
	data, _ := json.Marshal(followRecord{Slug: slug, SealedSecret: sealed, Following: f})
	if _, err := r.KV.Put(ctx, kv.Item{PK: followPK(req.Owner, req.Repo), SK: "FOLLOW", Data: data}, kv.Condition{IfNotExists: true}); err != nil {
		return store.Project{}, errors.Join(fmt.Errorf("record follow of %s: %w", slug, err), d.Unfollow(ctx, req.Token, req.Owner, req.Repo, f))
	}
	p, err := projects.CreateProject(ctx, store.Project{Slug: slug, Name: req.Repo, VCS: "github",
		RepoURL: repo.GetCloneURL(), DefaultBranch: repo.GetDefaultBranch()})
	if errors.Is(err, store.ErrExists) {
		return projects.GetProject(ctx, slug)
	}
	return p, err
}

// Unfollow removes the webhook and deploy key from GitHub and forgets the
// repository's secret, so later deliveries are refused.
func (r *Registry) Unfollow(ctx context.Context, d *Driver, token, owner, repo string) error {
	rec, err := r.get(ctx, owner, repo)
	if err != nil {
		return err
	}
	if err := d.Unfollow(ctx, token, owner, repo, rec.Following); err != nil {
		return err
	}
	return r.KV.Delete(ctx, followPK(owner, repo), "FOLLOW", kv.Condition{})
}

// ErrBaseURLChanged: the GitHub base URL differs from the one Orbit was
// set up with.
var ErrBaseURLChanged = errors.New("the GitHub base URL cannot change after set-up")

// PinBaseURL records baseURL at first start and refuses a different one
// later: GitHub Enterprise's URL cannot change after set-up (the seed),
// since projects, users and webhooks are bound to it. setting names the
// configuration setting for the message.
func (r *Registry) PinBaseURL(ctx context.Context, baseURL, setting string, now time.Time) error {
	data, _ := json.Marshal(map[string]any{"base_url": baseURL, "pinned_at": now.UTC()})
	_, err := r.KV.Put(ctx, kv.Item{PK: "SETTINGS", SK: "GITHUB_BASE_URL", Data: data}, kv.Condition{IfNotExists: true})
	if !errors.Is(err, kv.ErrConflict) {
		return err
	}
	it, err := r.KV.Get(ctx, "SETTINGS", "GITHUB_BASE_URL")
	if err != nil {
		return err
	}
	var pinned struct {
		BaseURL string `json:"base_url"`
	}
	if err := json.Unmarshal(it.Data, &pinned); err != nil {
		return fmt.Errorf("pinned GitHub base URL: %w", err)
	}
	if pinned.BaseURL != baseURL {
		return fmt.Errorf("%w: %s is %q but this installation was set up with %q; set %s back to %q",
			ErrBaseURLChanged, setting, baseURL, pinned.BaseURL, setting, pinned.BaseURL)
	}
	return nil
}
