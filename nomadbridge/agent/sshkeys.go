package agent

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/orbit-ci/orbit/shared/runner"
)

// addSSHKeys is the add_ssh_keys step: the project's additional keys named
// by fingerprint (all when none are named) go to ~/.ssh, each used for its
// host through ~/.ssh/config. Orbit's project settings have no SSH keys
// yet: a fingerprint without a key is reported, not fatal.
func (r *taskRun) addSSHKeys(_ int, st runner.Step, out io.Writer) error {
	byFP := map[string]runner.SSHKey{}
	for _, k := range r.spec.SSHKeys {
		byFP[normalizeFingerprint(k.Fingerprint)] = k
	}
	var keys []runner.SSHKey
	if len(st.Fingerprints) == 0 {
		keys = r.spec.SSHKeys
	}
	for _, fp := range st.Fingerprints {
		k, ok := byFP[normalizeFingerprint(fp)]
		if !ok {
			fmt.Fprintf(out, "Warning: no SSH key with fingerprint %s is configured for this project; it was not added.\n", fp)
			continue
		}
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		_, err := fmt.Fprintln(out, "No additional SSH keys to install (add them in the project's settings).")
		return err
	}
	dir := filepath.Join(r.home, ".ssh")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("add_ssh_keys: %w", err)
	}
	var cfg strings.Builder
	for _, k := range keys {
		if k.PrivateKey == "" {
			return errors.New("add_ssh_keys: a configured key has no private key")
		}
		name := "id_rsa_" + strings.NewReplacer(":", "", "/", "_", "+", "-", "=", "").Replace(normalizeFingerprint(k.Fingerprint))
		p := filepath.Join(dir, name)
		body := k.PrivateKey
		if !strings.HasSuffix(body, "\n") {
			body += "\n"
		}
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			return fmt.Errorf("add_ssh_keys: %w", err)
		}
		host := k.Hostname
		if host == "" {
			host = "*"
		}
		fmt.Fprintf(&cfg, "Host %s\n  IdentityFile %s\n", host, p)
		fmt.Fprintf(out, "Installed key %s for %s\n", k.Fingerprint, host)
	}
	f, err := os.OpenFile(filepath.Join(dir, "config"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("add_ssh_keys: %w", err)
	}
	_, werr := f.WriteString(cfg.String())
	if err := errors.Join(werr, f.Close()); err != nil {
		return fmt.Errorf("add_ssh_keys: %w", err)
	}
	return nil
}

// normalizeFingerprint compares MD5 fingerprints with or without colons
// and SHA256 ones with or without their prefix.
func normalizeFingerprint(fp string) string {
	fp = strings.TrimSpace(fp)
	if s, ok := strings.CutPrefix(fp, "SHA256:"); ok {
		return "SHA256:" + s
	}
	return strings.ToLower(strings.ReplaceAll(strings.TrimPrefix(fp, "MD5:"), ":", ""))
}
