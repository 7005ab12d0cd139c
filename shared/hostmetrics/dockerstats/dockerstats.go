// Package dockerstats reads the resource use of a host's running
// containers from the Docker Engine API on its unix socket, with net/http
// alone (no Docker SDK: two GET requests do not justify its dependencies).
// The CloudWatch agent has no Docker input on plain EC2, so Orbit's Docker
// host metrics (shared/hostmetrics/dockermetrics) are read with this.
//
//	List   GET /containers/json                          running containers
//	Stats  GET /containers/{id}/stats?stream=false&one-shot=false
//	         one sample; dockerd waits for its second reading (about a
//	         second) so precpu_stats holds the previous one and the CPU
//	         share can be computed from the two
//	Usage  the sample's numbers as `docker stats` shows them (Compute)
//
// The arithmetic is pure (Compute) and follows the Engine API's
// documentation of ContainerStats; it reads cgroup v1 and v2 samples.
// Paths carry no API version: dockerd answers in its own.
package dockerstats

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// DefaultSocket is dockerd's default socket.
const DefaultSocket = "/var/run/docker.sock"

// SocketFromHost returns the socket path of a DOCKER_HOST-style address:
// unix:///var/run/docker.sock or a plain path. Other schemes (tcp://,
// ssh://) are errors: this client speaks to the local engine only.
func SocketFromHost(host string) (string, error) {
	switch {
	case host == "":
		return "", errors.New("docker host: empty (want unix:///path/to/docker.sock)")
	case strings.HasPrefix(host, "unix://"):
		p := strings.TrimPrefix(host, "unix://")
		if p == "" || !strings.HasPrefix(p, "/") {
			return "", fmt.Errorf("docker host %q: want unix:///absolute/path", host)
		}
		return p, nil
	case strings.HasPrefix(host, "/"):
		return host, nil
	}
	return "", fmt.Errorf("docker host %q: only unix sockets are supported (want unix:///path/to/docker.sock)", host)
}

// Config configures a Client.
type Config struct {
	// Socket is the path of dockerd's unix socket (default DefaultSocket).
	Socket string
	// Timeout bounds each request (default 30 s; a stats request takes
	// about a second, as dockerd samples twice).
	Timeout time.Duration
}

// Client reads containers and their stats from one dockerd. It is safe
// for concurrent use.
type Client struct {
	socket string
	http   *http.Client
}

// New returns a client of the engine at cfg.Socket. It does not connect:
// each call does, so a client outlives restarts of dockerd.
func New(cfg Config) (*Client, error) {
	if cfg.Socket == "" {
		cfg.Socket = DefaultSocket
	}
	if !strings.HasPrefix(cfg.Socket, "/") {
		return nil, fmt.Errorf("docker socket %q: want an absolute path", cfg.Socket)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	var d net.Dialer
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return d.DialContext(ctx, "unix", cfg.Socket)
		},
		MaxIdleConnsPerHost: 8,
		IdleConnTimeout:     90 * time.Second,
	}
	return &Client{socket: cfg.Socket, http: &http.Client{Transport: tr, Timeout: cfg.Timeout}}, nil
}

// Socket is the socket path the client reads.
func (c *Client) Socket() string { return c.socket }

// StatusError is an answer of dockerd other than 200 OK: 404 for a
// container that is gone, 500 for the engine's own failures.
type StatusError struct {
	// Request is the method and path, e.g. "GET /containers/json".
	Request string
	// Socket is dockerd's socket.
	Socket string
	// Status is the HTTP status code.
	Status int
	// Message is dockerd's {"message": …}, or the start of the body.
	Message string
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("docker %s on unix://%s: HTTP %d: %s", e.Request, e.Socket, e.Status, e.Message)
}

// Container is a running container as GET /containers/json lists it.
type Container struct {
	// ID is the full container id.
	ID string `json:"Id"`
	// Names are its names, each with a leading slash.
	Names []string `json:"Names"`
	// Image is the image as the container was created from it.
	Image string `json:"Image"`
	// State is "running" for the containers List returns.
	State string `json:"State"`
}

// List returns the running containers (GET /containers/json).
func (c *Client) List(ctx context.Context) ([]Container, error) {
	var out []Container
	if err := c.get(ctx, "/containers/json", nil, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// Stats reads one stats sample of container id and computes its Usage.
// A container that stopped since List answers a *StatusError with status
// 404, or a sample whose counters are empty (then Usage is zero).
func (c *Client) Stats(ctx context.Context, id string) (Usage, error) {
	if id == "" || strings.ContainsAny(id, "/?#") {
		return Usage{}, fmt.Errorf("docker stats: bad container id %q", id)
	}
	var s Sample
	q := url.Values{"stream": {"false"}, "one-shot": {"false"}}
	if err := c.get(ctx, "/containers/"+id+"/stats", q, &s); err != nil {
		return Usage{}, err
	}
	u := Compute(s)
	if u.ID == "" {
		u.ID = id
	}
	return u, nil
}

// get decodes the JSON answer of GET path into out.
func (c *Client) get(ctx context.Context, path string, q url.Values, out any) error {
	req := "GET " + path
	u := "http://docker" + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	r, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return fmt.Errorf("docker %s: %w", req, err)
	}
	resp, err := c.http.Do(r)
	if err != nil {
		return fmt.Errorf("docker %s on unix://%s: %w", req, c.socket, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
		msg := strings.TrimSpace(string(body))
		var m struct {
			Message string `json:"message"`
		}
		if json.Unmarshal(body, &m) == nil && m.Message != "" {
			msg = m.Message
		}
		return &StatusError{Request: req, Socket: c.socket, Status: resp.StatusCode, Message: msg}
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("docker %s on unix://%s: decode the answer: %w", req, c.socket, err)
	}
	return nil
}
