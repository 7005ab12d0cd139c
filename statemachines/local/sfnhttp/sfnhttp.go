// Package sfnhttp serves a statemachines/local Engine over the Step
// Functions API (the awsJson1_0 protocol of aws-sdk-go-v2/service/sfn), so
// that processes which speak to Step Functions (the api and conductor
// Lambdas of the aws shape) can run against the local interpreter: the
// emulated AWS shape of the end-to-end test points their Step Functions
// endpoint here. Requests are not authenticated.
//
// Operations: StartExecution, SendTaskSuccess, SendTaskFailure,
// SendTaskHeartbeat, StopExecution, DescribeExecution; errors carry
// Step Functions' names (TaskDoesNotExist, TaskTimedOut, InvalidToken,
// ExecutionAlreadyExists, StateMachineDoesNotExist, ExecutionDoesNotExist,
// InvalidName, InvalidExecutionInput, InvalidOutput).
package sfnhttp

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/orbit-ci/orbit/statemachines/local"
)

// maxRequest bounds a request body (Step Functions' payloads are at most
// 256 KiB).
const maxRequest = 1 << 20

// Handler serves e's Step Functions API.
func Handler(e *local.Engine) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		op, ok := strings.CutPrefix(r.Header.Get("X-Amz-Target"), "AWSStepFunctions.")
		if r.Method != http.MethodPost || !ok {
			writeError(w, http.StatusBadRequest, "UnknownOperationException", "want POST with X-Amz-Target: AWSStepFunctions.<Operation>")
			return
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, maxRequest))
		if err != nil {
			writeError(w, http.StatusBadRequest, "SerializationException", err.Error())
			return
		}
		var in struct {
			StateMachineArn, Name, Input, ExecutionArn string
			TaskToken, Output, Error, Cause            string
		}
		if err := json.Unmarshal(body, &in); err != nil {
			writeError(w, http.StatusBadRequest, "SerializationException", err.Error())
			return
		}
		ctx := r.Context()
		var out any = struct{}{}
		switch op {
		case "StartExecution":
			input := in.Input
			if input == "" {
				input = "{}"
			}
			var arn string
			if arn, err = e.StartExecution(ctx, in.StateMachineArn, in.Name, json.RawMessage(input)); err == nil {
				d, derr := e.DescribeExecution(ctx, arn)
				out = map[string]any{"executionArn": arn, "startDate": epoch(d.StartDate.UnixMilli(), derr)}
			}
		case "SendTaskSuccess":
			err = e.SendTaskSuccess(ctx, in.TaskToken, json.RawMessage(in.Output))
		case "SendTaskFailure":
			err = e.SendTaskFailure(ctx, in.TaskToken, in.Error, in.Cause)
		case "SendTaskHeartbeat":
			err = e.SendTaskHeartbeat(ctx, in.TaskToken)
		case "StopExecution":
			err = e.StopExecution(ctx, in.ExecutionArn, in.Error, in.Cause)
		case "DescribeExecution":
			var d local.Execution
			if d, err = e.DescribeExecution(ctx, in.ExecutionArn); err == nil {
				out = describe(d)
			}
		default:
			writeError(w, http.StatusBadRequest, "UnknownOperationException", "operation "+op+" is not served")
			return
		}
		if err != nil {
			writeError(w, http.StatusBadRequest, errorName(err), err.Error())
			return
		}
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		_ = json.NewEncoder(w).Encode(out)
	})
}

func epoch(ms int64, err error) float64 {
	if err != nil {
		return 0
	}
	return float64(ms) / 1000
}

func describe(d local.Execution) map[string]any {
	m := map[string]any{
		"executionArn": d.ExecutionArn, "stateMachineArn": d.StateMachineArn, "name": d.Name,
		"status": d.Status, "input": string(d.Input), "startDate": float64(d.StartDate.UnixMilli()) / 1000,
	}
	if d.Status == local.StatusSucceeded {
		m["output"] = string(d.Output)
	}
	if d.Error != "" || d.Cause != "" {
		m["error"], m["cause"] = d.Error, d.Cause
	}
	if !d.StopDate.IsZero() {
		m["stopDate"] = float64(d.StopDate.UnixMilli()) / 1000
	}
	return m
}

// errorName is the Step Functions error of an engine error.
func errorName(err error) string {
	for _, e := range []struct {
		err  error
		name string
	}{
		{local.ErrTaskDoesNotExist, "TaskDoesNotExist"},
		{local.ErrTaskTimedOut, "TaskTimedOut"},
		{local.ErrInvalidToken, "InvalidToken"},
		{local.ErrExecutionAlreadyExists, "ExecutionAlreadyExists"},
		{local.ErrStateMachineDoesNotExist, "StateMachineDoesNotExist"},
		{local.ErrExecutionDoesNotExist, "ExecutionDoesNotExist"},
		{local.ErrInvalidName, "InvalidName"},
		{local.ErrInvalidExecutionInput, "InvalidExecutionInput"},
		{local.ErrInvalidOutput, "InvalidOutput"},
	} {
		if errors.Is(err, e.err) {
			return e.name
		}
	}
	return "InternalFailure"
}

func writeError(w http.ResponseWriter, status int, name, msg string) {
	if name == "InternalFailure" {
		status = http.StatusInternalServerError
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"__type": "com.amazonaws.swf.service.v2.model#" + name, "message": msg})
}
