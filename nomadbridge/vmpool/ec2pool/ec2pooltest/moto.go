package ec2pooltest

import (
	"maps"
	mathrand "math/rand/v2"
	"net/http"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/ec2"

	"github.com/orbit-ci/orbit/nomadbridge/vmpool/ec2pool"
	"github.com/orbit-ci/orbit/shared/testenv"
)

// MotoClient is an EC2 client on moto (ORBIT_MOTO_ENDPOINT, which make
// test sets; gated by testenv.Need) in a region picked at random among
// those of the seed's AMI table: moto scans a region's every instance on
// each DescribeInstances, and the terminated ones of earlier tests stay,
// so spreading tests over regions keeps it fast under -count 20.
func MotoClient(t testing.TB) *ec2.Client {
	t.Helper()
	cfg := testenv.AWS(t, "ORBIT_MOTO_ENDPOINT")
	regions := slices.Sorted(maps.Keys(ec2pool.DefaultAMIs))
	cfg.Region = regions[mathrand.IntN(len(regions))]
	// moto's server (werkzeug) drops reused keep-alive connections under
	// concurrent load, and the SDK then retries calls moto did make: a
	// RunInstances or CreateVolume twice. One connection per request.
	cfg.HTTPClient = awshttp.NewBuildableClient().WithTransportOptions(func(tr *http.Transport) { tr.DisableKeepAlives = true })
	return ec2.NewFromConfig(cfg, func(o *ec2.Options) {
		// A slow moto makes the SDK retry; its client-side retry budget
		// would then fail calls of its own accord.
		o.Retryer = retry.NewStandard(func(so *retry.StandardOptions) { so.RateLimiter = ratelimit.None })
	})
}
