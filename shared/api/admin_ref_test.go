package api

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestBuildRef(t *testing.T) {
	tests := []struct {
		name, url, slug string
		number          int64
		bad             string
	}{
		{name: "seed's example", url: "https://my-circleci-hostname.com/gh/my-org/my-project/1234", slug: "gh/my-org/my-project", number: 1234},
		{name: "job path", url: "http://127.0.0.1:8080/api/v2/project/local/acme/api/job/7", slug: "local/acme/api", number: 7},
		{name: "trailing slash", url: "http://h/local/acme/api/3/", slug: "local/acme/api", number: 3},
		{name: "no number", url: "http://h/gh/o/r/x", bad: "not a build number"},
		{name: "too short", url: "http://h/o/r/1", bad: "want"},
		{name: "empty", url: "", bad: "not a build URL"},
		{name: "zero", url: "http://h/gh/o/r/0", bad: "not a build number"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			slug, n, err := buildRef(tc.url)
			if tc.bad != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.bad)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.slug, slug)
			assert.Equal(t, tc.number, n)
		})
	}
}
