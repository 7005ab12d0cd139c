package main

import (
	"flag"
	"fmt"
	"path/filepath"

	"github.com/orbit-ci/orbit/internal/compose"
	"github.com/orbit-ci/orbit/shared/secrets/keyfile"
)

// masterKeysFile is the embedded shape's key file in the data directory:
// the master keys that seal project and context secrets (KMS in AWS).
const masterKeysFile = compose.MasterKeysFile

const adminSecretsUsage = `usage: orbit admin secrets rotate [--data DIR]

  rotate   add a new master key to DIR/master.keys (default $ORBIT_DATA, else .orbit):
           secrets saved from then on are sealed with it; every older key stays in the
           file, so secrets sealed before still open. A running orbit up uses the new key
           after its next start. Back the file up with the data directory: losing it loses
           every secret.`

// cmdAdminSecrets runs `orbit admin secrets …`.
func cmdAdminSecrets(args []string) error {
	if len(args) == 0 || args[0] != "rotate" {
		return exitError{code: 2, msg: adminSecretsUsage}
	}
	fs := flag.NewFlagSet("admin secrets rotate", flag.ContinueOnError)
	dir := fs.String("data", envOr("ORBIT_DATA", ".orbit"), "")
	if err := fs.Parse(args[1:]); err != nil || fs.NArg() != 0 {
		return exitError{code: 2, msg: adminSecretsUsage}
	}
	keys, err := keyfile.New(keyfile.Config{Path: filepath.Join(*dir, masterKeysFile)})
	if err != nil {
		return err
	}
	id, err := keys.Rotate()
	if err != nil {
		return err
	}
	fmt.Printf("new master key %s in %s; restart orbit up to seal with it\n", id, filepath.Join(*dir, masterKeysFile))
	return nil
}
