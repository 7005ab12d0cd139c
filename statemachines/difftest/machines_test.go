package difftest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/statemachines"
)

// withQueueTasks rewrites every Lambda task of an Orbit machine into an SQS
// sendMessage.waitForTaskToken task on ${Queue}, keeping everything else
// (Retry, Catch, ResultSelector, ResultPath, TimeoutSecondsPath, the control
// flow): the message body is the Lambda payload plus the task token, and the
// test answers it as the conductor would. It returns the definition and,
// for each action, whether its Lambda task was already .waitForTaskToken
// (the conductor answers it directly) or request-response (the test wraps
// the answer in Lambda's invoke output).
func withQueueTasks(t *testing.T, def []byte) ([]byte, map[string]bool) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(def))
	dec.UseNumber()
	var m map[string]any
	require.NoError(t, dec.Decode(&m))
	waits := map[string]bool{}
	var walk func(states map[string]any)
	walk = func(states map[string]any) {
		for name, v := range states {
			st := v.(map[string]any)
			for _, b := range asSlice(st["Branches"]) {
				walk(b.(map[string]any)["States"].(map[string]any))
			}
			for _, k := range []string{"ItemProcessor", "Iterator"} {
				if p, ok := st[k].(map[string]any); ok {
					walk(p["States"].(map[string]any))
				}
			}
			res, _ := st["Resource"].(string)
			if st["Type"] != "Task" || !strings.HasPrefix(res, "arn:aws:states:::lambda:invoke") {
				continue
			}
			params, _ := st["Parameters"].(map[string]any)
			payload, ok := params["Payload"].(map[string]any)
			require.True(t, ok, "state %s: a Lambda task with an object Payload", name)
			action, _ := payload["action"].(string)
			require.NotEmpty(t, action, "state %s: the payload names its action", name)
			body := map[string]any{}
			for k, v := range payload {
				body[k] = v
			}
			body["task_token.$"] = "$$.Task.Token"
			waits[action] = strings.HasSuffix(res, ".waitForTaskToken")
			st["Resource"] = "arn:aws:states:::sqs:sendMessage.waitForTaskToken"
			st["Parameters"] = map[string]any{"QueueUrl": "${Queue}", "MessageBody": body}
		}
	}
	walk(m["States"].(map[string]any))
	out, err := json.Marshal(m)
	require.NoError(t, err)
	require.NotContains(t, strings.ReplaceAll(string(out), "${Queue}", ""), "${", "an unsubstituted reference is left")
	require.NotContains(t, string(out), "arn:aws:lambda:", "a Lambda task is left (moto cannot run Lambda without Docker)")
	require.NotContains(t, string(out), ":::lambda:", "a Lambda task is left (moto cannot run Lambda without Docker)")
	return out, waits
}

func asSlice(v any) []any { s, _ := v.([]any); return s }

// script answers the task messages of an Orbit machine as the conductor
// would: replies[action] is the answer to that action's 1st, 2nd, …
// message (the last one repeats). Request-response Lambda answers are
// wrapped in Lambda's invoke output.
func script(waits map[string]bool, replies map[string][]reply) answerFunc {
	var mu sync.Mutex
	seen := map[string]int{}
	return func(_ int, body map[string]any) reply {
		action, _ := body["action"].(string)
		mu.Lock()
		n := seen[action]
		seen[action]++
		mu.Unlock()
		rs := replies[action]
		if len(rs) == 0 {
			return success(map[string]any{})
		}
		r := rs[min(n, len(rs)-1)]
		if r.err == "" && !r.silence && !waits[action] {
			r.output = map[string]any{"ExecutedVersion": "$LATEST", "Payload": r.output, "StatusCode": 200}
		}
		return r
	}
}

// machineCase is a run of one of Orbit's machines and what it must do.
type machineCase struct {
	name    string
	machine []byte
	input   string
	replies map[string][]reply
	// expected of statemachines/local, besides agreeing with moto
	status  string
	err     string
	actions []string // the task messages' actions, in order
	output  string   // if set, the execution's output
	// motoDiffers says where moto deviates from AWS on this case, and why;
	// the case is not run in moto (its result there is not even stable).
	motoDiffers string
}

// motoRetryNote is the moto deviation that every case retrying a
// .waitForTaskToken task meets.
const motoRetryNote = "moto 5.2.1 creates the task token once per state entry " +
	"(StateTaskServiceCallback._eval_body) and its callback endpoint keeps the first answer, so a retried " +
	".waitForTaskToken attempt sends its message with the same token and fails at once with the first " +
	"attempt's error unless the answer to the new message wins a race with it (and, losing, runs through " +
	"all its retries: up to 62 s for Finish). In AWS a retry runs the task again (ASL " +
	"specification, Retry) and a .waitForTaskToken task pauses until the token's SendTaskSuccess/Failure " +
	"(https://docs.aws.amazon.com/step-functions/latest/dg/connect-to-resource.html#connect-wait-token); " +
	"statemachines/local gives every attempt its own token."

