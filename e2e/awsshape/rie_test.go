package awsshape

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/orbit-ci/orbit/shared/testenv"
)

// invokePath is the emulator's Invoke endpoint (it serves one function,
// named "function").
const invokePath = "/2015-03-31/functions/function/invocations"

// maxInvokePayload is Lambda's limit on a synchronous invocation's request
// and response.
const maxInvokePayload = 6 * 1024 * 1024

// function is a pool of emulators running one bootstrap: the emulator
// serves one invocation at a time, as one Lambda execution environment
// does, so concurrency is more environments, as in Lambda.
type function struct {
	name string
	idle chan string // base URLs of idle emulators
	logs []*testenv.Buffer

	mu       sync.Mutex
	calls    int
	busy     time.Duration
	maxBytes int
}

// startFunction starts n emulators of the bootstrap bin/lambdas-host/<name>
// with env, and waits until each listens.
func startFunction(t testing.TB, name string, n int, env []string) *function {
	t.Helper()
	rie := testenv.Need(t, "ORBIT_RIE_BIN", "make test installs aws-lambda-rie into bin/")
	dir := testenv.Need(t, "ORBIT_LAMBDA_HOST_DIR", "make test builds the bootstraps (make lambdas-host)")
	boot := filepath.Join(dir, name, "bootstrap")
	_, err := os.Stat(boot)
	require.NoError(t, err, "run make lambdas-host")
	f := &function{name: name, idle: make(chan string, n)}
	for i := range n {
		addr, api := freeAddr(t), freeAddr(t)
		log := &testenv.Buffer{}
		f.logs = append(f.logs, log)
		start := func() (*exec.Cmd, error) {
			cmd := exec.Command(rie, "--runtime-interface-emulator-address", addr, "--runtime-api-address", api, boot)
			cmd.Env = append(os.Environ(), env...)
			cmd.Stdout, cmd.Stderr = log, log
			return cmd, cmd.Start()
		}
		// The emulator itself sometimes crashes under load (a nil pointer
		// in rapidcore's Invoke, seen at load average 14): the environment
		// is then replaced with a cold one on the same addresses, as the
		// Lambda service replaces a failed execution environment.
		var mu sync.Mutex
		stopped := false
		cmd, err := start()
		require.NoError(t, err)
		exited := make(chan struct{})
		go func() {
			defer close(exited)
			for {
				mu.Lock()
				c := cmd
				mu.Unlock()
				began := time.Now()
				_ = c.Wait()
				if time.Since(began) < time.Second {
					time.Sleep(time.Second) // an emulator that cannot run is not restarted in a tight loop
				}
				mu.Lock()
				if stopped {
					mu.Unlock()
					return
				}
				fmt.Fprintf(log, "--- the emulator exited (%v): a new execution environment starts\n", c.ProcessState)
				next, err := start()
				if err != nil {
					fmt.Fprintf(log, "--- the new environment did not start: %v\n", err)
					mu.Unlock()
					return
				}
				cmd = next
				mu.Unlock()
			}
		}()
		t.Cleanup(func() {
			mu.Lock()
			stopped = true
			_ = cmd.Process.Kill()
			mu.Unlock()
			<-exited
			if t.Failed() {
				t.Logf("%s[%d] log:\n%s", name, i, log.String())
			}
		})
		waitListen(t, addr)
		f.idle <- "http://" + addr
	}
	return f
}

func freeAddr(t testing.TB) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().String()
}

func waitListen(t testing.TB, addr string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("nothing listens on %s after 30s", addr)
}

// invoke runs one invocation on an idle environment. It returns the
// response body and the emulator's headers (X-Amz-Function-Error).
func (f *function) invoke(ctx context.Context, payload []byte) ([]byte, http.Header, error) {
	var base string
	select {
	case base = <-f.idle:
	case <-ctx.Done():
		return nil, nil, ctx.Err()
	}
	defer func() { f.idle <- base }()
	start := time.Now()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+invokePath, bytes.NewReader(payload))
	if err != nil {
		return nil, nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, nil, fmt.Errorf("invoke %s: %w", f.name, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	took := time.Since(start)
	f.mu.Lock()
	f.calls++
	f.busy += took
	f.maxBytes = max(f.maxBytes, len(body), len(payload))
	f.mu.Unlock()
	if err != nil {
		return nil, nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, nil, fmt.Errorf("invoke %s: HTTP %d: %s", f.name, resp.StatusCode, body)
	}
	if len(body) > maxInvokePayload {
		return nil, nil, fmt.Errorf("invoke %s: response of %d bytes is over Lambda's 6 MB limit", f.name, len(body))
	}
	return body, resp.Header, nil
}

// stats returns the invocations so far and their summed duration.
func (f *function) stats() (int, time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls, f.busy
}

// RoundTrip lets statemachines/local's HTTPInvoker call the pool: every
// request goes to an idle environment, whatever its URL.
func (f *function) RoundTrip(r *http.Request) (*http.Response, error) {
	payload, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, err
	}
	body, h, err := f.invoke(r.Context(), payload)
	if err != nil {
		return nil, err
	}
	return &http.Response{StatusCode: http.StatusOK, Header: h, Body: io.NopCloser(bytes.NewReader(body)),
		ContentLength: int64(len(body)), Request: r}, nil
}

// log is what the function's environments printed.
func (f *function) log() string {
	var b bytes.Buffer
	for _, l := range f.logs {
		b.WriteString(l.String())
	}
	return b.String()
}
