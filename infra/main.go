// Command infra is Orbit's CDK app: `make deploy` (or `npx cdk deploy` in
// this directory) runs it. Settings come from the CDK context; see
// stack.SettingsFromContext and README's "Deploy to AWS".
package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"

	"github.com/orbit-ci/orbit/infra/stack"
)

func main() {
	defer jsii.Close()
	app := awscdk.NewApp(nil)
	wd, err := os.Getwd()
	if err == nil {
		err = stack.App(app, filepath.Dir(wd)) // infra/ is one level below the repository
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	app.Synth(nil)
}
