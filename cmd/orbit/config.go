package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"

	"github.com/orbit-ci/orbit/shared/config"
)

func cmdConfig(_ context.Context, args []string) error {
	if len(args) == 0 || (args[0] != "validate" && args[0] != "process") {
		return exitError{code: 2, msg: "usage: orbit config validate|process [file] [--branch B] [--tag T]"}
	}
	fs := flag.NewFlagSet("config "+args[0], flag.ContinueOnError)
	branch := fs.String("branch", "main", "branch the pipeline runs for (filters)")
	tag := fs.String("tag", "", "tag the pipeline runs for (filters)")
	if err := fs.Parse(reorder(args[1:])); err != nil {
		return err
	}
	file := ".circleci/config.yml"
	if fs.NArg() > 0 {
		file = fs.Arg(0)
	}
	src, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	opts := config.Options{Filename: file, Branch: *branch, Tag: *tag}
	if *tag != "" {
		opts.Branch = ""
	}
	plan, err := config.Compile(src, opts)
	if err != nil {
		var list config.ErrorList
		if errors.As(err, &list) {
			return exitError{code: 1, msg: list.Error()}
		}
		return exitError{code: 1, msg: err.Error()}
	}
	if args[0] == "validate" {
		fmt.Printf("%s is valid\n", file)
		return nil
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(plan)
}
