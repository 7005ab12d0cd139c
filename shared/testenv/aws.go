package testenv

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

// AWS returns the configuration of an AWS client for the emulator whose
// endpoint is in the environment variable name (moto_server, which make
// test starts): region us-east-1, static test credentials. It is gated as
// Need is. Use it with the services' NewFromConfig.
func AWS(tb testing.TB, name string) aws.Config {
	tb.Helper()
	endpoint := Need(tb, name, "start moto_server (make test does)")
	return aws.Config{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(endpoint),
		Credentials:  credentials.NewStaticCredentialsProvider("test", "test", ""),
	}
}
