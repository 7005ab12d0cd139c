package stack

import (
	"encoding/json"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/cxapi"
	"github.com/aws/jsii-runtime-go"
	"github.com/stretchr/testify/assert"
)

func decodeResources() error {
	raw, err := json.Marshal(tmpl.ToJSON())
	if err != nil {
		return err
	}
	var t struct {
		Resources map[string]resource `json:"Resources"`
	}
	if err := json.Unmarshal(raw, &t); err != nil {
		return err
	}
	resources = t.Resources
	return nil
}

// TestNagClean: cdk-nag's AwsSolutions pack reports no error and no
// warning; what it would report is suppressed in nag.go with a reason.
func TestNagClean(t *testing.T) {
	ann := assertions.Annotations_FromStack(built.Stack)
	for _, level := range []struct {
		name  string
		found *[]*cxapi.SynthesisMessage
	}{
		{"error", ann.FindError(jsii.String("*"), assertions.Match_StringLikeRegexp(jsii.String("AwsSolutions-.*")))},
		{"warning", ann.FindWarning(jsii.String("*"), assertions.Match_StringLikeRegexp(jsii.String("AwsSolutions-.*")))},
	} {
		for _, m := range *level.found {
			assert.Fail(t, "cdk-nag "+level.name, "%s: %v", *m.Id, m.Entry.Data)
		}
	}
}
