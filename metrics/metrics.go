// Package metrics exports package threading's statistics to Prometheus.
//
// One call registers everything:
//
//	m, err := metrics.Register(prometheus.DefaultRegisterer)
//	defer m.Close()
//
// Counters and gauges are read from threading's registry when Prometheus
// scrapes (a Collector; nothing is pushed). Wait and hold times are histograms
// filled by an Observer, which threading calls only when a caller actually
// had to wait, so the uncontended fast path costs nothing more.
//
// Labels are kind (Lock, RLock, ...) and name (the primitive's name, or its
// class: the file:line where it was created). A cap on distinct names, with
// the overflow value "other", keeps a program that names its locks after
// request ids from blowing up Prometheus.
package metrics

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/threadmon/threadmon/internal/plumb"
	"github.com/threadmon/threadmon/threading"
)

// Namespace prefixes every metric name.
const Namespace = "threading"

// Overflow is the name label of primitives past the label cap.
const Overflow = "other"

// DefaultBuckets are the classic histogram buckets for wait and hold times:
// from 1 µs to about 33 s, doubling.
var DefaultBuckets = prometheus.ExponentialBuckets(1e-6, 2, 26)

// Option configures Register.
type Option func(*config)

type config struct {
	buckets   []float64
	native    bool
	holdEvery int
	maxLabels int
	traceID   func(context.Context) (string, bool)
}

// WithBuckets sets the classic histogram buckets, in seconds.
func WithBuckets(b []float64) Option { return func(c *config) { c.buckets = b } }

// WithNativeHistograms adds Prometheus native (sparse) histograms beside the
// classic buckets.
func WithNativeHistograms() Option { return func(c *config) { c.native = true } }

// WithHoldSampling times one in every n acquisitions for
// threading_hold_seconds (threading.SetHoldSampling); 0, the default, leaves
// hold times off.
func WithHoldSampling(n int) Option { return func(c *config) { c.holdEvery = n } }

// WithMaxLabelValues caps the distinct name label values (default 200).
func WithMaxLabelValues(n int) Option { return func(c *config) { c.maxLabels = n } }

// WithTraceIDs attaches the trace id of the waiting caller's span, when there
// is one, as an exemplar to each wait-time observation. tracing.TraceID is
// such a function. Exemplars reach Prometheus through the OpenMetrics format
// (promhttp.HandlerOpts{EnableOpenMetrics: true}).
func WithTraceIDs(fn func(ctx context.Context) (traceID string, ok bool)) Option {
	return func(c *config) { c.traceID = fn }
}

// Metrics is what Register attached; Close detaches it.
type Metrics struct {
	threading.NopObserver
	cfg    config
	reg    prometheus.Registerer
	labels *labeler

	wait, hold   *prometheus.HistogramVec
	deadlocks    prometheus.Counter
	lockOrder    prometheus.Counter
	reports      *prometheus.CounterVec
	panics       prometheus.Counter
	threadErrors prometheus.Counter
	misuse       *prometheus.CounterVec
	collector    *collector

	waitObs, holdObs observerCache

	remove    func()
	closeOnce sync.Once
}

// Register registers every threading metric on reg and attaches the
// observer that fills the histograms.
func Register(reg prometheus.Registerer, opts ...Option) (*Metrics, error) {
	cfg := config{buckets: DefaultBuckets, maxLabels: 200}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.maxLabels < 1 {
		return nil, errors.New("metrics: WithMaxLabelValues needs at least 1")
	}
	m := &Metrics{cfg: cfg, reg: reg, labels: newLabeler(cfg.maxLabels)}
	histOpts := func(name, help string) prometheus.HistogramOpts {
		o := prometheus.HistogramOpts{Namespace: Namespace, Name: name, Help: help, Buckets: cfg.buckets}
		if cfg.native {
			o.NativeHistogramBucketFactor = 1.1
			o.NativeHistogramMaxBucketNumber = 160
			o.NativeHistogramMinResetDuration = time.Hour
		}
		return o
	}
	m.wait = prometheus.NewHistogramVec(histOpts("wait_seconds",
		"Time callers waited on a primitive, for waits that blocked; wait is contention (to acquire) or idle (to be notified)."),
		[]string{"kind", "name", "wait"})
	m.hold = prometheus.NewHistogramVec(histOpts("hold_seconds",
		"Time locks were held, sampled (see WithHoldSampling)."), []string{"kind", "name"})
	counter := func(name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Namespace: Namespace, Name: name, Help: help})
	}
	m.deadlocks = counter("deadlocks_total", "Deadlocks detected (cycles in the wait-for graph).")
	m.lockOrder = counter("lock_order_reports_total", "Lock-order inversions reported (potential deadlocks).")
	m.panics = counter("thread_panics_total", "Threads whose target panicked.")
	m.threadErrors = counter("thread_errors_total", "Threads whose target returned an error.")
	m.reports = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "reports_total",
		Help: "Reports of every kind: deadlock, lock_order, self_deadlock, held_at_exit, long_wait."}, []string{"kind"})
	m.misuse = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "misuse_total",
		Help: "Misuse errors returned (releasing what is not held, joining oneself, ...)."}, []string{"kind", "op"})
	m.collector = newCollector(m.labels)
	cs := []prometheus.Collector{m.wait, m.hold, m.deadlocks, m.lockOrder, m.panics, m.threadErrors, m.reports, m.misuse, m.collector}
	for i, c := range cs {
		if err := reg.Register(c); err != nil {
			for _, done := range cs[:i] {
				reg.Unregister(done)
			}
			return nil, err
		}
	}
	if cfg.holdEvery > 0 {
		threading.SetHoldSampling(cfg.holdEvery)
	}
	m.remove = threading.AddObserver(m)
	return m, nil
}

