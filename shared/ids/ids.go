// Package ids derives the stable UUIDs CircleCI's shapes show for Orbit's
// projects and organizations. Orbit's real identities are slugs
// ("<vcs>/<org>/<repo>", "<vcs>/<org>"); CircleCI's clients want UUIDs, so
// each is a name-based (SHA-1) UUID of its slug: the same slug gives the
// same id in every process, with nothing stored. The API, the outbound
// webhooks' payloads and the OIDC tokens all name projects this way.
package ids

import (
	"strings"

	"github.com/google/uuid"
)

// namespace is the UUID namespace of every derived id. Changing it changes
// every project and organization id Orbit has ever shown.
var namespace = uuid.MustParse("0b8f2a5e-3c39-4d8e-9a0c-6a2f1f0f7d21")

// Project is the id of the project "<vcs>/<org>/<repo>".
func Project(slug string) string {
	return uuid.NewSHA1(namespace, []byte("project/"+slug)).String()
}

// Org is the id of the organization "<vcs>/<org>".
func Org(owner string) string {
	return uuid.NewSHA1(namespace, []byte("org/"+owner)).String()
}

// Owner is the organization slug of a project slug ("local/acme" for
// "local/acme/api").
func Owner(projectSlug string) string {
	if i := strings.LastIndex(projectSlug, "/"); i > 0 {
		return projectSlug[:i]
	}
	return projectSlug
}

// Derive is a stable id for a thing named by parts (a delivery of an event,
// a record derived from another), in the same namespace.
func Derive(parts ...string) string {
	return uuid.NewSHA1(namespace, []byte(strings.Join(parts, "\x00"))).String()
}
