package agent

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/orbit-ci/orbit/shared/runner"
)

// SSH for steps. HOME is the task's directory, but OpenSSH reads ~/.ssh
// from the user's passwd entry, not from HOME; so the agent keeps the
// task's SSH setup in $HOME/.ssh/config and puts an `ssh` wrapper first in
// the steps' PATH that passes `-F` with it. git (checkout included) and the
// user's own ssh commands go through it. The config trusts a host's key on
// first use, in the task's own known_hosts, and offers the project's
// checkout key to every host, as CircleCI's checkout does with id_rsa.
const sshConfigHead = `# Written by the Orbit build agent for this task.
Host *
  UserKnownHostsFile %[1]s/known_hosts
  StrictHostKeyChecking accept-new
  BatchMode yes
`

// installSSH writes $HOME/.ssh/config (with the checkout key, if the
// project has one) and the ssh wrapper. Without an ssh client on the
// machine it does nothing: SSH URLs then fail in git with its own message.
func (r *taskRun) installSSH() error {
	real, err := lookPath("ssh", r.cfg.BaseEnv)
	if err != nil {
		return nil
	}
	dir := filepath.Join(r.home, ".ssh")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("agent: %w", err)
	}
	cfg := fmt.Sprintf(sshConfigHead, dir)
	if kh := r.spec.Checkout.KnownHosts; kh != "" {
		// Pinned host keys: accept-new never replaces a known key, so a
		// host presenting another one is refused.
		if err := os.WriteFile(filepath.Join(dir, "known_hosts"), []byte(withNewline(kh)), 0o600); err != nil {
			return fmt.Errorf("agent: write known_hosts: %w", err)
		}
	}
	if key := r.spec.Checkout.SSHKey; key != "" {
		p := filepath.Join(dir, "id_checkout")
		if err := os.WriteFile(p, []byte(withNewline(key)), 0o600); err != nil {
			return fmt.Errorf("agent: write checkout key: %w", err)
		}
		cfg += "  IdentityFile " + p + "\n"
	}
	if err := os.WriteFile(filepath.Join(dir, "config"), []byte(cfg), 0o600); err != nil {
		return fmt.Errorf("agent: %w", err)
	}
	wrapper := "#!/bin/sh\nexec " + shellQuote(real) + ` -F "$HOME/.ssh/config" "$@"` + "\n"
	if err := os.WriteFile(filepath.Join(r.bin, "ssh"), []byte(wrapper), 0o755); err != nil {
		return fmt.Errorf("agent: %w", err)
	}
	return nil
}

// lookPath finds a program on the PATH of env (the steps' environment),
// else on the agent's own.
func lookPath(name string, env []string) (string, error) {
	for _, kv := range env {
		if dirs, ok := strings.CutPrefix(kv, "PATH="); ok {
			for _, d := range filepath.SplitList(dirs) {
				p := filepath.Join(d, name)
				if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
					return p, nil
				}
			}
		}
	}
	return exec.LookPath(name)
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

func withNewline(s string) string {
	if !strings.HasSuffix(s, "\n") {
		s += "\n"
	}
	return s
}

// addSSHKeys is the add_ssh_keys step: the project's additional keys named
// by fingerprint, SHA256 or MD5 (all when none are named), go to ~/.ssh,
// each used for its host through ~/.ssh/config. A fingerprint the project
// has no key for is reported, not fatal.
func (r *taskRun) addSSHKeys(_ int, st runner.Step, out io.Writer) error {
	byFP := map[string]runner.SSHKey{}
	for _, k := range r.spec.SSHKeys {
		byFP[normalizeFingerprint(k.Fingerprint)] = k
		if k.MD5 != "" {
			byFP[normalizeFingerprint(k.MD5)] = k
		}
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
		if err := os.WriteFile(p, []byte(withNewline(k.PrivateKey)), 0o600); err != nil {
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
