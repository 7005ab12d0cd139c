package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/orbit-ci/orbit/internal/compose"
)

func cmdUp(ctx context.Context, args []string) error {
	cfg, err := compose.FromEnv(os.Getenv)
	if err != nil {
		return err
	}
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:8080"
	}
	if cfg.NomadBin == "" {
		cfg.NomadBin = defaultNomadBin()
	}
	fs := flag.NewFlagSet("up", flag.ContinueOnError)
	fs.StringVar(&cfg.Addr, "addr", cfg.Addr, "address of the API and UI ($ORBIT_ADDR)")
	fs.StringVar(&cfg.DataDir, "data", cfg.DataDir, "directory of the embedded state ($ORBIT_DATA)")
	fs.StringVar(&cfg.NomadAddr, "nomad-addr", cfg.NomadAddr, "use the Nomad agent at this address instead of starting one ($NOMAD_ADDR)")
	fs.StringVar(&cfg.NomadBin, "nomad-bin", cfg.NomadBin, "Nomad binary for the dev agent ($ORBIT_NOMAD_BIN)")
	fs.IntVar(&cfg.WarmAgents, "warm-agents", cfg.WarmAgents, "warm build agents kept waiting on Nomad for a task (0: none; each runs one task and is replaced) ($ORBIT_WARM_AGENTS)")
	fs.DurationVar(&cfg.WarmIdle, "warm-idle-after", cfg.WarmIdle, "retire the warm agents after this long without a task (0: never); the next task brings them back ($ORBIT_WARM_IDLE_AFTER)")
	cfg.LogFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if cfg.WarmAgents < 0 {
		return fmt.Errorf("--warm-agents %d: want 0 or more", cfg.WarmAgents)
	}
	if cfg.Shape != compose.Embedded {
		return fmt.Errorf("orbit up runs the embedded shape, not ORBIT_SHAPE=%s (the aws shape runs as Lambdas and `orbit bridge`)", cfg.Shape)
	}
	log, err := cfg.Logger(os.Stderr)
	if err != nil {
		return err
	}
	// Listen first: a taken port is the most common start-up problem.
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("cannot listen on %s (use --addr or ORBIT_ADDR): %w", cfg.Addr, err)
	}
	app, err := startEmbedded(ctx, cfg, ln.Addr().String(), log)
	if err != nil {
		ln.Close()
		return err
	}
	defer app.close()
	// `orbit admin nodes` (another shell, maybe without NOMAD_ADDR) reads
	// the Nomad address from here.
	addrFile := filepath.Join(app.dataDir, nomadAddrFile)
	if err := os.WriteFile(addrFile, []byte(app.nomadAddr+"\n"), 0o600); err != nil {
		log.Warn("record the Nomad address for orbit admin", "path", addrFile, "error", err)
	}
	defer os.Remove(addrFile)

	if cfg.PprofAddr != "" {
		stop, err := servePprof(cfg.PprofAddr, log)
		if err != nil {
			return err
		}
		defer stop()
	}
	srv := &http.Server{Handler: app.handler, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()

	url := "http://" + ln.Addr().String()
	sample := "./bin/orbit sample"
	if url != defaultURL {
		sample = "ORBIT_URL=" + url + " " + sample
	}
	fmt.Printf("\nOrbit is up.\n  UI and API: %s\n  state:      %s\n  nomad:      %s\n\n"+
		"Sign in to the UI as the local admin (a one-time link, valid 24 h):\n  %s/login/link?code=%s\n"+
		"The orbit CLI authenticates with the token in %s (or $ORBIT_TOKEN);\n"+
		"`orbit admin token` makes more.\n\n"+
		"Run the bundled sample pipeline (in another terminal):\n  %s\n\n",
		url, app.dataDir, app.nomadAddr, url, app.signInCode, filepath.Join(app.dataDir, tokenFile), sample)

	select {
	case <-ctx.Done():
	case err := <-errc:
		if !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("serve %s: %w", cfg.Addr, err)
		}
	case err := <-app.errc:
		log.Error("orbit stopped", "error", err)
		return err
	}
	log.Info("shutting down")
	shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return srv.Shutdown(shutdown)
}

// defaultNomadBin is bin/nomad beside the orbit binary (make build puts both
// in bin/), else nomad from PATH.
func defaultNomadBin() string {
	if exe, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(exe), "nomad")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return "nomad"
}
