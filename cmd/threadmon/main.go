// Command threadmon serves a live view of package threading: the threads,
// the lock graph with deadlock cycles marked, the most contended primitives,
// deadlock and lock-order reports, as a web page, a JSON API and Prometheus
// metrics.
//
//	threadmon -demo                 # runs a built-in workload and watches it
//
//	threadmon -target URL ...       # watches running services (sidecar)
//
// The page is at http://127.0.0.1:7070/ by default. The same page can be
// served from inside a service with one line: mux.Handle("/debug/threadmon/",
// http.StripPrefix("/debug/threadmon", ui.Handler())), with package
// github.com/threadmon/threadmon/contention/ui.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/threadmon/threadmon/threading"
	"github.com/threadmon/threadmon/threading/zaplog"
)

type config struct {
	demo      bool
	sidecar   sidecarOptions
	listen    string
	token     string
	tokenFile string
	logLevel  string
	duration  time.Duration
	pprof     bool
	maxConns  int
}

func main() {
	var cfg config
	sc := &cfg.sidecar
	var maxTargetMB, maxRetainedMB int
	flag.BoolVar(&cfg.demo, "demo", false, "run the built-in demo workload and watch it")
	flag.Func("target", "URL of a service's contention handler to watch (repeatable), e.g. http://127.0.0.1:6060/debug/threading",
		func(v string) error { sc.targets = append(sc.targets, v); return nil })
	flag.Func("file-sd", "Prometheus file_sd file (JSON or YAML; a glob; repeatable) whose targets to watch",
		func(v string) error { sc.fileSD = append(sc.fileSD, v); return nil })
	flag.StringVar(&sc.sdPath, "file-sd-path", "", "path of the contention handler on -file-sd targets, e.g. /debug/threading")
	flag.StringVar(&sc.sdPort, "file-sd-port", "", "port of the contention handler on -file-sd targets (default: the target's)")
	flag.DurationVar(&sc.sdRefresh, "file-sd-refresh", 5*time.Second, "how often to check the -file-sd files for changes")
	flag.DurationVar(&sc.interval, "interval", 2*time.Second, "how often to poll each target")
	flag.DurationVar(&sc.timeout, "poll-timeout", 0, "time limit of one target's poll (default: -interval, at least 1s)")
	flag.IntVar(&sc.workers, "poll-workers", 16, "targets polled at once")
	flag.IntVar(&sc.maxTargets, "max-targets", 1000, "targets watched at most")
	flag.IntVar(&maxTargetMB, "max-target-mb", 16, "MiB read at most of one answer of a target")
	flag.IntVar(&maxRetainedMB, "max-retained-mb", 256, "MiB of the targets' JSON kept at most, all targets together")
	flag.DurationVar(&sc.dropAfter, "drop-after", 5*time.Minute, "how long a down target's last good data is shown, as stale, before it is dropped")
	flag.StringVar(&cfg.listen, "listen", "127.0.0.1:7070", "address to serve the UI, the API and /metrics on")
	flag.StringVar(&cfg.tokenFile, "token-file", "", "file holding the bearer token required on everything but /healthz")
	flag.StringVar(&cfg.token, "token", "", "bearer token required on everything but /healthz (visible in ps: prefer -token-file or $THREADMON_TOKEN)")
	flag.IntVar(&cfg.maxConns, "max-conns", 256, "connections kept open at most")
	flag.StringVar(&cfg.logLevel, "log-level", "info", "debug, info, warn or error")
	flag.DurationVar(&cfg.duration, "duration", 0, "stop after this long (0: run until SIGINT or SIGTERM)")
	flag.BoolVar(&cfg.pprof, "pprof", false, "also serve net/http/pprof under /debug/pprof/")
	flag.Parse()
	sc.maxTargetBytes, sc.maxRetained = int64(maxTargetMB)<<20, int64(maxRetainedMB)<<20
	if err := run(cfg); err != nil {
		fmt.Fprintln(os.Stderr, "threadmon:", err)
		os.Exit(1)
	}
}

