package main

import (
	"crypto/subtle"
	"net"
	"net/http"
	"net/http/pprof"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"

	"github.com/threadmon/threadmon/contention"
	"github.com/threadmon/threadmon/contention/ui"
	"github.com/threadmon/threadmon/internal/httpjson"
	"github.com/threadmon/threadmon/metrics"
)

type serverOptions struct {
	token string
	pprof bool
	log   *zap.Logger
	// sidecar, with targets or file_sd files, switches to sidecar mode: the
	// API serves the merged view of those services.
	sidecar sidecarOptions
	// maxResponse caps the size of one response (default 64 MiB): a process
	// with a huge registry cannot make threadmon write without bound.
	maxResponse int64
	// maxConns caps the connections kept open (default 256): see
	// connLimiter.
	maxConns int
}

// server is threadmon's HTTP side: the page, the API, /metrics, /healthz.
type server struct {
	opts     serverOptions
	reg      *prometheus.Registry
	metrics  *metrics.Metrics
	detector *contention.Detector
	sidecar  *sidecar
	handler  http.Handler
}

func newServer(opts serverOptions) (*server, error) {
	if opts.log == nil {
		opts.log = zap.NewNop()
	}
	if opts.maxResponse <= 0 {
		opts.maxResponse = 64 << 20
	}
	if opts.maxConns <= 0 {
		opts.maxConns = 256
	}
	s := &server{opts: opts, reg: prometheus.NewRegistry()}
	// Hold times are sampled (1 in 64 acquisitions) so the dashboards'
	// hold-time panels have data.
	m, err := metrics.Register(s.reg, metrics.WithHoldSampling(64))
	if err != nil {
		return nil, err
	}
	s.metrics = m
	seen := prometheus.NewCounter(prometheus.CounterOpts{Namespace: "threadmon", Name: "deadlocks_seen_total",
		Help: "Deadlocks threadmon's detector has reported."})
	s.reg.MustRegister(seen)
	s.detector = contention.Start(contention.WithCallback(func(r *contention.Report) {
		seen.Inc()
		opts.log.Error("deadlock", zap.String("id", r.ID), zap.Strings("primitives", r.Primitives), zap.String("report", r.Text))
	}))
	api := contention.NewHandler(contention.Local(s.detector))
	if len(opts.sidecar.targets) > 0 || len(opts.sidecar.fileSD) > 0 {
		sc, err := newSidecar(opts.sidecar, s.reg, seen, opts.log)
		if err != nil {
			s.close()
			return nil, err
		}
		s.sidecar = sc
		api = contention.NewHandler(sc)
	}
	mux := http.NewServeMux()
	mux.Handle("/api/", http.StripPrefix("/api", api))
	mux.Handle("/metrics", promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{EnableOpenMetrics: true}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.Handle("/", ui.Files())
	if opts.pprof {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	s.handler = s.harden(mux)
	return s, nil
}

// harden is the middleware every request goes through: read-only methods,
// the bearer token, and headers that keep the page from running anything but
// its own script.
func (s *server) harden(next http.Handler) http.Handler {
	token := []byte(s.opts.token)
	guarded := httpjson.ReadOnly(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if len(token) > 0 && r.URL.Path != "/healthz" && !ui.IsFile(r.URL.Path) {
			got, ok := bearerToken(r.Header.Get("Authorization"))
			if !ok || subtle.ConstantTimeCompare([]byte(got), token) != 1 {
				w.Header().Set("WWW-Authenticate", `Bearer realm="threadmon"`)
				httpjson.Error(w, http.StatusUnauthorized, "a valid bearer token is required")
				return
			}
		}
		next.ServeHTTP(&cappedWriter{ResponseWriter: w, left: s.opts.maxResponse, log: s.opts.log, path: r.URL.Path}, r)
	}))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ui.SecurityHeaders(w.Header())
		guarded.ServeHTTP(w, r)
	})
}

// bearerToken returns the token of an Authorization header of the Bearer
// scheme, whose name is case-insensitive (RFC 9110, 11.1).
func bearerToken(h string) (string, bool) {
	scheme, tok, ok := strings.Cut(strings.TrimSpace(h), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	tok = strings.TrimSpace(tok)
	return tok, tok != ""
}

// cappedWriter aborts a response that grows past its cap: the client sees a
// cut connection rather than threadmon writing without bound.
type cappedWriter struct {
	http.ResponseWriter
	left int64
	log  *zap.Logger
	path string
}

func (c *cappedWriter) Write(p []byte) (int, error) {
	if int64(len(p)) > c.left {
		c.log.Error("response too large: aborted", zap.String("path", c.path))
		panic(http.ErrAbortHandler)
	}
	c.left -= int64(len(p))
	return c.ResponseWriter.Write(p)
}

// serve serves on ln, at most maxConns connections at a time, until the
// returned server is shut down or closed.
func (s *server) serve(ln net.Listener) *http.Server {
	hs := s.httpServer()
	lim := newConnLimiter(ln, s.opts.maxConns)
	hs.ConnState = lim.connState
	go func() { _ = hs.Serve(lim) }()
	return hs
}

func (s *server) httpServer() *http.Server {
	return &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       time.Minute,
		MaxHeaderBytes:    64 << 10,
	}
}

func (s *server) close() {
	s.detector.Stop()
	s.metrics.Close()
	if s.sidecar != nil {
		s.sidecar.client.CloseIdleConnections()
	}
}
