package taskfiles_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/orbit-ci/orbit/shared/blob"
	"github.com/orbit-ci/orbit/shared/taskfiles"
)

func TestServedHeaders(t *testing.T) {
	tests := []struct {
		name, stored, path string
		allowUnsafe        bool
		want               blob.ResponseHeaders
	}{
		{"html as plain text", "text/html", "site/index.html", false, blob.ResponseHeaders{ContentType: "text/plain; charset=utf-8"}},
		{"svg as plain text", "image/svg+xml", "a.svg", false, blob.ResponseHeaders{ContentType: "text/plain; charset=utf-8"}},
		{"png as is", "image/png", "shot.png", false, blob.ResponseHeaders{ContentType: "image/png"}},
		{"unknown as a download", "application/x-executable", "bin/app name", false,
			blob.ResponseHeaders{ContentType: "application/octet-stream", ContentDisposition: `attachment; filename="app name"`}},
		{"a name that is not ASCII", "application/zip", "out/résumé.zip", false,
			blob.ResponseHeaders{ContentType: "application/octet-stream", ContentDisposition: `attachment; filename*=utf-8''r%C3%A9sum%C3%A9.zip`}},
		{"a quote in the name", "application/zip", `out/a"b.zip`, false,
			blob.ResponseHeaders{ContentType: "application/octet-stream", ContentDisposition: `attachment; filename="a\"b.zip"`}},
		{"unparseable type", "not a type", "x", false,
			blob.ResponseHeaders{ContentType: "application/octet-stream", ContentDisposition: `attachment; filename=x`}},
		{"unsafe allowed", "text/html", "site/index.html", true, blob.ResponseHeaders{ContentType: "text/html"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, taskfiles.ServedHeaders(tc.stored, tc.allowUnsafe, tc.path))
		})
	}
}
