// Package awsshape is the AWS-shape end-to-end test (issue 10, section 6):
// Orbit as it runs in AWS, as close to AWS as this machine allows.
//
//	test (HTTP) ─▶ front ──APIGW v2 event──▶ api bootstrap under aws-lambda-rie ─┐
//	                 ▲                                                            │ DynamoDB, S3, SQS,
//	orbit bridge ────┘ runner API                                                 │ KMS, Secrets Manager,
//	  │  (own process, real Nomad agent, SQS run queue)                           ├─▶ counting proxy ─▶ moto_server
//	  └─▶ Nomad ─▶ orbit agent ─▶ front / presigned S3 URLs ──────────────────────┘
//	statemachines/local (in this test binary, served as Step Functions by sfnhttp)
//	  └─ lambda:invoke ─▶ conductor bootstrap under aws-lambda-rie (Invoke API)
//
// The orchestrator lives in the test binary: in AWS it is Step Functions, a
// managed service and not an Orbit process, so here it is part of the
// emulated cloud, like moto_server; in process, the test reads its history
// (states entered = Step Functions transitions) without another API.
//
// Everything is a test file: the package has no code outside tests.
package awsshape
