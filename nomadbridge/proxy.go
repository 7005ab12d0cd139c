package nomadbridge

import (
	"net/url"
	"strings"
)

// ProxyEnv is the corporate proxy configuration (the seed's "Corporate
// Proxies"): the bridge's own clients honour it through the standard
// HTTP_PROXY, HTTPS_PROXY and NO_PROXY variables, and it passes it on to
// build agents and their steps in both spellings. The runner API's host is
// always added to NO_PROXY: calls between Orbit's own machines must not go
// through the proxy.
type ProxyEnv struct {
	HTTP, HTTPS, No string
}

// ProxyFromEnvironment reads the proxy variables (upper case first, as Go's
// net/http does).
func ProxyFromEnvironment(getenv func(string) string) ProxyEnv {
	get := func(name string) string {
		if v := getenv(name); v != "" {
			return v
		}
		return getenv(strings.ToLower(name))
	}
	return ProxyEnv{HTTP: get("HTTP_PROXY"), HTTPS: get("HTTPS_PROXY"), No: get("NO_PROXY")}
}

// env adds the proxy variables for a task whose agent calls runnerURL.
func (p ProxyEnv) env(runnerURL string, env map[string]string) {
	if p.HTTP == "" && p.HTTPS == "" {
		return
	}
	no := p.No
	if u, err := url.Parse(runnerURL); err == nil && u.Hostname() != "" && !listed(no, u.Hostname()) {
		if no != "" {
			no += ","
		}
		no += u.Hostname()
	}
	for name, v := range map[string]string{"HTTP_PROXY": p.HTTP, "HTTPS_PROXY": p.HTTPS, "NO_PROXY": no} {
		if v != "" {
			env[name], env[strings.ToLower(name)] = v, v
		}
	}
}

func listed(list, host string) bool {
	for _, h := range strings.Split(list, ",") {
		if strings.TrimSpace(h) == host {
			return true
		}
	}
	return false
}
