// Package vcs names what Orbit needs from a version-control host, the
// errors its drivers return and the Commit a pipeline shows (commit.go). The
// consumers (conductor, API) declare the small interfaces they use; drivers
// live in subpackages: localgit for repositories on this machine (the
// embedded shape), github for GitHub and GitHub Enterprise.
package vcs

import "errors"

var (
	// ErrRepoNotFound: the repository does not exist or cannot be read.
	ErrRepoNotFound = errors.New("repository not found")
	// ErrRevisionNotFound: the branch, tag or commit does not exist.
	ErrRevisionNotFound = errors.New("revision not found")
	// ErrFileNotFound: the file does not exist at that revision.
	ErrFileNotFound = errors.New("file not found at revision")
)

// ProviderType names a project slug's VCS part as CircleCI's payloads and
// pipeline values spell it ("github", "bitbucket"; others unchanged).
func ProviderType(slugVCS string) string {
	switch slugVCS {
	case "gh", "github":
		return "github"
	case "bb", "bitbucket":
		return "bitbucket"
	}
	return slugVCS
}
