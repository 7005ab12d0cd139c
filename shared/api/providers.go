package api

import (
	"github.com/orbit-ci/orbit/shared/vcs"
	"net/http"
	"strings"
)

// Provider names, as CircleCI takes them: a project slug starts with gh or
// github (GitHub), bb or bitbucket (Bitbucket), or circleci (CircleCI's own
// VCS-less organizations); Orbit's local-git projects start with local, a
// provider outside CircleCI's enums (docs/API.md). Orbit stores the short
// forms (gh/acme/api); canonicalProvider lets every route and the
// org-slug and owner-slug queries take the long ones too.
var longProviders = map[string]string{"github": "gh", "bitbucket": "bb"}

// slugPrefixes are the paths whose next segment is a provider.
var slugPrefixes = []string{"/api/v2/project/", "/api/v2/insights/", "/api/v2/insights/pages/",
	"/api/v2/insights/time-series/", "/api/v2/organization/"}

// canonicalProvider rewrites r's long provider names to the short ones.
func canonicalProvider(r *http.Request) *http.Request {
	path := r.URL.Path
	changed := false
	for _, prefix := range slugPrefixes {
		rest, ok := strings.CutPrefix(path, prefix)
		if !ok {
			continue
		}
		vcs, tail, _ := strings.Cut(rest, "/")
		if short, ok := longProviders[vcs]; ok && tail != "" {
			path, changed = prefix+short+"/"+tail, true
		}
	}
	q := r.URL.Query()
	for _, name := range []string{"org-slug", "owner-slug"} {
		vcs, tail, ok := strings.Cut(q.Get(name), "/")
		if short, long := longProviders[vcs]; ok && long {
			q.Set(name, short+"/"+tail)
			changed = true
		}
	}
	if !changed {
		return r
	}
	r2 := new(http.Request)
	*r2 = *r
	u := *r.URL
	u.Path, u.RawPath, u.RawQuery = path, "", q.Encode()
	r2.URL = &u
	return r2
}

// providerName is the VCS provider as CircleCI spells it in vcs_info and
// provider_name.
func providerName(vcs string) string {
	switch vcs {
	case "gh", "github":
		return "GitHub"
	case "bb", "bitbucket":
		return "Bitbucket"
	case "circleci":
		return "CircleCI"
	case "local":
		return "Local"
	}
	return vcs
}

// projectType is pipeline.project.type and a collaboration's vcs-type, as
// CircleCI names providers there.
func projectType(slugVCS string) string { return vcs.ProviderType(slugVCS) }
