package api

// The answers of the administration routes (admin.go, users.go, notify.go),
// typed so that openapi.json describes them and the contract test checks
// them.

// adminUsersJSON is GET /api/v2/admin/users: the users and the seed's user
// statistics.
type adminUsersJSON struct {
	Items     []adminUserView `json:"items"`
	Active    int             `json:"active"`
	Suspended int             `json:"suspended"`
	// SuspendedNew are the users waiting for an admin to activate them
	// (suspended before their first sign-in).
	SuspendedNew int `json:"suspended_new"`
	// Licensed counts the users a licence would count: the active ones.
	Licensed int `json:"licensed"`
}

// adminQueueJSON is GET /api/v2/admin/queue: counts by status and the
// oldest queued jobs.
type adminQueueJSON struct {
	Queued  int          `json:"queued"`
	Blocked int          `json:"blocked"`
	Running int          `json:"running"`
	Oldest  []queuedView `json:"oldest"`
}

// canceledJSON is POST /api/v2/admin/queue/cancel: the jobs canceled, by
// URL.
type canceledJSON struct {
	Canceled []string `json:"canceled"`
}

// deletedBuildJSON is POST /api/v2/admin/delete-build.
type deletedBuildJSON struct {
	Deleted deletedJobJSON `json:"deleted"`
}

type deletedJobJSON struct {
	URL         string `json:"url"`
	ProjectSlug string `json:"project_slug"`
	Number      int64  `json:"number"`
	ID          string `json:"id"`
	Name        string `json:"name"`
	Status      string `json:"status"`
}

// projectNotificationsJSON is PUT /api/v2/project/{slug}/notifications.
type projectNotificationsJSON struct {
	Enabled bool   `json:"enabled"`
	Slug    string `json:"slug"`
}
