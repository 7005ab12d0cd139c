package stack

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
)

func suppress(st awscdk.Stack, s Settings, o *Stack) {
	_ = cdknag.NagSuppressions_AddStackSuppressions
}
