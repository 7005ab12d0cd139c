package orbimport

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/orbit-ci/orbit/shared/config"
	"github.com/orbit-ci/orbit/shared/store"
)

// URL orbs (`orbs: x: https://…`) are fetched when a pipeline's config is
// compiled, as on CircleCI, and only from URLs that start with a prefix on
// the project's organization's URL orb allow-list (the url-orb-allow-list
// API, shared/api/urlorbs.go). Orbit fetches without credentials (auth
// "none").

// maxURLOrbBytes bounds a URL orb's source.
const maxURLOrbBytes = 1 << 20

// urlOrbTimeout bounds one fetch.
const urlOrbTimeout = 30 * time.Second

// AllowLists reads organizations' allow-lists; *store.Store satisfies it.
type AllowLists interface {
	URLOrbAllowList(ctx context.Context, owner string) ([]store.URLOrbAllowEntry, error)
}

var _ AllowLists = (*store.Store)(nil)

// URLOrbSource gives each project's compile its URL orb fetcher.
type URLOrbSource struct {
	// Lists keeps the allow-lists. Required.
	Lists AllowLists
	// Client fetches the orbs; nil is a client with a 30 s timeout.
	Client *http.Client
}

// URLOrbs returns the fetcher for configs of the project projectSlug
// ("<vcs>/<org>/<repo>"), with its organization's allow-list.
func (s URLOrbSource) URLOrbs(ctx context.Context, projectSlug string) (config.URLOrbFetcher, error) {
	parts := strings.SplitN(projectSlug, "/", 3)
	if len(parts) < 2 {
		return nil, fmt.Errorf("project slug %q has no organization", projectSlug)
	}
	return s.ForOwner(ctx, parts[0]+"/"+parts[1])
}

// ForOwner returns the fetcher for configs of the organization owner
// ("<vcs>/<org>").
func (s URLOrbSource) ForOwner(ctx context.Context, owner string) (config.URLOrbFetcher, error) {
	list, err := s.Lists.URLOrbAllowList(ctx, owner)
	if err != nil {
		return nil, fmt.Errorf("URL orb allow-list of %s: %w", owner, err)
	}
	client := s.Client
	if client == nil {
		client = &http.Client{Timeout: urlOrbTimeout}
	}
	return URLOrbs{Ctx: ctx, Owner: owner, Allow: list, Client: client}, nil
}

// URLOrbs fetches the URL orbs an organization's allow-list allows.
type URLOrbs struct {
	Ctx    context.Context
	Owner  string
	Allow  []store.URLOrbAllowEntry
	Client *http.Client
}

var _ config.URLOrbFetcher = URLOrbs{}

// FetchOrb fetches url when an allow-list entry's prefix starts it.
func (u URLOrbs) FetchOrb(url string) ([]byte, error) {
	allowed := false
	for _, e := range u.Allow {
		if strings.HasPrefix(url, e.Prefix) {
			allowed = true
			break
		}
	}
	if !allowed {
		return nil, fmt.Errorf("not allowed: no entry of %s's URL orb allow-list has a prefix it starts with (add one with POST /api/v2/organization/%s/url-orb-allow-list)", u.Owner, u.Owner)
	}
	req, err := http.NewRequestWithContext(u.Ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := u.Client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("cannot fetch it: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("cannot fetch it: %s", resp.Status)
	}
	src, err := io.ReadAll(io.LimitReader(resp.Body, maxURLOrbBytes+1))
	if err != nil {
		return nil, fmt.Errorf("cannot fetch it: %w", err)
	}
	if len(src) > maxURLOrbBytes {
		return nil, fmt.Errorf("it is larger than %d bytes", maxURLOrbBytes)
	}
	return src, nil
}
