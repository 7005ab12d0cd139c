package awsshape

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// projectsEvent is an API Gateway v2 event for GET /api/v2/projects (one
// DynamoDB query): a warm request of the api function.
var projectsEvent = []byte(`{"version":"2.0","routeKey":"$default","rawPath":"/api/v2/projects","headers":{"host":"api.example"},` +
	`"requestContext":{"domainName":"api.example","http":{"method":"GET","path":"/api/v2/projects","protocol":"HTTP/1.1","sourceIp":"127.0.0.1"}}}`)

// BenchmarkLambdaColdStart: the api function's cold start (a fresh
// emulator: process start, init with the Secrets Manager read, first
// request) beside the bare aws-lambda-go hello handler's, and warm
// requests of each, in the same run. Figures go to docs/PERFORMANCE.md.
func BenchmarkLambdaColdStart(b *testing.B) {
	c := newCloud(b, &functionRef{})
	env := append([]string{"ORBIT_BASE_URL=http://127.0.0.1:1"}, c.env...)
	for _, fn := range []struct {
		name  string
		event []byte
	}{
		{"hello", []byte(`{"name":"orbit"}`)},
		{"api", projectsEvent},
	} {
		ctx := context.Background()
		check := func(out []byte) {
			if fn.name == "api" {
				var resp struct{ StatusCode int }
				require.NoError(b, json.Unmarshal(out, &resp))
				require.Equal(b, 200, resp.StatusCode, string(out))
			}
		}
		b.Run(fn.name+"/cold", func(b *testing.B) {
			var total time.Duration
			for range b.N {
				b.StopTimer()
				f := startFunction(b, fn.name, 1, env)
				b.StartTimer()
				start := time.Now()
				out, _, err := f.invoke(ctx, fn.event)
				total += time.Since(start)
				require.NoError(b, err)
				check(out)
			}
			b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "ms/cold-start")
		})
		b.Run(fn.name+"/warm", func(b *testing.B) {
			f := startFunction(b, fn.name, 1, env)
			_, _, err := f.invoke(ctx, fn.event)
			require.NoError(b, err)
			b.ResetTimer()
			for range b.N {
				out, _, err := f.invoke(ctx, fn.event)
				require.NoError(b, err)
				check(out)
			}
		})
	}
}
