package api

import "net/http"

// moreOperationDocs documents, untyped, the routes of the integrations,
// insights, the official CLI's extras and the account routes (their view
// types are in their own files; typing each is left for the next round):
// the document lists them with their success status, and the contract test
// still checks their answers against CircleCI's document where it has them.
var moreOperationDocs = map[string][]opDoc{
	"POST /api/v2/organization": {{ID: "createOrganization", Tag: "Organization", Summary: "Create an organization (GitHub, or one of Orbit's own).",
		Status: http.StatusCreated, Body: organizationJSON{}}},
	"DELETE /api/v2/organization/{org}": {{ID: "deleteOrganization", Tag: "Organization", Summary: "Delete an organization, its projects and contexts.",
		Status: http.StatusAccepted, Body: message{}}},
	"DELETE /api/v2/organization/{vcs}/{name}": {{ID: "deleteOrganizationBySlug", Tag: "Organization", Summary: "Delete an organization named by its slug.",
		Status: http.StatusAccepted, Body: message{}, Extension: true}},
	"POST /api/v2/organization/{org}/project": {{ID: "createProject", Tag: "Project", Summary: "Create (follow) a GitHub project.",
		Body: projectJSON{}}},
	"POST /api/v2/organization/{vcs}/{name}/project": {{ID: "createProjectInOrgSlug", Tag: "Project", Summary: "Create a project in an organization named by its slug.",
		Body: projectJSON{}, Extension: true}},
	"POST /api/v2/project/{vcs}/{org}/{repo}": {{ID: "createProject1", Tag: "Project", Summary: "Create (follow) a GitHub project; its settings.",
		Status: http.StatusCreated, Body: projectSettingsJSON{}, Split: true}},
	"POST /api/v2/pipeline/continue":                                                            {{ID: "continuePipeline", Tag: "Pipeline", Summary: "Continue a setup pipeline with a new configuration."}},
	"GET /api/v2/me/ssh-keys":                                                                   {{ID: "getMeSshKeys", Tag: "Orbit", Summary: "See docs/API.md.", Extension: true}},
	"PUT /api/v2/me/ssh-keys":                                                                   {{ID: "putMeSshKeys", Tag: "Orbit", Summary: "See docs/API.md.", Extension: true}},
	"POST /api/v2/compile-config-with-defaults":                                                 {{ID: "postCompileConfigWithDefaults", Tag: "Orbit", Summary: "See docs/API.md.", Extension: true}},
	"GET /api/v2/organization/{org}/url-orb-allow-list":                                         {{ID: "getOrganizationOrgUrlOrbAllowList", Tag: "Organization", Summary: "See docs/API.md."}},
	"POST /api/v2/organization/{org}/url-orb-allow-list":                                        {{ID: "postOrganizationOrgUrlOrbAllowList", Tag: "Organization", Summary: "See docs/API.md."}},
	"DELETE /api/v2/organization/{org}/url-orb-allow-list/{entry}":                              {{ID: "deleteOrganizationOrgUrlOrbAllowListEntry", Tag: "Organization", Summary: "See docs/API.md."}},
	"GET /api/v2/organization/{vcs}/{name}/url-orb-allow-list":                                  {{ID: "getOrganizationVcsNameUrlOrbAllowList", Tag: "Organization", Summary: "See docs/API.md.", Extension: true}},
	"POST /api/v2/organization/{vcs}/{name}/url-orb-allow-list":                                 {{ID: "postOrganizationVcsNameUrlOrbAllowList", Tag: "Organization", Summary: "See docs/API.md.", Extension: true}},
	"DELETE /api/v2/organization/{vcs}/{name}/url-orb-allow-list/{entry}":                       {{ID: "deleteOrganizationVcsNameUrlOrbAllowListEntry", Tag: "Organization", Summary: "See docs/API.md.", Extension: true}},
	"DELETE /api/v2/admin/users/{login}":                                                        {{ID: "deleteAdminUsersLogin", Tag: "Orbit", Summary: "See docs/API.md.", Extension: true}},
	"POST /api/v2/admin/ldap/test":                                                              {{ID: "postAdminLdapTest", Tag: "Orbit", Summary: "See docs/API.md.", Extension: true}},
	"POST /api/v2/project/{vcs}/{org}/{repo}/stop-building":                                     {{ID: "postProjectVcsOrgRepoStopBuilding", Tag: "Orbit", Summary: "See docs/API.md.", Extension: true}},
	"POST /api/v2/project/{vcs}/{org}/{repo}/start-building":                                    {{ID: "postProjectVcsOrgRepoStartBuilding", Tag: "Orbit", Summary: "See docs/API.md.", Extension: true}},
	"GET /api/v2/organizations/{org_id}/groups":                                                 {{ID: "getOrganizationsOrgIdGroups", Tag: "Groups", Summary: "See docs/API.md."}},
	"POST /api/v2/organizations/{org_id}/groups":                                                {{ID: "postOrganizationsOrgIdGroups", Tag: "Groups", Summary: "See docs/API.md.", Status: http.StatusCreated}},
	"GET /api/v2/organizations/{org_id}/groups/{group_id}":                                      {{ID: "getOrganizationsOrgIdGroupsGroupId", Tag: "Groups", Summary: "See docs/API.md."}},
	"DELETE /api/v2/organizations/{org_id}/groups/{group_id}":                                   {{ID: "deleteOrganizationsOrgIdGroupsGroupId", Tag: "Groups", Summary: "See docs/API.md."}},
	"GET /api/v2/owner/{ownerID}/context/{context}/decision":                                    {{ID: "getOwnerOwneridContextContextDecision", Tag: "Policy Management", Summary: "See docs/API.md."}},
	"POST /api/v2/owner/{ownerID}/context/{context}/decision":                                   {{ID: "postOwnerOwneridContextContextDecision", Tag: "Policy Management", Summary: "See docs/API.md."}},
	"GET /api/v2/owner/{ownerID}/context/{context}/decision/settings":                           {{ID: "getOwnerOwneridContextContextDecisionSettings", Tag: "Policy Management", Summary: "See docs/API.md."}},
	"PATCH /api/v2/owner/{ownerID}/context/{context}/decision/settings":                         {{ID: "patchOwnerOwneridContextContextDecisionSettings", Tag: "Policy Management", Summary: "See docs/API.md."}},
	"GET /api/v2/owner/{ownerID}/context/{context}/decision/{decisionID}":                       {{ID: "getOwnerOwneridContextContextDecisionDecisionid", Tag: "Policy Management", Summary: "See docs/API.md."}},
	"GET /api/v2/owner/{ownerID}/context/{context}/decision/{decisionID}/policy-bundle":         {{ID: "getOwnerOwneridContextContextDecisionDecisionidPolicyBundle", Tag: "Policy Management", Summary: "See docs/API.md."}},
	"GET /api/v2/owner/{ownerID}/context/{context}/policy-bundle":                               {{ID: "getOwnerOwneridContextContextPolicyBundle", Tag: "Policy Management", Summary: "See docs/API.md."}},
	"POST /api/v2/owner/{ownerID}/context/{context}/policy-bundle":                              {{ID: "postOwnerOwneridContextContextPolicyBundle", Tag: "Policy Management", Summary: "See docs/API.md."}},
	"GET /api/v2/owner/{ownerID}/context/{context}/policy-bundle/{policyName}":                  {{ID: "getOwnerOwneridContextContextPolicyBundlePolicyname", Tag: "Policy Management", Summary: "See docs/API.md."}},
	"GET /api/v2/deploy/environments":                                                           {{ID: "getDeployEnvironments", Tag: "Deploy", Summary: "See docs/API.md."}},
	"GET /api/v2/deploy/environments/{environment_id}":                                          {{ID: "getDeployEnvironmentsEnvironmentId", Tag: "Deploy", Summary: "See docs/API.md."}},
	"GET /api/v2/deploy/components":                                                             {{ID: "getDeployComponents", Tag: "Deploy", Summary: "See docs/API.md."}},
	"GET /api/v2/deploy/components/{component_id}":                                              {{ID: "getDeployComponentsComponentId", Tag: "Deploy", Summary: "See docs/API.md."}},
	"GET /api/v2/deploy/components/{component_id}/versions":                                     {{ID: "getDeployComponentsComponentIdVersions", Tag: "Deploy", Summary: "See docs/API.md."}},
	"POST /api/v2/webhook":                                                                      {{ID: "postWebhook", Tag: "Webhook", Summary: "See docs/API.md.", Status: http.StatusCreated}},
	"GET /api/v2/webhook":                                                                       {{ID: "getWebhook", Tag: "Webhook", Summary: "See docs/API.md."}},
	"GET /api/v2/webhook/{webhook_id}":                                                          {{ID: "getWebhookWebhookId", Tag: "Webhook", Summary: "See docs/API.md."}},
	"PUT /api/v2/webhook/{webhook_id}":                                                          {{ID: "putWebhookWebhookId", Tag: "Webhook", Summary: "See docs/API.md."}},
	"DELETE /api/v2/webhook/{webhook_id}":                                                       {{ID: "deleteWebhookWebhookId", Tag: "Webhook", Summary: "See docs/API.md."}},
	"POST /api/v2/organizations/{org_id}/usage_export_job":                                      {{ID: "postOrganizationsOrgIdUsageExportJob", Tag: "Usage", Summary: "See docs/API.md.", Status: http.StatusCreated}},
	"GET /api/v2/organizations/{org_id}/usage_export_job/{usage_export_job_id}":                 {{ID: "getOrganizationsOrgIdUsageExportJobUsageExportJobId", Tag: "Usage", Summary: "See docs/API.md."}},
	"GET /api/v2/org/{orgID}/oidc-custom-claims":                                                {{ID: "getOrgOrgidOidcCustomClaims", Tag: "OIDC Token Management", Summary: "See docs/API.md."}},
	"PATCH /api/v2/org/{orgID}/oidc-custom-claims":                                              {{ID: "patchOrgOrgidOidcCustomClaims", Tag: "OIDC Token Management", Summary: "See docs/API.md."}},
	"DELETE /api/v2/org/{orgID}/oidc-custom-claims":                                             {{ID: "deleteOrgOrgidOidcCustomClaims", Tag: "OIDC Token Management", Summary: "See docs/API.md."}},
	"GET /api/v2/org/{orgID}/project/{projectID}/oidc-custom-claims":                            {{ID: "getOrgOrgidProjectProjectidOidcCustomClaims", Tag: "OIDC Token Management", Summary: "See docs/API.md."}},
	"PATCH /api/v2/org/{orgID}/project/{projectID}/oidc-custom-claims":                          {{ID: "patchOrgOrgidProjectProjectidOidcCustomClaims", Tag: "OIDC Token Management", Summary: "See docs/API.md."}},
	"DELETE /api/v2/org/{orgID}/project/{projectID}/oidc-custom-claims":                         {{ID: "deleteOrgOrgidProjectProjectidOidcCustomClaims", Tag: "OIDC Token Management", Summary: "See docs/API.md."}},
	"GET /api/v2/projects/{project_id}/pipeline-definitions":                                    {{ID: "getProjectsProjectIdPipelineDefinitions", Tag: "Pipeline Definition", Summary: "See docs/API.md."}},
	"POST /api/v2/projects/{project_id}/pipeline-definitions":                                   {{ID: "postProjectsProjectIdPipelineDefinitions", Tag: "Pipeline Definition", Summary: "See docs/API.md."}},
	"GET /api/v2/projects/{project_id}/pipeline-definitions/{pipeline_definition_id}":           {{ID: "getProjectsProjectIdPipelineDefinitionsPipelineDefinitionId", Tag: "Pipeline Definition", Summary: "See docs/API.md."}},
	"PATCH /api/v2/projects/{project_id}/pipeline-definitions/{pipeline_definition_id}":         {{ID: "patchProjectsProjectIdPipelineDefinitionsPipelineDefinitionId", Tag: "Pipeline Definition", Summary: "See docs/API.md."}},
	"DELETE /api/v2/projects/{project_id}/pipeline-definitions/{pipeline_definition_id}":        {{ID: "deleteProjectsProjectIdPipelineDefinitionsPipelineDefinitionId", Tag: "Pipeline Definition", Summary: "See docs/API.md."}},
	"GET /api/v2/projects/{project_id}/pipeline-definitions/{pipeline_definition_id}/triggers":  {{ID: "getProjectsProjectIdPipelineDefinitionsPipelineDefinitionIdTriggers", Tag: "Pipeline Definition", Summary: "See docs/API.md."}},
	"POST /api/v2/projects/{project_id}/pipeline-definitions/{pipeline_definition_id}/triggers": {{ID: "postProjectsProjectIdPipelineDefinitionsPipelineDefinitionIdTriggers", Tag: "Pipeline Definition", Summary: "See docs/API.md."}},
	"GET /api/v2/projects/{project_id}/triggers/{trigger_id}":                                   {{ID: "getProjectsProjectIdTriggersTriggerId", Tag: "Trigger", Summary: "See docs/API.md."}},
	"PATCH /api/v2/projects/{project_id}/triggers/{trigger_id}":                                 {{ID: "patchProjectsProjectIdTriggersTriggerId", Tag: "Trigger", Summary: "See docs/API.md."}},
	"DELETE /api/v2/projects/{project_id}/triggers/{trigger_id}":                                {{ID: "deleteProjectsProjectIdTriggersTriggerId", Tag: "Trigger", Summary: "See docs/API.md."}},
	"POST /api/v2/projects/{project_id}/rollback":                                               {{ID: "postProjectsProjectIdRollback", Tag: "Deploy", Summary: "See docs/API.md.", Status: http.StatusAccepted}},
	"GET /api/v2/insights/{a}/{b}/{c}/{d}/{e}":                                                  {{ID: "getInsightsABCDE", Tag: "Insights", Summary: "See docs/API.md.", Extension: true}},
	"GET /api/v2/insights/{vcs}/{org}/{repo}/workflows":                                         {{ID: "getInsightsVcsOrgRepoWorkflows", Tag: "Insights", Summary: "See docs/API.md."}},
	"GET /api/v2/insights/{vcs}/{org}/{repo}/workflows/{workflow}/jobs":                         {{ID: "getInsightsVcsOrgRepoWorkflowsWorkflowJobs", Tag: "Insights", Summary: "See docs/API.md."}},
	"GET /api/v2/insights/{vcs}/{org}/{repo}/workflows/{workflow}/summary":                      {{ID: "getInsightsVcsOrgRepoWorkflowsWorkflowSummary", Tag: "Insights", Summary: "See docs/API.md."}},
	"GET /api/v2/insights/{vcs}/{org}/{repo}/workflows/{workflow}/test-metrics":                 {{ID: "getInsightsVcsOrgRepoWorkflowsWorkflowTestMetrics", Tag: "Insights", Summary: "See docs/API.md."}},
	"GET /api/v2/insights/{vcs}/{org}/{repo}/branches":                                          {{ID: "getInsightsVcsOrgRepoBranches", Tag: "Insights", Summary: "See docs/API.md."}},
	"GET /api/v2/insights/{vcs}/{org}/{repo}/flaky-tests":                                       {{ID: "getInsightsVcsOrgRepoFlakyTests", Tag: "Insights", Summary: "See docs/API.md."}},
	"GET /api/v2/insights/{vcs}/{org}/{repo}/dashboard":                                         {{ID: "getInsightsVcsOrgRepoDashboard", Tag: "Insights", Summary: "See docs/API.md.", Extension: true}},
	"GET /api/v2/insights/time-series/{vcs}/{org}/{repo}/workflows/{workflow}/jobs":             {{ID: "getInsightsTimeSeriesVcsOrgRepoWorkflowsWorkflowJobs", Tag: "Insights", Summary: "See docs/API.md."}},
	"GET /api/v2/insights/{vcs}/{org}/summary":                                                  {{ID: "getInsightsVcsOrgSummary", Tag: "Insights", Summary: "See docs/API.md."}},
}

func init() {
	for pattern, docs := range moreOperationDocs {
		if _, dup := operationDocs[pattern]; dup {
			panic("api: " + pattern + " documented twice")
		}
		operationDocs[pattern] = docs
	}
}