// loadToken picks the bearer token: -token-file, else -token, else
// $THREADMON_TOKEN (getenv). Giving both flags is an error.
func loadToken(flagToken, file string, getenv func(string) string) (string, error) {
	switch {
	case file != "" && flagToken != "":
		return "", errors.New("-token and -token-file do not go together")
	case file != "":
		f, err := os.Open(file)
		if err != nil {
			return "", fmt.Errorf("-token-file: %w", err)
		}
		defer f.Close()
		b, err := io.ReadAll(io.LimitReader(f, 4097))
		if err != nil {
			return "", fmt.Errorf("-token-file: %w", err)
		}
		tok := strings.TrimSpace(string(b))
		if tok == "" || len(b) > 4096 || strings.ContainsAny(tok, " \t\r\n") {
			return "", fmt.Errorf("-token-file %s: want one token of at most 4 KiB on one line", file)
		}
		return tok, nil
	case flagToken != "":
		return flagToken, nil
	}
	return strings.TrimSpace(getenv("THREADMON_TOKEN")), nil
}

func run(cfg config) error {
	watch := len(cfg.sidecar.targets) > 0 || len(cfg.sidecar.fileSD) > 0
	if !cfg.demo && !watch {
		return errors.New("nothing to watch: run with -demo, or with -target URL for each service to watch, or -file-sd FILE")
	}
	if cfg.demo && watch {
		return errors.New("-demo and -target or -file-sd do not go together: the demo watches itself")
	}
	token, err := loadToken(cfg.token, cfg.tokenFile, os.Getenv)
	if err != nil {
		return err
	}
	var level zapcore.Level
	if err := level.UnmarshalText([]byte(cfg.logLevel)); err != nil {
		return fmt.Errorf("-log-level: %w", err)
	}
	logCfg := zap.NewProductionConfig()
	logCfg.Level = zap.NewAtomicLevelAt(level)
	log, err := logCfg.Build()
	if err != nil {
		return err
	}
	defer log.Sync() //nolint:errcheck
	zaplog.Install(log)
	if cfg.token != "" {
		log.Warn("-token is visible to every local user in ps: prefer -token-file or $THREADMON_TOKEN")
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// After the first signal, a second one ends the process at once.
	go func() { <-ctx.Done(); stop() }()
	if cfg.duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, cfg.duration)
		defer cancel()
	}
	ln, err := net.Listen("tcp", cfg.listen)
	if err != nil {
		return err
	}
	opts := serverOptions{token: token, pprof: cfg.pprof, log: log, sidecar: cfg.sidecar, maxConns: cfg.maxConns}
	return serveUntil(ctx, opts, ln)
}

// serveUntil runs threadmon on ln until ctx ends, then stops within a few
// seconds whatever its clients and targets do.
func serveUntil(ctx context.Context, opts serverOptions, ln net.Listener) error {
	log := opts.log
	var runErr error
	threading.Main(func() {
		srv, err := newServer(opts)
		if err != nil {
			runErr = err
			_ = ln.Close()
			return
		}
		defer srv.close()
		what := "demo"
		if srv.sidecar != nil {
			what = fmt.Sprintf("watching %d target(s)", len(srv.sidecar.watched()))
			done := make(chan struct{})
			go func() { srv.sidecar.run(ctx); close(done) }()
			defer func() {
				select {
				case <-done:
				case <-time.After(5 * time.Second):
					log.Warn("polls still running at exit")
				}
			}()
		} else {
			w := startDemo(ctx)
			defer w.stop()
		}
		hs := srv.serve(ln)
		log.Info("threadmon running: open the page", zap.String("mode", what), zap.String("url", "http://"+ln.Addr().String()+"/"))
		fmt.Printf("threadmon: %s at http://%s/ (Ctrl-C stops it)\n", what, ln.Addr())
		<-ctx.Done()
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		if hs.Shutdown(shutdownCtx) != nil {
			_ = hs.Close()
		}
		log.Info("threadmon stopped")
		fmt.Printf("threadmon: %s finished\n", strings.SplitN(what, " ", 2)[0])
	})
	return runErr
}
