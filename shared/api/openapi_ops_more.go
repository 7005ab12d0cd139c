package api

import (
	"net/http"

	"github.com/orbit-ci/orbit/shared/insights"
)

// moreOperationDocs documents the routes of the integrations, insights,
// organizations, the official CLI's extras and the account routes, each
// with the view type its handler encodes (in the handler's file), so the
// contract test checks their answers against Orbit's document as well as
// CircleCI's. The operations of features that are off (features_off.go)
// are marked Off by init: their one answer is 403. The insights route
// that serves two operations of different shapes (insights.go) stays
// untyped.
var moreOperationDocs = map[string][]opDoc{
	"POST /api/v2/organization": {{ID: "createOrganization", Request: organizationBody{}, Tag: "Organization", Summary: "Create an organization (GitHub, or one of Orbit's own).",
		Status: http.StatusCreated, Body: organizationJSON{}}},
	"DELETE /api/v2/organization/{org}": {{ID: "deleteOrganization", Tag: "Organization", Summary: "Delete an organization, its projects and contexts.",
		Status: http.StatusAccepted, Body: message{}}},
	"DELETE /api/v2/organization/{vcs}/{name}": {{ID: "deleteOrganizationBySlug", Tag: "Organization", Summary: "Delete an organization named by its slug.",
		Status: http.StatusAccepted, Body: message{}, Extension: true}},
	"POST /api/v2/organization/{org}/project": {{ID: "createProject", Request: orgProjectBody{}, Tag: "Project", Summary: "Create (follow) a GitHub project.",
		Body: projectJSON{}}},
	"POST /api/v2/organization/{vcs}/{name}/project": {{ID: "createProjectInOrgSlug", Request: orgProjectBody{}, Tag: "Project", Summary: "Create a project in an organization named by its slug.",
		Body: projectJSON{}, Extension: true}},
	"POST /api/v2/project/{vcs}/{org}/{repo}": {{ID: "createProject1", Tag: "Project", Summary: "Create (follow) a GitHub project; its settings.",
		Status: http.StatusCreated, Body: projectSettingsJSON{}, Split: true}},
	"POST /api/v2/pipeline/continue":                                                            {{ID: "continuePipeline", Request: continueRequest{}, Tag: "Pipeline", Summary: "Continue a setup pipeline with a new configuration.", Body: message{}}},
	"GET /api/v2/me/ssh-keys":                                                                   {{ID: "getMeSshKeys", Tag: "Orbit", Summary: "The caller's SSH keys (reruns with SSH admit them).", Body: sshKeysJSON{}, Extension: true}},
	"PUT /api/v2/me/ssh-keys":                                                                   {{ID: "putMeSshKeys", Request: sshKeysJSON{}, Tag: "Orbit", Summary: "Replace the caller's SSH keys.", Body: sshKeysJSON{}, Extension: true}},
	"POST /api/v2/compile-config-with-defaults":                                                 {{ID: "postCompileConfigWithDefaults", Request: compileRequest{}, Tag: "Orbit", Summary: "Validate and process a config (the official CLI's config validate/process).", Body: compileResponse{}, Extension: true}},
	"GET /api/v2/organization/{org}/url-orb-allow-list":                                         {{ID: "getOrganizationOrgUrlOrbAllowList", Tag: "Organization", Summary: "An organization's URL-orb allow-list.", Body: itemsJSON[urlOrbEntryJSON]{}}},
	"POST /api/v2/organization/{org}/url-orb-allow-list":                                        {{ID: "postOrganizationOrgUrlOrbAllowList", Tag: "Organization", Summary: "Add an entry to the URL-orb allow-list.", Body: idMessage{}}},
	"DELETE /api/v2/organization/{org}/url-orb-allow-list/{entry}":                              {{ID: "deleteOrganizationOrgUrlOrbAllowListEntry", Tag: "Organization", Summary: "Remove an entry of the URL-orb allow-list.", Body: idMessage{}}},
	"GET /api/v2/organization/{vcs}/{name}/url-orb-allow-list":                                  {{ID: "getOrganizationVcsNameUrlOrbAllowList", Tag: "Organization", Summary: "An organization's URL-orb allow-list, by slug.", Body: itemsJSON[urlOrbEntryJSON]{}, Extension: true}},
	"POST /api/v2/organization/{vcs}/{name}/url-orb-allow-list":                                 {{ID: "postOrganizationVcsNameUrlOrbAllowList", Tag: "Organization", Summary: "Add an entry to the URL-orb allow-list, by slug.", Body: idMessage{}, Extension: true}},
	"DELETE /api/v2/organization/{vcs}/{name}/url-orb-allow-list/{entry}":                       {{ID: "deleteOrganizationVcsNameUrlOrbAllowListEntry", Tag: "Organization", Summary: "Remove an entry of the URL-orb allow-list, by slug.", Body: idMessage{}, Extension: true}},
	"DELETE /api/v2/admin/users/{login}":                                                        {{ID: "deleteAdminUsersLogin", Tag: "Orbit", Summary: "Delete a user (administrators).", Body: message{}, Extension: true}},
	"POST /api/v2/admin/ldap/test":                                                              {{ID: "postAdminLdapTest", Tag: "Orbit", Summary: "Test the LDAP connection and test account.", Body: okMessageJSON{}, Extension: true}},
	"POST /api/v2/project/{vcs}/{org}/{repo}/stop-building":                                     {{ID: "postProjectVcsOrgRepoStopBuilding", Tag: "Orbit", Summary: "Stop building a project (the seed's Stop building).", Body: projectJSON{}, Extension: true}},
	"POST /api/v2/project/{vcs}/{org}/{repo}/start-building":                                    {{ID: "postProjectVcsOrgRepoStartBuilding", Tag: "Orbit", Summary: "Build a stopped project again.", Body: projectJSON{}, Extension: true}},
	"GET /api/v2/organizations/{org_id}/groups":                                                 {{ID: "getOrganizationsOrgIdGroups", Tag: "Groups", Summary: "An organization's groups.", Body: groupListJSON{}}},
	"POST /api/v2/organizations/{org_id}/groups":                                                {{ID: "postOrganizationsOrgIdGroups", Tag: "Groups", Summary: "Create a group.", Body: groupJSON{}, Status: http.StatusCreated}},
	"GET /api/v2/organizations/{org_id}/groups/{group_id}":                                      {{ID: "getOrganizationsOrgIdGroupsGroupId", Tag: "Groups", Summary: "A group.", Body: groupJSON{}}},
	"DELETE /api/v2/organizations/{org_id}/groups/{group_id}":                                   {{ID: "deleteOrganizationsOrgIdGroupsGroupId", Tag: "Groups", Summary: "Delete a group.", Body: message{}}},
	"GET /api/v2/owner/{ownerID}/context/{context}/decision":                                    {{ID: "getOwnerOwneridContextContextDecision", Tag: "Policy Management", Summary: "(features_off.go)"}},
	"POST /api/v2/owner/{ownerID}/context/{context}/decision":                                   {{ID: "postOwnerOwneridContextContextDecision", Tag: "Policy Management", Summary: "(features_off.go)"}},
	"GET /api/v2/owner/{ownerID}/context/{context}/decision/settings":                           {{ID: "getOwnerOwneridContextContextDecisionSettings", Tag: "Policy Management", Summary: "(features_off.go)"}},
	"PATCH /api/v2/owner/{ownerID}/context/{context}/decision/settings":                         {{ID: "patchOwnerOwneridContextContextDecisionSettings", Tag: "Policy Management", Summary: "(features_off.go)"}},
	"GET /api/v2/owner/{ownerID}/context/{context}/decision/{decisionID}":                       {{ID: "getOwnerOwneridContextContextDecisionDecisionid", Tag: "Policy Management", Summary: "(features_off.go)"}},
	"GET /api/v2/owner/{ownerID}/context/{context}/decision/{decisionID}/policy-bundle":         {{ID: "getOwnerOwneridContextContextDecisionDecisionidPolicyBundle", Tag: "Policy Management", Summary: "(features_off.go)"}},
	"GET /api/v2/owner/{ownerID}/context/{context}/policy-bundle":                               {{ID: "getOwnerOwneridContextContextPolicyBundle", Tag: "Policy Management", Summary: "(features_off.go)"}},
	"POST /api/v2/owner/{ownerID}/context/{context}/policy-bundle":                              {{ID: "postOwnerOwneridContextContextPolicyBundle", Tag: "Policy Management", Summary: "(features_off.go)"}},
	"GET /api/v2/owner/{ownerID}/context/{context}/policy-bundle/{policyName}":                  {{ID: "getOwnerOwneridContextContextPolicyBundlePolicyname", Tag: "Policy Management", Summary: "(features_off.go)"}},
	"GET /api/v2/deploy/environments":                                                           {{ID: "getDeployEnvironments", Tag: "Deploy", Summary: "(features_off.go)"}},
	"GET /api/v2/deploy/environments/{environment_id}":                                          {{ID: "getDeployEnvironmentsEnvironmentId", Tag: "Deploy", Summary: "(features_off.go)"}},
	"GET /api/v2/deploy/components":                                                             {{ID: "getDeployComponents", Tag: "Deploy", Summary: "(features_off.go)"}},
	"GET /api/v2/deploy/components/{component_id}":                                              {{ID: "getDeployComponentsComponentId", Tag: "Deploy", Summary: "(features_off.go)"}},
	"GET /api/v2/deploy/components/{component_id}/versions":                                     {{ID: "getDeployComponentsComponentIdVersions", Tag: "Deploy", Summary: "(features_off.go)"}},
	"POST /api/v2/webhook":                                                                      {{ID: "postWebhook", Request: webhookBody{}, Tag: "Webhook", Summary: "Create an outbound webhook.", Body: webhookJSON{}, Status: http.StatusCreated}},
	"GET /api/v2/webhook":                                                                       {{ID: "getWebhook", Tag: "Webhook", Summary: "A scope's outbound webhooks.", Body: listJSON[webhookJSON]{}}},
	"GET /api/v2/webhook/{webhook_id}":                                                          {{ID: "getWebhookWebhookId", Tag: "Webhook", Summary: "An outbound webhook.", Body: webhookJSON{}}},
	"PUT /api/v2/webhook/{webhook_id}":                                                          {{ID: "putWebhookWebhookId", Request: webhookBody{}, Tag: "Webhook", Summary: "Change an outbound webhook.", Body: webhookJSON{}}},
	"DELETE /api/v2/webhook/{webhook_id}":                                                       {{ID: "deleteWebhookWebhookId", Tag: "Webhook", Summary: "Delete an outbound webhook.", Body: message{}}},
	"POST /api/v2/organizations/{org_id}/usage_export_job":                                      {{ID: "postOrganizationsOrgIdUsageExportJob", Tag: "Usage", Summary: "Start a usage export.", Body: usageExportJSON{}, Status: http.StatusCreated}},
	"GET /api/v2/organizations/{org_id}/usage_export_job/{usage_export_job_id}":                 {{ID: "getOrganizationsOrgIdUsageExportJobUsageExportJobId", Tag: "Usage", Summary: "A usage export's state and download URLs.", Body: usageExportJSON{}}},
	"GET /api/v2/org/{orgID}/oidc-custom-claims":                                                {{ID: "getOrgOrgidOidcCustomClaims", Tag: "OIDC Token Management", Summary: "An organization's OIDC custom claims.", Body: claimsJSON{}}},
	"PATCH /api/v2/org/{orgID}/oidc-custom-claims":                                              {{ID: "patchOrgOrgidOidcCustomClaims", Tag: "OIDC Token Management", Summary: "Change an organization's OIDC custom claims.", Body: claimsJSON{}}},
	"DELETE /api/v2/org/{orgID}/oidc-custom-claims":                                             {{ID: "deleteOrgOrgidOidcCustomClaims", Tag: "OIDC Token Management", Summary: "Remove an organization's OIDC custom claims.", Body: claimsJSON{}}},
	"GET /api/v2/org/{orgID}/project/{projectID}/oidc-custom-claims":                            {{ID: "getOrgOrgidProjectProjectidOidcCustomClaims", Tag: "OIDC Token Management", Summary: "A project's OIDC custom claims.", Body: claimsJSON{}}},
	"PATCH /api/v2/org/{orgID}/project/{projectID}/oidc-custom-claims":                          {{ID: "patchOrgOrgidProjectProjectidOidcCustomClaims", Tag: "OIDC Token Management", Summary: "Change a project's OIDC custom claims.", Body: claimsJSON{}}},
	"DELETE /api/v2/org/{orgID}/project/{projectID}/oidc-custom-claims":                         {{ID: "deleteOrgOrgidProjectProjectidOidcCustomClaims", Tag: "OIDC Token Management", Summary: "Remove a project's OIDC custom claims.", Body: claimsJSON{}}},
	"GET /api/v2/projects/{project_id}/pipeline-definitions":                                    {{ID: "getProjectsProjectIdPipelineDefinitions", Tag: "Pipeline Definition", Summary: "A project's pipeline definitions.", Body: itemsJSON[definitionJSON]{}}},
	"POST /api/v2/projects/{project_id}/pipeline-definitions":                                   {{ID: "postProjectsProjectIdPipelineDefinitions", Request: definitionBody{}, Tag: "Pipeline Definition", Summary: "Create a pipeline definition.", Body: definitionJSON{}}},
	"GET /api/v2/projects/{project_id}/pipeline-definitions/{pipeline_definition_id}":           {{ID: "getProjectsProjectIdPipelineDefinitionsPipelineDefinitionId", Tag: "Pipeline Definition", Summary: "A pipeline definition.", Body: definitionJSON{}}},
	"PATCH /api/v2/projects/{project_id}/pipeline-definitions/{pipeline_definition_id}":         {{ID: "patchProjectsProjectIdPipelineDefinitionsPipelineDefinitionId", Request: definitionBody{}, Tag: "Pipeline Definition", Summary: "Change a pipeline definition.", Body: definitionJSON{}}},
	"DELETE /api/v2/projects/{project_id}/pipeline-definitions/{pipeline_definition_id}":        {{ID: "deleteProjectsProjectIdPipelineDefinitionsPipelineDefinitionId", Tag: "Pipeline Definition", Summary: "Delete a pipeline definition.", Body: message{}}},
	"GET /api/v2/projects/{project_id}/pipeline-definitions/{pipeline_definition_id}/triggers":  {{ID: "getProjectsProjectIdPipelineDefinitionsPipelineDefinitionIdTriggers", Tag: "Pipeline Definition", Summary: "A pipeline definition's triggers.", Body: itemsJSON[defTriggerJSON]{}}},
	"POST /api/v2/projects/{project_id}/pipeline-definitions/{pipeline_definition_id}/triggers": {{ID: "postProjectsProjectIdPipelineDefinitionsPipelineDefinitionIdTriggers", Request: triggerBody{}, Tag: "Pipeline Definition", Summary: "Create a trigger.", Body: defTriggerJSON{}}},
	"GET /api/v2/projects/{project_id}/triggers/{trigger_id}":                                   {{ID: "getProjectsProjectIdTriggersTriggerId", Tag: "Trigger", Summary: "A trigger.", Body: defTriggerJSON{}}},
	"PATCH /api/v2/projects/{project_id}/triggers/{trigger_id}":                                 {{ID: "patchProjectsProjectIdTriggersTriggerId", Request: triggerBody{}, Tag: "Trigger", Summary: "Change a trigger.", Body: defTriggerJSON{}}},
	"DELETE /api/v2/projects/{project_id}/triggers/{trigger_id}":                                {{ID: "deleteProjectsProjectIdTriggersTriggerId", Tag: "Trigger", Summary: "Delete a trigger.", Body: message{}}},
	"POST /api/v2/projects/{project_id}/rollback":                                               {{ID: "postProjectsProjectIdRollback", Tag: "Deploy", Summary: "Roll back: rerun the pipeline of an earlier version.", Body: rollbackJSON{}, Status: http.StatusAccepted}},
	"GET /api/v2/insights/{a}/{b}/{c}/{d}/{e}":                                                  {{ID: "getInsightsABCDE", Tag: "Insights", Summary: "The insights pages summary (pages/{slug}/summary) or a workflow's runs ({slug}/workflows/{name}).", Extension: true}},
	"GET /api/v2/insights/{vcs}/{org}/{repo}/workflows":                                         {{ID: "getInsightsVcsOrgRepoWorkflows", Tag: "Insights", Summary: "A project's workflows' metrics.", Body: listJSON[namedMetricsJSON[workflowMetricsJSON]]{}}},
	"GET /api/v2/insights/{vcs}/{org}/{repo}/workflows/{workflow}/jobs":                         {{ID: "getInsightsVcsOrgRepoWorkflowsWorkflowJobs", Tag: "Insights", Summary: "A workflow's jobs' metrics.", Body: listJSON[namedMetricsJSON[jobMetricsJSON]]{}}},
	"GET /api/v2/insights/{vcs}/{org}/{repo}/workflows/{workflow}/summary":                      {{ID: "getInsightsVcsOrgRepoWorkflowsWorkflowSummary", Tag: "Insights", Summary: "A workflow's metrics and trends.", Body: workflowSummaryJSON{}}},
	"GET /api/v2/insights/{vcs}/{org}/{repo}/workflows/{workflow}/test-metrics":                 {{ID: "getInsightsVcsOrgRepoWorkflowsWorkflowTestMetrics", Tag: "Insights", Summary: "A workflow's test metrics.", Body: insights.TestMetrics{}}},
	"GET /api/v2/insights/{vcs}/{org}/{repo}/branches":                                          {{ID: "getInsightsVcsOrgRepoBranches", Tag: "Insights", Summary: "A project's branches with runs.", Body: branchesJSON{}}},
	"GET /api/v2/insights/{vcs}/{org}/{repo}/flaky-tests":                                       {{ID: "getInsightsVcsOrgRepoFlakyTests", Tag: "Insights", Summary: "A project's flaky tests.", Body: flakyJSON{}}},
	"GET /api/v2/insights/{vcs}/{org}/{repo}/dashboard":                                         {{ID: "getInsightsVcsOrgRepoDashboard", Tag: "Insights", Summary: "The seed's Insights page figures.", Body: insights.Dashboard{}, Extension: true}},
	"GET /api/v2/insights/time-series/{vcs}/{org}/{repo}/workflows/{workflow}/jobs":             {{ID: "getInsightsTimeSeriesVcsOrgRepoWorkflowsWorkflowJobs", Tag: "Insights", Summary: "A workflow's jobs' metrics over time.", Body: listJSON[seriesJSON]{}}},
	"GET /api/v2/insights/{vcs}/{org}/summary":                                                  {{ID: "getInsightsVcsOrgSummary", Tag: "Insights", Summary: "An organization's projects' metrics.", Body: orgSummaryJSON{}}},
}

func init() {
	for _, f := range featuresOff {
		for _, pattern := range f.routes {
			for i := range moreOperationDocs[pattern] {
				d := &moreOperationDocs[pattern][i]
				d.Off, d.Summary = true, f.feature+" are off on Orbit: "+f.reason+" (docs/API-OFF.md)."
			}
		}
	}
	for pattern, docs := range moreOperationDocs {
		if _, dup := operationDocs[pattern]; dup {
			panic("api: " + pattern + " documented twice")
		}
		operationDocs[pattern] = docs
	}
}
