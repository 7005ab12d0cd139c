package config

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// FuzzCompile feeds arbitrary bytes to Compile: it must not panic, must
// answer quickly (aliases cannot make it expand without bound), and must
// return either a Plan that encodes as JSON or a non-empty ErrorList.
func FuzzCompile(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.yml"))
	if err != nil {
		f.Fatal(err)
	}
	for _, file := range files {
		src, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(src, "main", "")
	}
	f.Add([]byte("version: 2\na: &a [x, x]\nb: &b [*a, *a]\nc: [*b, *b]\n"), "main", "")
	f.Add([]byte("version: 2.1\nx: &x {<<: *x}\n"), "", "v1")
	f.Add([]byte("version: 2\njobs:\n  build: {docker: [{image: a}], steps: [{type: shell, command: x}]}\n"), "dev", "")

	f.Fuzz(func(t *testing.T, src []byte, branch, tag string) {
		start := time.Now()
		plan, err := Compile(src, Options{Branch: branch, Tag: tag})
		if d := time.Since(start); d > 2*time.Second {
			t.Fatalf("Compile took %v on %d bytes", d, len(src))
		}
		if err != nil {
			var list ErrorList
			if !errors.As(err, &list) || len(list) == 0 {
				t.Fatalf("error is not a non-empty ErrorList: %#v", err)
			}
			if plan != nil {
				t.Fatal("plan and error both returned")
			}
			return
		}
		if _, err := json.Marshal(plan); err != nil {
			t.Fatalf("plan does not encode: %v", err)
		}
	})
}
