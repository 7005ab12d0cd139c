package stack

import (
	"archive/zip"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"
)

// Synthesizing through jsii takes seconds, so every assertion test shares
// one stack, built once with settings that exercise every optional part
// (domain, LDAP, working hours, proxy, public VM access).
var (
	built *Stack
	tmpl  assertions.Template
	// resources is template's JSON, for assertions Template cannot say.
	resources map[string]resource
	settings  Settings
)

type resource struct {
	Type       string         `json:"Type"`
	Properties map[string]any `json:"Properties"`
}

// testContext is the context of the shared stack.
var testContext = map[string]any{
	"region":                   "eu-west-1",
	"account":                  "123456789012",
	"domain":                   "ci.example.com",
	"certificateArn":           "arn:aws:acm:eu-west-1:123456789012:certificate/0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b",
	"nomadClientMin":           "1",
	"nomadClientMax":           "8",
	"nomadClientWorkingMin":    "3",
	"nomadClientTimeZone":      "Europe/Paris",
	"nomadClientDemandScaling": "true",
	"buildSshCidr":             "10.20.0.0/16",
	"retentionDays":            "45",
	"auth":                     "ldap",
	"ldapUrl":                  "ldaps://ldap.example.com:636",
	"ldapSearchUser":           "cn=admin,dc=example,dc=org",
	"ldapUserSearchDn":         "ou=users,dc=example,dc=org",
	"httpProxy":                "http://proxy.internal:3128",
	"vmPublicAccess":           "true",
	"alarmEmail":               "ops@example.com",
}

func TestMain(m *testing.M) {
	code, err := run(m)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		code = 1
	}
	jsii.Close()
	os.Exit(code)
}

func run(m *testing.M) (int, error) {
	dir, err := os.MkdirTemp("", "orbit-infra-test")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	art, err := placeholderArtifacts(dir)
	if err != nil {
		return 0, err
	}
	settings, err = SettingsFromContext(func(k string) (any, bool) { v, ok := testContext[k]; return v, ok }, func(string) string { return "" })
	if err != nil {
		return 0, err
	}
	app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(filepath.Join(dir, "cdk.out"))})
	built, err = New(app, "OrbitTest", settings, art)
	if err != nil {
		return 0, err
	}
	tmpl = assertions.Template_FromStack(built.Stack, nil)
	if err := decodeResources(); err != nil {
		return 0, err
	}
	return m.Run(), nil
}

// placeholderArtifacts writes stand-ins for the deployable files, named so
// that nobody mistakes them for real ones: each Lambda zip holds a
// bootstrap that only says it is a placeholder. They exist only in tests;
// a real synth without `make lambdas` fails (TestArtifactsCheck).
func placeholderArtifacts(dir string) (Artifacts, error) {
	a := Artifacts{
		LambdaDir:   filepath.Join(dir, "lambdas"),
		OrbitBinary: filepath.Join(dir, "placeholder-orbit-not-deployable"),
		AgentBinary: filepath.Join(dir, "placeholder-orbit-agent-not-deployable"),
		NomadBinary: filepath.Join(dir, "placeholder-nomad-not-deployable"),
	}
	if err := os.MkdirAll(a.LambdaDir, 0o755); err != nil {
		return a, err
	}
	for _, name := range Functions {
		f, err := os.Create(filepath.Join(a.LambdaDir, name+".zip"))
		if err != nil {
			return a, err
		}
		z := zip.NewWriter(f)
		w, err := z.Create("bootstrap")
		if err == nil {
			_, err = fmt.Fprintf(w, "#!/bin/sh\necho 'placeholder %s for infra tests, not deployable: run make lambdas' >&2\nexit 1\n", name)
		}
		if err == nil {
			err = z.Close()
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return a, err
		}
	}
	for _, p := range []string{a.OrbitBinary, a.AgentBinary, a.NomadBinary} {
		if err := os.WriteFile(p, []byte("placeholder for infra tests, not deployable\n"), 0o755); err != nil {
			return a, err
		}
	}
	return a, nil
}
