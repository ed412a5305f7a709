// Command threadmon serves a live view of package threading: the threads,
// the lock graph with deadlock cycles marked, the most contended primitives,
// deadlock and lock-order reports, as a web page, a JSON API and Prometheus
// metrics.
//
//	threadmon -demo                 # runs a built-in workload and watches it
//
// The page is at http://127.0.0.1:7070/ by default. The same page can be
// served from inside a service with one line: see Embedded.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
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
	demo     bool
	targets  []string
	interval time.Duration
	listen   string
	token    string
	logLevel string
	duration time.Duration
	pprof    bool
}

func main() {
	var cfg config
	flag.BoolVar(&cfg.demo, "demo", false, "run the built-in demo workload and watch it")
	flag.Func("target", "URL of a service's contention handler to watch (repeatable), e.g. http://127.0.0.1:6060/debug/threading",
		func(v string) error { cfg.targets = append(cfg.targets, v); return nil })
	flag.DurationVar(&cfg.interval, "interval", 2*time.Second, "how often to poll each -target")
	flag.StringVar(&cfg.listen, "listen", "127.0.0.1:7070", "address to serve the UI, the API and /metrics on")
	flag.StringVar(&cfg.token, "token", os.Getenv("THREADMON_TOKEN"), "bearer token required on everything but /healthz (default $THREADMON_TOKEN)")
	flag.StringVar(&cfg.logLevel, "log-level", "info", "debug, info, warn or error")
	flag.DurationVar(&cfg.duration, "duration", 0, "stop after this long (0: run until SIGINT or SIGTERM)")
	flag.BoolVar(&cfg.pprof, "pprof", false, "also serve net/http/pprof under /debug/pprof/")
	flag.Parse()
	if err := run(cfg); err != nil {
		fmt.Fprintln(os.Stderr, "threadmon:", err)
		os.Exit(1)
	}
}

func run(cfg config) error {
	if !cfg.demo && len(cfg.targets) == 0 {
		return errors.New("nothing to watch: run with -demo, or with -target URL for each service to watch")
	}
	if cfg.demo && len(cfg.targets) > 0 {
		return errors.New("-demo and -target do not go together: the demo watches itself")
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

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if cfg.duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, cfg.duration)
		defer cancel()
	}
	ln, err := net.Listen("tcp", cfg.listen)
	if err != nil {
		return err
	}
	var runErr error
	threading.Main(func() {
		srv, err := newServer(serverOptions{token: cfg.token, pprof: cfg.pprof, log: log, targets: cfg.targets, interval: cfg.interval})
		if err != nil {
			runErr = err
			return
		}
		defer srv.close()
		what := "demo"
		if srv.sidecar != nil {
			what = fmt.Sprintf("watching %d target(s)", len(cfg.targets))
			done := make(chan struct{})
			go func() { srv.sidecar.run(ctx); close(done) }()
			defer func() { <-done }()
		} else {
			w := startDemo(ctx)
			defer w.stop()
		}
		hs := srv.httpServer()
		go func() { _ = hs.Serve(ln) }()
		log.Info("threadmon running: open the page", zap.String("mode", what), zap.String("url", "http://"+ln.Addr().String()+"/"))
		fmt.Printf("threadmon: %s at http://%s/ (Ctrl-C stops it)\n", what, ln.Addr())
		<-ctx.Done()
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = hs.Shutdown(shutdownCtx)
		log.Info("threadmon stopped")
		fmt.Printf("threadmon: %s finished\n", strings.SplitN(what, " ", 2)[0])
	})
	return runErr
}