func orbitCases() []machineCase {
	ok := func(v any) []reply { return []reply{success(v)} }
	const pipeline, workflow, job = `{"pipeline_id":"5034460f-c7c4-4c43-9457-de07e2029e7b"}`,
		`{"workflow_id":"wf-1"}`, `{"workflow_id":"wf-1","job_name":"build","timeout_seconds":60}`
	return []machineCase{
		{name: "pipeline-ok", machine: statemachines.Pipeline, input: pipeline,
			replies: map[string][]reply{"fetch_config": ok(map[string]any{"ok": true}), "compile": ok(map[string]any{"ok": true, "ignored": 1})},
			status:  "SUCCEEDED", actions: []string{"fetch_config", "compile", "create_workflows"}},
		{name: "pipeline-no-config", machine: statemachines.Pipeline, input: pipeline,
			replies: map[string][]reply{"fetch_config": ok(map[string]any{"ok": false})},
			status:  "SUCCEEDED", actions: []string{"fetch_config"}},
		{name: "pipeline-config-invalid", machine: statemachines.Pipeline, input: pipeline,
			replies: map[string][]reply{"fetch_config": ok(map[string]any{"ok": true}), "compile": ok(map[string]any{"ok": false})},
			status:  "SUCCEEDED", actions: []string{"fetch_config", "compile"}},
		{name: "pipeline-fetch-retried", machine: statemachines.Pipeline, input: pipeline,
			replies: map[string][]reply{
				"fetch_config": {failure("Lambda.ServiceException", "throttled"), success(map[string]any{"ok": true})},
				"compile":      ok(map[string]any{"ok": true})},
			status: "SUCCEEDED", actions: []string{"fetch_config", "fetch_config", "compile", "create_workflows"}, motoDiffers: motoRetryNote},
		{name: "pipeline-compile-fails", machine: statemachines.Pipeline, input: pipeline,
			// States.TaskFailed in the retrier matches any error but
			// States.Timeout: 3 retries (1+2+4 s), then Catch → Errored.
			replies: map[string][]reply{
				"fetch_config": ok(map[string]any{"ok": true}),
				"compile":      {failure("ConfigStoreDown", "no table")}},
			status: "FAILED", err: "PipelineErrored",
			actions: []string{"fetch_config", "compile", "compile", "compile", "compile", "pipeline_errored"}},
		{name: "workflow-ok", machine: statemachines.Workflow, input: workflow,
			replies: map[string][]reply{"wait_workflow": ok(map[string]any{"status": "success"})},
			status:  "SUCCEEDED", actions: []string{"start_workflow", "wait_workflow", "finalize_workflow"}},
		{name: "workflow-start-retried", machine: statemachines.Workflow, input: workflow,
			replies: map[string][]reply{
				"start_workflow": {failure("Lambda.TooManyRequestsException", "rate"), success(map[string]any{})},
				"wait_workflow":  ok(map[string]any{"status": "failed"})},
			status: "SUCCEEDED", actions: []string{"start_workflow", "start_workflow", "wait_workflow", "finalize_workflow"}, motoDiffers: motoRetryNote},
		{name: "job-ok", machine: statemachines.Job, input: job,
			replies: map[string][]reply{"dispatch": ok(map[string]any{"status": "success", "tasks": 2})},
			status:  "SUCCEEDED", actions: []string{"dispatch", "finish_job"}},
		{name: "job-infrastructure-fail-retried", machine: statemachines.Job, input: job,
			replies: map[string][]reply{"dispatch": {
				failure("InfrastructureFail", "allocation lost"), failure("InfrastructureFail", "node down"),
				success(map[string]any{"status": "success"})}},
			status: "SUCCEEDED", actions: []string{"dispatch", "dispatch", "dispatch", "finish_job"}, motoDiffers: motoRetryNote},
		{name: "job-infrastructure-fail-exhausted", machine: statemachines.Job, input: job,
			// only the first matching retrier counts: after its 2 retries
			// the error goes to Catch, not to the States.TaskFailed retrier
			replies: map[string][]reply{"dispatch": {failure("InfrastructureFail", "allocation lost")}},
			status:  "SUCCEEDED", actions: []string{"dispatch", "dispatch", "dispatch", "finish_job"},
			output: `{"workflow_id":"wf-1","job_name":"build","timeout_seconds":60,"error":{"Error":"InfrastructureFail","Cause":"allocation lost"}}`},
		{name: "job-timeout", machine: statemachines.Job,
			// 3 s: moto, loaded, can take more than a second to send the message
			input:   `{"workflow_id":"wf-1","job_name":"build","timeout_seconds":3}`,
			replies: map[string][]reply{"dispatch": {{silence: true}}},
			// States.Timeout: not retried (States.TaskFailed does not match it), caught
			status: "SUCCEEDED", actions: []string{"dispatch", "finish_job"},
			output: `{"workflow_id":"wf-1","job_name":"build","timeout_seconds":3,"error":{"Error":"States.Timeout","Cause":""}}`},
		{name: "job-finish-retried", machine: statemachines.Job, input: job,
			replies: map[string][]reply{
				"dispatch":   ok(map[string]any{"status": "failed"}),
				"finish_job": {failure("Lambda.ServiceException", "503"), success(nil)}},
			status: "SUCCEEDED", actions: []string{"dispatch", "finish_job", "finish_job"}, motoDiffers: motoRetryNote},
	}
}

