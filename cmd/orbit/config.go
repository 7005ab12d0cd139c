package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/orbit-ci/orbit/shared/config"
	"github.com/orbit-ci/orbit/shared/orbimport"
)

const configUsage = `usage: orbit config validate|process [file] [flags]

  validate  check the config (default .circleci/config.yml) offline; exit 0 if it is valid
  process   print the processed config: orbs, commands, executors, parameters and
            matrices expanded (--plan: the compiled plan as JSON instead)

Flags:
  --branch B                the pipeline's branch (default main); filters and pipeline.git.branch
  --tag T                   the pipeline's tag instead of a branch
  --pipeline-parameters P   JSON ({"deploy":true}) or name=value,name=value
  --orb-dir DIR             the local orb registry ($ORBIT_ORB_DIR, else $ORBIT_DATA/orbs, else ~/.orbit/orbs)
  --plan                    process: print the compiled plan instead
`

func cmdConfig(_ context.Context, args []string) error {
	return runConfig(args, os.Stdout, os.Stderr)
}

// runConfig is `orbit config`, writing the result to stdout and warnings
// to stderr (so `process > out.yml` keeps the config alone).
func runConfig(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || (args[0] != "validate" && args[0] != "process") {
		return exitError{code: 2, msg: configUsage}
	}
	fs := flag.NewFlagSet("config "+args[0], flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	branch := fs.String("branch", "main", "")
	tag := fs.String("tag", "", "")
	params := fs.String("pipeline-parameters", "", "")
	orbDir := fs.String("orb-dir", "", "")
	plan := fs.Bool("plan", false, "")
	if err := fs.Parse(flagsFirst(fs, args[1:])); err != nil {
		return exitError{code: 2, msg: err.Error() + "\n" + configUsage}
	}
	file := config.DefaultFilename
	if fs.NArg() > 0 {
		file = fs.Arg(0)
	}
	src, err := os.ReadFile(file)
	if err != nil {
		return exitError{code: 1, msg: err.Error()}
	}
	pp, err := config.ParsePipelineParameters(*params)
	if err != nil {
		return exitError{code: 1, msg: err.Error()}
	}
	opts := config.Options{Filename: file, Branch: *branch, Tag: *tag, PipelineParameters: pp, OrbDir: *orbDir}
	if *tag != "" {
		opts.Branch = ""
	}
	p, err := config.Compile(src, opts)
	if err != nil {
		return configError(err)
	}
	for _, w := range p.Warnings {
		fmt.Fprintln(stderr, w.Warning())
	}
	switch {
	case args[0] == "validate":
		if n := len(p.Warnings); n > 0 {
			fmt.Fprintf(stdout, "%s is valid, with %d warning%s (CircleCI accepts what they point at)\n", file, n, plural(n))
			return nil
		}
		fmt.Fprintf(stdout, "%s is valid\n", file)
		return nil
	case *plan:
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(p)
	}
	out, err := config.Process(src, opts)
	if err != nil {
		return configError(err)
	}
	_, err = stdout.Write(out)
	return err
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// configError prints a config's errors, one `file:line:col: key: message`
// a line, and exits 1.
func configError(err error) error {
	var list config.ErrorList
	if errors.As(err, &list) {
		return exitError{code: 1, msg: list.Error()}
	}
	return exitError{code: 1, msg: err.Error()}
}

const orbUsage = `usage: orbit orb import <namespace/name@version> <file> [--orb-dir DIR]
       orbit orb import <directory> [--orb-dir DIR]
       orbit orb import --from <registry-url> [--token TOKEN] <namespace/name@version>... [--orb-dir DIR]

Stores orb releases in the local orb registry, where configs importing them find
them offline:
  <file>       one release's source (as "circleci orb source" prints it; - reads stdin)
  <directory>  every <namespace>/<name>@<x.y.z>.yml under it (another registry's copy)
  --from URL   from a CircleCI-compatible registry (https://circleci.com, or another
               Orbit): @volatile and partial versions (@1, @1.2) are resolved there
               and stored under the exact version. --token (or $CIRCLECI_CLI_TOKEN)
               for private orbs.
`

func cmdOrb(ctx context.Context, args []string) error {
	if len(args) == 0 || args[0] != "import" {
		return exitError{code: 2, msg: orbUsage}
	}
	fs := flag.NewFlagSet("orb import", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	orbDir := fs.String("orb-dir", "", "")
	from := fs.String("from", "", "")
	token := fs.String("token", os.Getenv("CIRCLECI_CLI_TOKEN"), "")
	if err := fs.Parse(flagsFirst(fs, args[1:])); err != nil {
		return exitError{code: 2, msg: err.Error() + "\n" + orbUsage}
	}
	dir := *orbDir
	if dir == "" {
		dir = config.DefaultOrbDir()
	}
	reg := config.DirRegistry(dir)
	var imported []orbimport.Imported
	var err error
	switch {
	case *from != "":
		if fs.NArg() == 0 {
			return exitError{code: 2, msg: orbUsage}
		}
		refs := make([]config.OrbRef, 0, fs.NArg())
		for _, a := range fs.Args() {
			ref, err := config.ParseOrbRef(a)
			if err != nil {
				return exitError{code: 1, msg: err.Error()}
			}
			refs = append(refs, ref)
		}
		imported, err = orbimport.Registry{URL: *from, Token: *token}.Import(ctx, reg, refs)
	case fs.NArg() == 1 && isDir(fs.Arg(0)):
		imported, err = orbimport.Dir(reg, fs.Arg(0))
	case fs.NArg() == 2:
		imported, err = importOrbFile(reg, fs.Arg(0), fs.Arg(1))
	default:
		return exitError{code: 2, msg: orbUsage}
	}
	for _, im := range imported {
		fmt.Printf("imported %s to %s\n", im.Ref, im.Path)
	}
	if err != nil {
		return configError(err)
	}
	return nil
}

func isDir(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.IsDir()
}

// importOrbFile imports one release from a file (- is stdin).
func importOrbFile(reg config.DirRegistry, refArg, file string) ([]orbimport.Imported, error) {
	ref, err := config.ParseOrbRef(refArg)
	if err != nil {
		return nil, err
	}
	var src []byte
	if file == "-" {
		src, err = io.ReadAll(os.Stdin)
	} else {
		src, err = os.ReadFile(file)
	}
	if err != nil {
		return nil, err
	}
	path, err := reg.Import(ref, src)
	if err != nil {
		return nil, err
	}
	return []orbimport.Imported{{Ref: ref, Path: path}}, nil
}

// flagsFirst moves flags before positional arguments (so `validate file
// --branch x` works), using fs to know which flags take a value.
func flagsFirst(fs *flag.FlagSet, args []string) []string {
	var flags, pos []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			pos = append(pos, args[i+1:]...)
			break
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			pos = append(pos, a)
			continue
		}
		flags = append(flags, a)
		name := strings.TrimLeft(a, "-")
		if strings.Contains(name, "=") {
			continue
		}
		f := fs.Lookup(name)
		if f == nil || i+1 >= len(args) {
			continue
		}
		if b, ok := f.Value.(interface{ IsBoolFlag() bool }); !ok || !b.IsBoolFlag() {
			flags = append(flags, args[i+1])
			i++
		}
	}
	return append(flags, pos...)
}
