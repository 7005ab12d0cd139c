package api

import (
	"net/http"

	"github.com/orbit-ci/orbit/shared/accounts"
	"github.com/orbit-ci/orbit/shared/notify"
	"github.com/orbit-ci/orbit/shared/usage"
)

// operationDocs documents each API route (by its pattern) for openapi.go:
// the view type its handler encodes, the success status, the query
// parameters. A route with no entry is listed untyped and the test that
// checks the document against the router fails, so a new route comes with
// its entry here. A dispatcher route (one pattern, several operations) has
// one entry per Literal.
var operationDocs = map[string][]opDoc{
	"GET /api/v2/openapi.json": {{ID: "getOpenAPI", Tag: "Orbit", Summary: "This document.", Extension: true}},

	// Projects.
	"GET /api/v2/projects": {{ID: "listProjects", Tag: "Orbit", Summary: "Every project the caller can see.",
		Body: listJSON[projectJSON]{}, Extension: true}},
	"POST /api/v2/project": {{ID: "followProject", Request: followRequest{}, Tag: "Orbit", Summary: "Follow a local git repository.",
		Status: http.StatusCreated, Body: projectJSON{}, Extension: true}},
	"GET /api/v2/project/{vcs}/{org}/{repo}": {{ID: "getProjectBySlug", Tag: "Project", Summary: "Get a project.", Body: projectJSON{}}},
	"GET /api/v2/project/{vcs}/{org}/{repo}/settings": {{ID: "getProjectSettings", Tag: "Project",
		Summary: "What Orbit does for the project.", Body: projectSettingsJSON{}, Split: true}},
	"PATCH /api/v2/project/{vcs}/{org}/{repo}/settings": {{ID: "patchProjectSettings", Request: settingsPatch{}, Tag: "Project",
		Summary: "Accepts the settings Orbit has; refuses others.", Body: projectSettingsJSON{}, Split: true}},
	"DELETE /api/v2/project/{vcs}/{org}/{repo}": {{ID: "deleteProjectBySlug", Tag: "Project",
		Summary: "Stop following a project; its variables, keys and schedules go.", Body: message{}}},

	// Pipelines.
	"POST /api/v2/project/{vcs}/{org}/{repo}/pipeline": {{ID: "triggerPipeline", Request: triggerRequest{}, Tag: "Pipeline",
		Summary: "Trigger a new pipeline.", Status: http.StatusCreated, Body: pipelineCreationJSON{}}},
	"GET /api/v2/project/{vcs}/{org}/{repo}/pipeline": {{ID: "listPipelinesForProject", Tag: "Pipeline",
		Summary: "A project's pipelines, newest first.", Body: listJSON[pipelineJSON]{}, Query: []string{"branch"}, Paged: true}},
	"GET /api/v2/project/{vcs}/{org}/{repo}/pipeline/{number}": {{ID: "getPipelineByNumber", Tag: "Pipeline",
		Summary: "Get a pipeline by its number.", Body: pipelineJSON{}}},
	"GET /api/v2/pipeline/{id}":          {{ID: "getPipelineById", Tag: "Pipeline", Summary: "Get a pipeline.", Body: pipelineJSON{}}},
	"GET /api/v2/pipeline/{id}/config":   {{ID: "getPipelineConfigById", Tag: "Pipeline", Summary: "A pipeline's configuration.", Body: pipelineConfigJSON{}}},
	"GET /api/v2/pipeline/{id}/workflow": {{ID: "listWorkflowsByPipelineId", Tag: "Pipeline", Summary: "A pipeline's workflows.", Body: listJSON[workflowJSON]{}, Paged: true}},

	"GET /api/v2/pipeline": {{ID: "listPipelines", Tag: "Pipeline", Summary: "Pipelines of an organization's projects.",
		Body: listJSON[pipelineJSON]{}, Query: []string{"org-slug", "mine"}, Paged: true}},
	"GET /api/v2/project/{vcs}/{org}/{repo}/pipeline/mine": {{ID: "listMyPipelines", Tag: "Pipeline",
		Summary: "The caller's pipelines of a project.", Body: listJSON[pipelineJSON]{}, Paged: true}},
	"GET /api/v2/pipeline/{id}/values": {{ID: "getPipelineValuesById", Tag: "Pipeline", Summary: "A pipeline's pipeline.* values.",
		Body: map[string]any{}}},
	"POST /api/v2/project/{vcs}/{org}/{repo}/pipeline/run": {{ID: "triggerPipelineRun", Request: runRequest{}, Tag: "Pipeline", Summary: "Run a pipeline.",
		Status: http.StatusCreated, Body: pipelineCreationJSON{}, Split: true}},

	// Schedules.
	"GET /api/v2/project/{vcs}/{org}/{repo}/schedule": {{ID: "listSchedulesForProject", Tag: "Schedule",
		Summary: "A project's schedules.", Body: listJSON[scheduleJSON]{}, Paged: true}},
	"POST /api/v2/project/{vcs}/{org}/{repo}/schedule": {{ID: "createSchedule", Request: scheduleRequest{}, Tag: "Schedule", Summary: "Create a schedule.",
		Status: http.StatusCreated, Body: scheduleJSON{}}},
	"GET /api/v2/schedule/{id}":    {{ID: "getScheduleById", Tag: "Schedule", Summary: "A schedule.", Body: scheduleJSON{}}},
	"PATCH /api/v2/schedule/{id}":  {{ID: "updateSchedule", Request: scheduleRequest{}, Tag: "Schedule", Summary: "Change a schedule.", Body: scheduleJSON{}}},
	"DELETE /api/v2/schedule/{id}": {{ID: "deleteScheduleById", Tag: "Schedule", Summary: "Delete a schedule.", Body: message{}}},

	// Workflows.
	"GET /api/v2/workflow/{id}":     {{ID: "getWorkflowById", Tag: "Workflow", Summary: "Get a workflow.", Body: workflowJSON{}}},
	"GET /api/v2/workflow/{id}/job": {{ID: "listWorkflowJobs", Tag: "Workflow", Summary: "A workflow's jobs.", Body: listJSON[workflowJobJSON]{}, Paged: true}},
	"POST /api/v2/workflow/{id}/approve/{approval_request_id}": {{ID: "approvePendingApprovalJobById", Tag: "Workflow",
		Summary: "Approve a job waiting for approval.", Status: http.StatusAccepted, Body: message{}}},
	"POST /api/v2/workflow/{id}/cancel": {{ID: "cancelWorkflow", Tag: "Workflow", Summary: "Cancel a workflow.",
		Status: http.StatusAccepted, Body: message{}}},
	"POST /api/v2/workflow/{id}/rerun": {{ID: "rerunWorkflow", Request: rerunRequest{}, Tag: "Workflow", Summary: "Rerun a workflow.",
		Status: http.StatusAccepted, Body: rerunJSON{}}},

	// Jobs.
	"GET /api/v2/project/{vcs}/{org}/{repo}/job/{number}": {{ID: "getJobDetails", Tag: "Job", Summary: "Get a job.", Body: jobDetailsJSON{}}},
	"GET /api/v2/project/{vcs}/{org}/{repo}/job/{number}/steps": {{ID: "listJobSteps", Tag: "Orbit",
		Summary: "The steps of a job's latest attempt.", Body: map[string][]stepJSON{}, Extension: true}},
	"GET /api/v2/project/{vcs}/{org}/{repo}/job/{number}/output": {{ID: "getStepOutput", Tag: "Orbit",
		Summary: "A step's output on one task.", Media: "text/plain", Query: []string{"step", "task", "from"}, Extension: true}},
	"POST /api/v2/project/{vcs}/{org}/{repo}/job/{number}/cancel": {{ID: "cancelJobByJobNumber", Tag: "Job", Summary: "Cancel a job.", Body: message{}}},
	"POST /api/v2/jobs/{job_id}/cancel":                           {{ID: "cancelJobByJobID", Tag: "Job", Summary: "Cancel a job.", Body: message{}}},
	"GET /api/v2/project/{vcs}/{org}/{repo}/{number}/{resource}": {
		{ID: "getJobArtifacts", Tag: "Job", Summary: "A job's artifacts.", Body: listJSON[artifactJSON]{}, Literal: "artifacts"},
		{ID: "getTests", Tag: "Job", Summary: "A job's test results.", Body: listJSON[testJSON]{}, Literal: "tests", Paged: true},
	},
	"GET /api/v2/project/{vcs}/{org}/{repo}/{number}/artifacts/{node}/{path...}": {{ID: "getArtifact", Tag: "Orbit",
		Summary: "An artifact's content.", Media: "*/*", Extension: true}},

	// Users and tokens.
	"GET /api/v2/me": {{ID: "getCurrentUser", Tag: "User", Summary: "The caller.", Body: userView{}}},
	"GET /api/v2/me/collaborations": {{ID: "getCollaborations", Tag: "User", Summary: "The organizations the caller can see.",
		Body: []collaborationJSON{}}},
	"GET /api/v2/user/{id}":        {{ID: "getUser", Tag: "User", Summary: "A user.", Body: userView{}}},
	"GET /api/v2/me/token":         {{ID: "listTokens", Tag: "Orbit", Summary: "The caller's API tokens.", Body: listJSON[tokenView]{}, Extension: true}},
	"POST /api/v2/me/token":        {{ID: "createToken", Tag: "Orbit", Summary: "Create an API token.", Status: http.StatusCreated, Body: tokenView{}, Extension: true}},
	"DELETE /api/v2/me/token/{id}": {{ID: "revokeToken", Tag: "Orbit", Summary: "Revoke an API token.", Body: message{}, Extension: true}},
	"GET /api/v2/admin/users":      {{ID: "adminListUsers", Tag: "Orbit", Summary: "Every user (administrators).", Body: adminUsersJSON{}, Extension: true}},
	"GET /api/v2/admin/settings":   {{ID: "adminGetSettings", Tag: "Orbit", Summary: "The sign-in settings.", Body: accounts.Settings{}, Extension: true}},
	"PUT /api/v2/admin/settings":   {{ID: "adminPutSettings", Request: accounts.Settings{}, Tag: "Orbit", Summary: "Change the sign-in settings.", Body: accounts.Settings{}, Extension: true}},
	"PUT /api/v2/admin/users/{login}/admin": {{ID: "adminSetAdmin", Tag: "Orbit", Summary: "Make or unmake an administrator.",
		Body: adminUserView{}, Extension: true}},
	"PUT /api/v2/admin/users/{login}/role": {{ID: "adminSetRole", Tag: "Orbit", Summary: "Set a local user's role.",
		Body: adminUserView{}, Extension: true}},
	"POST /api/v2/admin/users/{login}/suspend": {{ID: "adminSuspendUser", Tag: "Orbit", Summary: "Suspend a user.",
		Body: adminUserView{}, Extension: true}},
	"POST /api/v2/admin/users/{login}/activate": {{ID: "adminActivateUser", Tag: "Orbit", Summary: "Activate a user.",
		Body: adminUserView{}, Extension: true}},
	"POST /api/v2/admin/users/{login}/token": {{ID: "adminCreateToken", Tag: "Orbit", Summary: "Create a token for a user.",
		Status: http.StatusCreated, Body: tokenView{}, Extension: true}},

	// Administration.
	"GET /api/v2/admin/audit-log": {{ID: "adminAuditLog", Tag: "Orbit", Summary: "The audit log as CSV.", Media: "text/csv",
		Query: []string{"from", "to"}, Extension: true}},
	"GET /api/v2/admin/queue":         {{ID: "adminQueue", Tag: "Orbit", Summary: "Queued jobs.", Body: adminQueueJSON{}, Extension: true}},
	"POST /api/v2/admin/queue/cancel": {{ID: "adminCancelQueued", Tag: "Orbit", Summary: "Cancel queued jobs in batches.", Body: canceledJSON{}, Extension: true}},
	"POST /api/v2/admin/delete-build": {{ID: "adminDeleteBuild", Tag: "Orbit", Summary: "Delete a build record.", Body: deletedBuildJSON{}, Extension: true}},
	"GET /api/v2/admin/usage":         {{ID: "adminUsage", Tag: "Orbit", Summary: "Usage figures.", Body: usage.Report{}, Extension: true}},
	"PUT /api/v2/notifications/user/{login}": {{ID: "setUserNotifications", Request: notify.UserSetting{}, Tag: "Orbit", Summary: "A user's workflow mail setting.",
		Body: notify.UserSetting{}, Extension: true}},
	"PUT /api/v2/project/{vcs}/{org}/{repo}/notifications": {{ID: "setProjectNotifications", Request: notify.ProjectSetting{}, Tag: "Orbit",
		Summary: "A project's workflow mail setting.", Body: projectNotificationsJSON{}, Extension: true}},

	// Project variables and keys.
	"GET /api/v2/project/{vcs}/{org}/{repo}/envvar":           {{ID: "listEnvVars", Tag: "Project", Summary: "A project's variables (masked).", Body: listJSON[envVarJSON]{}, Paged: true}},
	"POST /api/v2/project/{vcs}/{org}/{repo}/envvar":          {{ID: "createEnvVar", Tag: "Project", Summary: "Create a variable.", Status: http.StatusCreated, Body: envVarJSON{}}},
	"GET /api/v2/project/{vcs}/{org}/{repo}/envvar/{name}":    {{ID: "getEnvVar", Tag: "Project", Summary: "A variable (masked).", Body: envVarJSON{}}},
	"DELETE /api/v2/project/{vcs}/{org}/{repo}/envvar/{name}": {{ID: "deleteEnvVar", Tag: "Project", Summary: "Delete a variable.", Body: message{}}},
	"GET /api/v2/project/{vcs}/{org}/{repo}/checkout-key": {{ID: "listCheckoutKeys", Tag: "Project", Summary: "Checkout keys.",
		Body: listJSON[keyJSON]{}, Query: []string{"digest"}, Paged: true}},
	"POST /api/v2/project/{vcs}/{org}/{repo}/checkout-key": {{ID: "createCheckoutKey", Tag: "Project", Summary: "Create a checkout key.",
		Status: http.StatusCreated, Body: keyJSON{}}},
	"GET /api/v2/project/{vcs}/{org}/{repo}/checkout-key/{fp}": {{ID: "getCheckoutKey", Tag: "Project", Summary: "A checkout key.",
		Body: keyJSON{}, Query: []string{"digest"}}},
	"DELETE /api/v2/project/{vcs}/{org}/{repo}/checkout-key/{fp}": {{ID: "deleteCheckoutKey", Tag: "Project", Summary: "Delete a checkout key.", Body: message{}}},
	"GET /api/v2/project/{vcs}/{org}/{repo}/ssh-key": {{ID: "listSSHKeys", Tag: "Orbit", Summary: "Additional SSH keys.",
		Body: listJSON[keyJSON]{}, Query: []string{"digest"}, Extension: true}},
	"POST /api/v2/project/{vcs}/{org}/{repo}/ssh-key": {{ID: "addSSHKey", Tag: "Orbit", Summary: "Add an SSH key.",
		Status: http.StatusCreated, Body: keyJSON{}, Extension: true}},
	"DELETE /api/v2/project/{vcs}/{org}/{repo}/ssh-key/{fp}": {{ID: "deleteSSHKey", Tag: "Orbit", Summary: "Delete an SSH key.", Body: message{}, Extension: true}},

	// Contexts.
	"POST /api/v2/context": {{ID: "createContext", Tag: "Context", Summary: "Create a context.", Body: contextJSON{}}},
	"GET /api/v2/context": {{ID: "listContexts", Tag: "Context", Summary: "An owner's contexts.", Body: listJSON[contextJSON]{},
		Query: []string{"owner-id", "owner-slug", "owner-type"}, Paged: true}},
	"GET /api/v2/context/{id}":    {{ID: "getContext", Tag: "Context", Summary: "A context.", Body: contextJSON{}}},
	"DELETE /api/v2/context/{id}": {{ID: "deleteContext", Tag: "Context", Summary: "Delete a context.", Body: message{}}},
	"GET /api/v2/context/{id}/environment-variable": {{ID: "listEnvironmentVariablesFromContext", Tag: "Context",
		Summary: "A context's variables (names only).", Body: listJSON[contextVarJSON]{}, Paged: true}},
	"PUT /api/v2/context/{id}/environment-variable/{name}": {{ID: "addEnvironmentVariableToContext", Tag: "Context",
		Summary: "Add or replace a context variable.", Body: contextVarJSON{}}},
	"DELETE /api/v2/context/{id}/environment-variable/{name}": {{ID: "deleteEnvironmentVariableFromContext", Tag: "Context",
		Summary: "Delete a context variable.", Body: message{}}},
	"GET /api/v2/context/{id}/restrictions": {{ID: "getContextRestrictions", Tag: "Context", Summary: "A context's restrictions.",
		Body: listJSON[restrictionJSON]{}}},
	"POST /api/v2/context/{id}/restrictions": {{ID: "createContextRestriction", Tag: "Context", Summary: "Restrict a context.",
		Status: http.StatusCreated, Body: restrictionCreatedJSON{}}},
	"DELETE /api/v2/context/{id}/restrictions/{rid}": {{ID: "deleteContextRestriction", Tag: "Context",
		Summary: "Remove a restriction.", Body: message{}}},
}
