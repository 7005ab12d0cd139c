package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/orbit-ci/orbit/nomadbridge/vmpool/dockertls"
	"github.com/orbit-ci/orbit/shared/runner"
)

// setupRemoteDocker is the setup_remote_docker step. With the engine the
// bridge leased (Config.RemoteDocker) it writes the job's client material
// to DOCKER_CERT_PATH (ca.pem, cert.pem, key.pem; only the job's user
// reads them), points the later steps at the engine (DOCKER_HOST,
// DOCKER_TLS_VERIFY=1, DOCKER_CERT_PATH), and waits until the engine
// answers GET /_ping over TLS with that material: its VM may still be
// booting. The material never appears in the output.
func (r *taskRun) setupRemoteDocker(_ int, _ runner.Step, out io.Writer) error {
	rd := r.cfg.RemoteDocker
	if rd == nil {
		_, err := fmt.Fprintln(out, "setup_remote_docker: no remote Docker engine was leased for this job (this Orbit has no VM pool, "+
			"or the bridge could not ask for one), so none was created.\n"+
			"The step does nothing: docker commands in later steps reach the Docker engine of the machine the job runs on, if it has one.")
		return err
	}
	u, err := url.Parse(rd.Host)
	if err != nil || u.Scheme != "tcp" || u.Host == "" {
		return fmt.Errorf("the remote Docker engine's address %q is not tcp://host:port", rd.Host)
	}
	host, _, err := net.SplitHostPort(u.Host)
	if err != nil {
		return fmt.Errorf("the remote Docker engine's address %q has no port", rd.Host)
	}
	tlsCfg, err := dockertls.ClientConfig(rd.Client, host)
	if err != nil {
		return fmt.Errorf("the remote Docker engine's client certificate: %w", err)
	}
	dir := filepath.Join(r.tmp, "docker-certs")
	if err := writeCerts(dir, rd.Client); err != nil {
		return err
	}
	if rd.Notice != "" {
		fmt.Fprintln(out, rd.Notice)
	}
	fmt.Fprintf(out, "Remote Docker engine: %s (TLS, client certificate in %s)\nWaiting for the engine to answer...\n", rd.Host, dir)
	wait := rd.Wait
	if wait <= 0 {
		wait = 5 * time.Minute
	}
	ctx, cancel := context.WithTimeout(r.ctx, wait)
	defer cancel()
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: tlsCfg, Proxy: nil}, Timeout: 10 * time.Second}
	defer client.CloseIdleConnections()
	var last error
	for {
		version, err := ping(ctx, client, "https://"+u.Host+"/_ping")
		if err == nil {
			fmt.Fprintf(out, "The remote Docker engine answered (API version %s). Later steps use it: DOCKER_HOST=%s\n", orUnknown(version), rd.Host)
			break
		}
		last = err
		select {
		case <-ctx.Done():
			if r.ctx.Err() != nil {
				return r.ctx.Err()
			}
			return fmt.Errorf("the remote Docker engine at %s did not answer within %s: %v", rd.Host, wait, last)
		case <-time.After(time.Second):
		}
	}
	r.mu.Lock()
	r.dockerEnv = []runner.EnvVar{{Name: "DOCKER_HOST", Value: rd.Host}, {Name: "DOCKER_TLS_VERIFY", Value: "1"},
		{Name: "DOCKER_CERT_PATH", Value: dir}}
	r.mu.Unlock()
	return nil
}

// ping asks a Docker engine's /_ping; it returns the engine's API version.
func ping(ctx context.Context, c *http.Client, u string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return "", err
	}
	res, err := c.Do(req)
	if err != nil {
		return "", err
	}
	defer res.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 1<<10))
	if res.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET /_ping: %s", res.Status)
	}
	return res.Header.Get("Api-Version"), nil
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

// writeCerts writes the client material as the Docker CLI reads it.
func writeCerts(dir string, m dockertls.Material) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create DOCKER_CERT_PATH: %w", err)
	}
	var errs []error
	for name, v := range map[string]string{dockertls.FileCA: m.CA, dockertls.FileCert: m.Cert, dockertls.FileKey: m.Key} {
		errs = append(errs, os.WriteFile(filepath.Join(dir, name), []byte(v), 0o600))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("write DOCKER_CERT_PATH: %w", err)
	}
	return nil
}