// TestOrbitMachines runs Orbit's pipeline, workflow and job machines, with
// their Lambda tasks turned into SQS .waitForTaskToken tasks that the test
// answers as the conductor would, in statemachines/local and in moto: the
// real control flow (Choice on ok, Retry, Catch → Errored,
// TimeoutSecondsPath) must give the same messages, in the same order, and
// the same outcome in both, and the outcome Orbit expects.
func TestOrbitMachines(t *testing.T) {
	t.Parallel()
	m := newMoto(t)
	mcs := orbitCases()
	cases := make([]testCase, 0, len(mcs))
	for _, mc := range mcs {
		def, waits := withQueueTasks(t, mc.machine)
		cases = append(cases, testCase{name: mc.name, definition: def, input: mc.input,
			answers: func() answerFunc { return script(waits, mc.replies) }, realClock: true,
			localOnly: mc.motoDiffers != ""})
	}
	results := runAll(context.Background(), m, cases, len(cases))
	compared := 0
	for _, mc := range mcs {
		if mc.motoDiffers == "" {
			compared++
		}
	}
	for _, mc := range mcs {
		r := results[mc.name]
		t.Run(mc.name, func(t *testing.T) {
			require.NoError(t, r.localErr, "local")
			assert.Equal(t, mc.actions, actions(r.local), "local: task messages")
			assert.Equal(t, mc.status, r.local.Status, "local: %s", r.local)
			assert.Equal(t, mc.err, r.local.Error, "local: %s", r.local)
			if mc.output != "" {
				assert.JSONEq(t, mc.output, string(r.local.Output), "local: output")
			}
			if mc.motoDiffers != "" {
				t.Logf("not run in moto: %s", mc.motoDiffers)
				return
			}
			if m == nil {
				return
			}
			require.NoError(t, r.motoErr, "moto")
			lo, mo := sentCausesAsNull(r.local, mc.replies), sentCausesAsNull(r.moto, mc.replies)
			assert.Equal(t, jsonText(lo.Messages), jsonText(mo.Messages), "task messages: local, moto")
			sameOutcome(t, lo, mo, true)
		})
	}
	t.Logf("%d of %d runs of Orbit's machines compared with moto", compared, len(mcs))
	skipWithoutMoto(t, m)
}

// sentCausesAsNull replaces, in the task messages and the output, the
// Cause of every error object whose cause the test sent with
// SendTaskFailure by null: moto 5.2.1 drops SendTaskFailure's cause
// (StepFunctionResponse.send_task_failure reads only "error"), where AWS
// passes it on to the error output (SendTaskFailure's cause parameter,
// https://docs.aws.amazon.com/step-functions/latest/apireference/API_SendTaskFailure.html).
// statemachines/local keeps it, which the cases' expected outputs check.
func sentCausesAsNull(o outcome, replies map[string][]reply) outcome {
	sent := map[string]bool{}
	for _, rs := range replies {
		for _, r := range rs {
			if r.err != "" {
				sent[r.cause] = true
			}
		}
	}
	var fix func(v any) any
	fix = func(v any) any {
		switch v := v.(type) {
		case map[string]any:
			out := make(map[string]any, len(v))
			for k, e := range v {
				out[k] = fix(e)
			}
			if c, ok := v["Cause"].(string); ok && len(v) == 2 && v["Error"] != nil && sent[c] {
				out["Cause"] = nil
			}
			return out
		case []any:
			out := make([]any, len(v))
			for i, e := range v {
				out[i] = fix(e)
			}
			return out
		}
		return v
	}
	msgs := make([]map[string]any, len(o.Messages))
	for i, m := range o.Messages {
		msgs[i] = fix(m).(map[string]any)
	}
	o.Messages = msgs
	if len(o.Output) > 0 {
		var v any
		if json.Unmarshal(o.Output, &v) == nil {
			o.Output = mustJSON(fix(v))
		}
	}
	return o
}

func actions(o outcome) []string {
	var out []string
	for _, m := range o.Messages {
		out = append(out, fmt.Sprint(m["action"]))
	}
	return out
}

func jsonText(v any) string {
	data, _ := json.MarshalIndent(v, "", "  ")
	return string(data)
}
