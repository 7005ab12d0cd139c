package nomadbridge

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/hashicorp/nomad/api"
)

// NomadJobs is the part of *api.Jobs the bridge uses.
type NomadJobs interface {
	List(q *api.QueryOptions) ([]*api.JobListStub, *api.QueryMeta, error)
	Register(job *api.Job, q *api.WriteOptions) (*api.JobRegisterResponse, *api.WriteMeta, error)
	EnforceRegister(job *api.Job, modifyIndex uint64, q *api.WriteOptions) (*api.JobRegisterResponse, *api.WriteMeta, error)
	Info(jobID string, q *api.QueryOptions) (*api.Job, *api.QueryMeta, error)
	Deregister(jobID string, purge bool, q *api.WriteOptions) (string, *api.WriteMeta, error)
}

// NomadAllocations is the part of *api.Allocations the bridge uses: the
// allocation list, watched with blocking queries, and one finished
// allocation read whole for its outcome.
type NomadAllocations interface {
	List(q *api.QueryOptions) ([]*api.AllocationListStub, *api.QueryMeta, error)
	Info(allocID string, q *api.QueryOptions) (*api.Allocation, *api.QueryMeta, error)
}

// NomadVariables is the part of *api.Variables the warm agents use: where
// the bridge records which task each warm agent took (warm_store.go).
type NomadVariables interface {
	CheckedCreate(v *api.Variable, q *api.WriteOptions) (*api.Variable, *api.WriteMeta, error)
	Read(path string, q *api.QueryOptions) (*api.Variable, *api.QueryMeta, error)
	PrefixList(prefix string, q *api.QueryOptions) ([]*api.VariableMetadata, *api.QueryMeta, error)
	Delete(path string, q *api.WriteOptions) (*api.WriteMeta, error)
}

// NomadNodeReader is the part of *api.Nodes the bridge reads: List names
// drained and ineligible nodes in waiting reasons (waiting.go), Info keeps
// a task off a warm agent on such a node (warm.go).
type NomadNodeReader interface {
	List(q *api.QueryOptions) ([]*api.NodeListStub, *api.QueryMeta, error)
	Info(nodeID string, q *api.QueryOptions) (*api.Node, *api.QueryMeta, error)
}

var (
	_ NomadNodeReader  = (*api.Nodes)(nil)
	_ NomadJobs        = (*api.Jobs)(nil)
	_ NomadAllocations = (*api.Allocations)(nil)
	_ NomadVariables   = (*api.Variables)(nil)
)

// Nomad is the bridge's view of a Nomad cluster.
type Nomad struct {
	Jobs        NomadJobs
	Allocations NomadAllocations
	// Evaluations, when set, is watched for blocked evaluations, so a task
	// Nomad cannot place says why it waits (waiting.go).
	Evaluations NomadEvaluations
	// Variables is needed by warm agents (Config.Warm) only.
	Variables NomadVariables
	// Nodes, when set, names drained and ineligible nodes in waiting
	// reasons and keeps tasks off warm agents on such nodes.
	Nodes NomadNodeReader
	// Addr is the cluster's HTTP address, for log lines and errors.
	Addr string
}

// NomadFromClient returns the views of a real Nomad API client.
func NomadFromClient(c *api.Client) Nomad {
	return Nomad{Jobs: c.Jobs(), Allocations: c.Allocations(), Evaluations: c.Evaluations(), Variables: c.Variables(),
		Nodes: c.Nodes(), Addr: c.Address()}
}

// NomadError is a failed Nomad call. Unreachable says whether Nomad could
// not be reached or answered 5xx (try again later) rather than refused the
// request (4xx).
type NomadError struct {
	Addr        string
	Op          string
	Unreachable bool
	Err         error
}

// Error implements error.
func (e *NomadError) Error() string {
	if e.Unreachable {
		return fmt.Sprintf("nomad unreachable at %s: %s: %v", e.Addr, e.Op, e.Err)
	}
	return fmt.Sprintf("nomad at %s refused %s: %v", e.Addr, e.Op, e.Err)
}

// Unwrap returns the underlying error.
func (e *NomadError) Unwrap() error { return e.Err }

func (b *Bridge) nomadErr(op string, err error) error {
	code, ok := nomadStatus(err)
	return &NomadError{Addr: b.cfg.Nomad.Addr, Op: op, Err: err,
		Unreachable: !ok || code >= 500 || code == http.StatusTooManyRequests}
}

// nomadStatus is the HTTP status of a Nomad API error, if it has one.
func nomadStatus(err error) (int, bool) {
	var ue api.UnexpectedResponseError
	if errors.As(err, &ue) && ue.HasStatusCode() {
		return ue.StatusCode(), true
	}
	var pue *api.UnexpectedResponseError
	if errors.As(err, &pue) && pue != nil && pue.HasStatusCode() {
		return pue.StatusCode(), true
	}
	return 0, false
}

func isNotFound(err error) bool {
	code, ok := nomadStatus(err)
	return ok && code == http.StatusNotFound
}

// nomadCallTimeout bounds each Nomad call that is not a blocking query.
const nomadCallTimeout = 30 * time.Second

func (b *Bridge) writeOpts(ctx context.Context) *api.WriteOptions {
	return (&api.WriteOptions{Region: b.cfg.Region}).WithContext(ctx)
}

func (b *Bridge) queryOpts(ctx context.Context) *api.QueryOptions {
	return (&api.QueryOptions{Region: b.cfg.Region}).WithContext(ctx)
}