// Close detaches the observer and unregisters the metrics.
func (m *Metrics) Close() {
	m.closeOnce.Do(func() {
		m.remove()
		if m.cfg.holdEvery > 0 {
			threading.SetHoldSampling(0)
		}
		for _, c := range []prometheus.Collector{m.wait, m.hold, m.deadlocks, m.lockOrder, m.panics, m.threadErrors, m.reports, m.misuse, m.collector} {
			m.reg.Unregister(c)
		}
	})
}

// observerCache maps a primitive's kind and label to its histogram child, so
// the slow path skips the label cap and the vector's hashing after the first
// wait of each series.
type observerCache struct {
	mu sync.RWMutex
	m  map[cacheKey]prometheus.Observer
}

type cacheKey struct {
	kind  threading.Kind
	label string
	wait  string // "contention" or "idle"; "" for hold times
}

// Wait label values: a wait to acquire is contention, a wait to be notified
// (Condition/Cond wait, Event, Barrier, Join, WaitGroup/Group Wait) is idle.
const (
	WaitContention = "contention"
	WaitIdle       = "idle"
)

func waitLabel(k threading.WaitKind) string {
	if k.Idle() {
		return WaitIdle
	}
	return WaitContention
}

func (c *observerCache) get(vec *prometheus.HistogramVec, l *labeler, p threading.Primitive, wait string) prometheus.Observer {
	// The name label: the primitive's name or class (a joined Thread's
	// creation site, since thread names are per object).
	k8, lbl := plumb.ClassOf(p)
	k := cacheKey{threading.Kind(k8), lbl, wait}
	c.mu.RLock()
	obs, ok := c.m[k]
	c.mu.RUnlock()
	if ok {
		return obs
	}
	kind := k.kind.String()
	if wait != "" {
		obs = vec.WithLabelValues(kind, l.get(kind, k.label), wait)
	} else {
		obs = vec.WithLabelValues(kind, l.get(kind, k.label))
	}
	c.mu.Lock()
	if c.m == nil {
		c.m = make(map[cacheKey]prometheus.Observer)
	}
	if len(c.m) < 4*l.max { // past the cap, labels repeat: keep the cache bounded too
		c.m[k] = obs
	}
	c.mu.Unlock()
	return obs
}

// ObserveWait implements threading.Observer.
func (m *Metrics) ObserveWait(e *threading.WaitEvent) {
	obs := m.waitObs.get(m.wait, m.labels, e.Primitive, waitLabel(e.Kind))
	secs := e.Duration.Seconds()
	if m.cfg.traceID != nil {
		if id, ok := m.cfg.traceID(e.Ctx); ok {
			if eo, ok := obs.(prometheus.ExemplarObserver); ok {
				eo.ObserveWithExemplar(secs, prometheus.Labels{"trace_id": id})
				return
			}
		}
	}
	obs.Observe(secs)
}

// ObserveHold implements threading.Observer.
func (m *Metrics) ObserveHold(e *threading.HoldEvent) {
	m.holdObs.get(m.hold, m.labels, e.Primitive, "").Observe(e.Duration.Seconds())
}

// ObserveThread implements threading.Observer.
func (m *Metrics) ObserveThread(e *threading.ThreadEvent) {
	if e.Kind != threading.ThreadEnded || e.Err == nil || errors.Is(e.Err, threading.ErrExit) {
		return
	}
	if e.Panicked {
		m.panics.Inc()
	} else {
		m.threadErrors.Inc()
	}
}

// ObserveMisuse implements threading.Observer.
func (m *Metrics) ObserveMisuse(e *threading.MisuseEvent) {
	kind := threading.KindThread.String()
	if e.Primitive != nil {
		kind = threading.Describe(e.Primitive).Kind.String()
	}
	m.misuse.WithLabelValues(kind, e.Op).Inc()
}

// ObserveReport implements threading.Observer.
func (m *Metrics) ObserveReport(r *threading.Report) {
	m.reports.WithLabelValues(r.Kind.String()).Inc()
	switch r.Kind {
	case threading.ReportDeadlock:
		m.deadlocks.Inc()
	case threading.ReportLockOrder:
		m.lockOrder.Inc()
	}
}

// labeler caps the distinct name label values: the first max names seen keep
// their own label, later ones become Overflow. Once admitted, a name keeps
// its label, so series never move.
type labeler struct {
	mu   sync.Mutex
	max  int
	seen map[string]bool
}

func newLabeler(max int) *labeler { return &labeler{max: max, seen: make(map[string]bool)} }

func (l *labeler) get(kind, name string) string {
	key := kind + "\x00" + name
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.seen[key] {
		return name
	}
	if len(l.seen) >= l.max {
		return Overflow
	}
	l.seen[key] = true
	return name
}
