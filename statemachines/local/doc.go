// Package local is Orbit's Amazon States Language interpreter: it runs the
// pipeline, workflow and job state machines in the embedded shape, where AWS
// runs them in Step Functions. It imports nothing of Orbit; Lambda functions
// are Go Handlers registered by name, queues are Senders, and executions
// persist through a Store (bbolt via NewBoltStore).
//
// The life of an execution:
//
//	StartExecution(name)  ──(same name+input while RUNNING: same ARN)
//	      │ Snapshot saved, goroutine started
//	      ▼
//	┌─▶ enter state ── InputPath ─▶ Parameters ─▶ run ─▶ ResultSelector ─▶ ResultPath ─▶ OutputPath ─┐
//	│     │ Snapshot                                │                                              │
//	│     │                     Task ──▶ Handler / Sender / child execution                          │
//	│     │                       │ .waitForTaskToken: parked ◀── SendTaskSuccess/Failure(token)    │
//	│     │                       │   (HeartbeatSeconds, TimeoutSeconds; token kept in Snapshot)     │
//	│     │                       └ error ─▶ Retry (back-off on the Clock) ─▶ Catch ─▶ Next          │
//	│     │                     Wait ──▶ Clock timer (deadline in Snapshot)                          │
//	└──── Next ◀──────────────────────────────────────────────────────────────────────────────────────┘
//	      │ End / Succeed / Fail / uncaught error / StopExecution / TimeoutSeconds
//	      ▼
//	SUCCEEDED | FAILED | ABORTED | TIMED_OUT  (removed from the Store, archived by BoltStore)
//
//	Close ──▶ goroutines stop, Snapshots stay ──▶ New + Define + Resume ──▶ same states, same tokens
//
// Semantics follow the Amazon States Language specification and Step
// Functions' observed behaviour: JSONPath through github.com/ohler55/ojg,
// definitions decoded with UseNumber, error names exactly as AWS spells them
// (States.ALL does not catch States.Runtime, States.TaskFailed does not match
// States.Timeout), Retry counters per retrier and per state entry. Inline Map
// and Parallel run their iterations as goroutines of the execution; a resumed
// execution re-enters a Parallel or Map state from its start.
//
// Not supported: JSONata, Distributed Map (ItemReader, ResultWriter,
// tolerated failures), activities, service integrations other than Lambda,
// SQS and Step Functions.
package local
