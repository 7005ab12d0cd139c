package github

import (
	"strings"

	"github.com/orbit-ci/orbit/shared/runner"
)

// DotComKnownHosts are github.com's published SSH host keys
// (https://api.github.com/meta "ssh_keys"; docs.github.com "GitHub's SSH
// key fingerprints"), pinned for checkout as CircleCI pins them.
const DotComKnownHosts = `github.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl
github.com ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBEmKSENjQEezOmxkZMy7opKgwFB9nkt5YRrYMjNuG5N87uRgg6CLrbo5wAdT/y6v0mKV0U2w0WZ2YB/++Tpockg=
github.com ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABgQCj7ndNxQowgcQnjshcLrqPEiiphnt+VTTvDP6mHBL9j1aNUkY4Ue1gvwnGLVlOhGeYrnZaMgRK6+PKCUXaDbC7qtbW8gIkhL7aGCsOr/C56SJMy/BCZfxd1nWzAOxSDPgVsmerOBYfNqltV9/hWCqBywINIR+5dIg6JTJ72pcEpEjcYgXkE2YEFXV1JHnsKgbLWNlhScqb2UmyRkQyytRLtL+38TGxkxCflmO+5Z8CSSNY7GidjMIZ7Q4zMjA2n1nGrlTDkzwDCsw+wqFPGQA179cnfGWOWRVruj16z6XyvxvjJwbz0wQZ75XK5tKSb7FNyeIEs4TT4jk+S4dhPeAUC5y+bDYirYgM4GC7uEnztnZyaVWQ7B381AK4Qdrwt51ZqExKbQpTUNn+EjqoTwvqNj4kqx5QUCI0ThS/YkOxJCXmPUWZbhjpCg56i+2aB6CmK2JGhn57K5mj0MNdBXA4/WnwH6XoPWJzK5Nyu2zB3nAZp+S5hpQs+p1vN1/wsjk=
`

// KnownHosts are the pinned host keys checkout trusts for this
// installation: github.com's published ones, or Config.KnownHosts for
// GitHub Enterprise.
func (d *Driver) KnownHosts() string {
	if d.cfg.KnownHosts != "" {
		return d.cfg.KnownHosts
	}
	if d.IsDotCom() {
		return DotComKnownHosts
	}
	return ""
}

// SSHURL is the SSH clone URL of a repository URL of this installation.
func (d *Driver) SSHURL(repoURL string) (string, error) {
	owner, repo, err := OwnerRepo(repoURL)
	if err != nil {
		return "", err
	}
	return "git@" + d.web.Hostname() + ":" + owner + "/" + repo + ".git", nil
}

// PrepareCheckout makes a task's checkout of a repository of this
// installation use the project's deploy key over SSH with the host keys
// pinned, when the task has the key and host keys are known; otherwise
// the configured token over HTTPS. Other repositories are left alone.
func (d *Driver) PrepareCheckout(co *runner.Checkout) {
	if !d.Owns(co.RepoURL) {
		return
	}
	kh := d.KnownHosts()
	if co.SSHKey != "" && kh != "" && !d.cfg.CheckoutOverHTTPS {
		if u, err := d.SSHURL(co.RepoURL); err == nil {
			co.RepoURL, co.KnownHosts = u, kh
			return
		}
	}
	if strings.HasPrefix(co.RepoURL, "http") {
		co.Token = d.cfg.Token
	}
}
