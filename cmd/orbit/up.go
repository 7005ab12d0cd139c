package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// upConfig is what `orbit up` is told.
type upConfig struct {
	addr      string
	dataDir   string
	nomadAddr string
	nomadBin  string
	logFormat string
	logLevel  string
	// warmAgents is how many warm build agents wait on Nomad for a task
	// (resource class medium); warmIdle retires them after that long
	// without a task.
	warmAgents int
	warmIdle   time.Duration
}

func cmdUp(ctx context.Context, args []string) error {
	var cfg upConfig
	fs := flag.NewFlagSet("up", flag.ContinueOnError)
	fs.StringVar(&cfg.addr, "addr", envOr("ORBIT_ADDR", "127.0.0.1:8080"), "address of the API and UI ($ORBIT_ADDR)")
	fs.StringVar(&cfg.dataDir, "data", envOr("ORBIT_DATA", ".orbit"), "directory of the embedded state ($ORBIT_DATA)")
	fs.StringVar(&cfg.nomadAddr, "nomad-addr", os.Getenv("NOMAD_ADDR"), "use the Nomad agent at this address instead of starting one ($NOMAD_ADDR)")
	fs.StringVar(&cfg.nomadBin, "nomad-bin", envOr("ORBIT_NOMAD_BIN", defaultNomadBin()), "Nomad binary for the dev agent ($ORBIT_NOMAD_BIN)")
	fs.StringVar(&cfg.logFormat, "log-format", envOr("ORBIT_LOG_FORMAT", "text"), "text or json")
	fs.StringVar(&cfg.logLevel, "log-level", envOr("ORBIT_LOG_LEVEL", "info"), "debug, info, warn or error")
	warmDefault, err := strconv.Atoi(envOr("ORBIT_WARM_AGENTS", "1"))
	if err != nil {
		return fmt.Errorf("ORBIT_WARM_AGENTS=%q: want a number", os.Getenv("ORBIT_WARM_AGENTS"))
	}
	fs.IntVar(&cfg.warmAgents, "warm-agents", warmDefault, "warm build agents kept waiting on Nomad for a task (0: none; each runs one task and is replaced) ($ORBIT_WARM_AGENTS)")
	fs.DurationVar(&cfg.warmIdle, "warm-idle-after", 30*time.Minute, "retire the warm agents after this long without a task (0: never); the next task brings them back")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if cfg.warmAgents < 0 {
		return fmt.Errorf("--warm-agents %d: want 0 or more", cfg.warmAgents)
	}
	log, err := newLogger(cfg.logFormat, cfg.logLevel)
	if err != nil {
		return err
	}
	// Listen first: a taken port is the most common start-up problem.
	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return fmt.Errorf("cannot listen on %s (use --addr or ORBIT_ADDR): %w", cfg.addr, err)
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

	srv := &http.Server{Handler: app.handler, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()

	url := "http://" + ln.Addr().String()
	sample := "./bin/orbit sample"
	if url != defaultURL {
		sample = "ORBIT_URL=" + url + " " + sample
	}
	fmt.Printf("\nOrbit is up.\n  UI and API: %s\n  state:      %s\n  nomad:      %s\n\n"+
		"Run the bundled sample pipeline (in another terminal):\n  %s\n\n",
		url, app.dataDir, app.nomadAddr, sample)

	select {
	case <-ctx.Done():
	case err := <-errc:
		if !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("serve %s: %w", cfg.addr, err)
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

func newLogger(format, level string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("log level %q: %w", level, err)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(os.Stderr, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(os.Stderr, opts)), nil
	}
	return nil, fmt.Errorf("log format %q: want text or json", format)
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
