package agent

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/orbit-ci/orbit/shared/cacerts"
	"github.com/orbit-ci/orbit/shared/runner"
)

// installCABundle writes, when CACertDir is set, the system's roots plus
// the extra certificates to one bundle in the task directory, and points
// the steps' usual TLS clients at it: OpenSSL and Go (SSL_CERT_FILE), curl
// (CURL_CA_BUNDLE), git (GIT_SSL_CAINFO), Python requests
// (REQUESTS_CA_BUNDLE); Node.js adds the extra ones (NODE_EXTRA_CA_CERTS).
// The job's own environment may override any of them.
func (r *taskRun) installCABundle() error {
	if r.cfg.CACertDir == "" {
		return nil
	}
	bundle, err := cacerts.Bundle(r.cfg.CACertDir)
	if err != nil {
		return fmt.Errorf("agent: %w", err)
	}
	extra, err := cacerts.Extra(r.cfg.CACertDir)
	if err != nil {
		return fmt.Errorf("agent: %w", err)
	}
	bundlePath := filepath.Join(r.cfg.BaseDir, "ca-bundle.pem")
	extraPath := filepath.Join(r.cfg.BaseDir, "ca-extra.pem")
	for p, b := range map[string][]byte{bundlePath: bundle, extraPath: extra} {
		if err := os.WriteFile(p, b, 0o644); err != nil {
			return fmt.Errorf("agent: write CA bundle: %w", err)
		}
	}
	for _, name := range []string{"SSL_CERT_FILE", "CURL_CA_BUNDLE", "GIT_SSL_CAINFO", "REQUESTS_CA_BUNDLE"} {
		r.caEnv = append(r.caEnv, runner.EnvVar{Name: name, Value: bundlePath})
	}
	r.caEnv = append(r.caEnv, runner.EnvVar{Name: "NODE_EXTRA_CA_CERTS", Value: extraPath})
	return nil
}
