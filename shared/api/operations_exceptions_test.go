package api_test

// operationExceptions is THE list of CircleCI API v2 operations (as its
// OpenAPI document spells them, "METHOD /path") that Orbit's router does
// not serve, each with the reason. TestOperationsCoverage fails on any
// other gap, and on an entry here that the router does serve.
//
// "pending: <area>" entries are being built by another part of the work on
// issue 12 and are removed when that part lands; "missing: " entries are
// not built yet; any other entry is a deliberate difference. Every entry
// that is not pending is listed in docs/API.md (TestAPIDocListsExceptions).
var operationExceptions = map[string]string{

	// Not built (issue 12's REST API core part); docs/API.md says so.
	"POST /organization":                                "missing: Orbit's organizations are its projects' owners (a GitHub organization, the local one); creating one needs an organization record Orbit does not keep yet",
	"DELETE /organization/{org-slug-or-id}":             "missing: as POST /organization; deleting an owner would have to delete its projects and contexts",
	"POST /organization/{org-slug-or-id}/project":       "missing: creating a GitHub project needs the GitHub follow flow (shared/vcs/github Registry.Follow) wired to the API with the caller's GitHub token",
	"POST /project/{provider}/{organization}/{project}": "missing: as POST /organization/{org}/project; local projects are followed by path with Orbit's POST /api/v2/project",
}
