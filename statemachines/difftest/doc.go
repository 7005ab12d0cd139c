// Package difftest checks statemachines/local against an independent Step
// Functions implementation: moto's ASL engine (moto_server with
// {"stepfunctions":{"execute_state_machine":true}}). Its tests run every
// golden fixture of statemachines/local/testdata/fixtures, and Orbit's own
// pipeline, workflow and job machines with their Lambda tasks turned into
// SQS .waitForTaskToken tasks that the test answers, in both engines, and
// require the same output or the same error.
//
// A fixture where moto deviates from AWS carries a note,
//
//	"moto": {"differs": "what moto does, and the AWS documentation that says otherwise"}
//
// and only the comparison with moto is skipped for it; the golden check
// against statemachines/local still runs (here and in local's own tests),
// and a note that has gone stale (moto now gives the golden outcome) fails
// the test so that it is removed.
//
// The tests need ORBIT_MOTO_ENDPOINT (make test sets it); without it they
// skip, or fail when CI is set.
package difftest
