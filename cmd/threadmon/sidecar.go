package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/threadmon/threadmon/contention"
)

// sidecarOptions configure sidecar mode: which services to watch and how
// much of them to keep.
type sidecarOptions struct {
	// targets are -target URLs; fileSD are Prometheus file_sd files (paths
	// or globs) whose targets are watched too.
	targets []string
	fileSD  []string
	// sdPath is the path of the contention handler on file_sd targets
	// (their host:port is Prometheus's), sdPort the port, if not theirs;
	// sdRefresh how often the files' modification times are checked.
	sdPath    string
	sdPort    string
	sdRefresh time.Duration
	// interval is how often every target is polled; timeout bounds one
	// target's poll (default: interval, at least 1 s); workers is how many
	// targets are polled at once.
	interval time.Duration
	timeout  time.Duration
	workers  int
	// maxTargetBytes caps one response from a target, maxRetained the JSON
	// kept of all targets together, maxTargets their number.
	maxTargetBytes int64
	maxRetained    int64
	maxTargets     int
	// dropAfter is how long a down target's last good data is shown (as
	// stale) after its last good poll before it is dropped.
	dropAfter time.Duration
	limits    contention.Limits
}

func (o *sidecarOptions) defaults() error {
	if o.interval <= 0 {
		return errors.New("-interval must be positive")
	}
	if o.timeout <= 0 {
		o.timeout = max(o.interval, time.Second)
	}
	if o.workers <= 0 {
		o.workers = 16
	}
	if o.maxTargetBytes <= 0 {
		o.maxTargetBytes = 16 << 20
	}
	if o.maxRetained <= 0 {
		o.maxRetained = 256 << 20
	}
	if o.maxTargets <= 0 {
		o.maxTargets = 1000
	}
	if o.dropAfter <= 0 {
		o.dropAfter = 5 * time.Minute
	}
	if o.sdRefresh <= 0 {
		o.sdRefresh = 5 * time.Second
	}
	return nil
}

const (
	// maxReportsPerTarget caps the deadlock reports kept of one target, and
	// maxStackBytes one thread's stack in them.
	maxReportsPerTarget = 16
	maxStackBytes       = 16 << 10
	maxReason           = 400
)

// TargetState is what threadmon knows of one watched service.
type TargetState struct {
	// ID prefixes the ids of the target's threads and primitives in the
	// merged view ("3:t12"); Name (host:port) prefixes their names.
	ID   int    `json:"id"`
	Name string `json:"name"`
	// URL is the target's contention handler, its password redacted.
	URL string `json:"url"`
	// Labels are the target's labels from file_sd; Source is "-target" or
	// the file it was found in.
	Labels map[string]string `json:"labels,omitempty"`
	Source string            `json:"source"`
	// Up is whether the last poll succeeded; Reason says why not.
	Up       bool      `json:"up"`
	Reason   string    `json:"reason,omitempty"`
	LastPoll time.Time `json:"last_poll"`
	LastOK   time.Time `json:"last_ok"`
	// Stale is true when the target is down and the merged view shows its
	// data of LastOK; it is dropped dropAfter after LastOK.
	Stale       bool    `json:"stale"`
	PollSeconds float64 `json:"poll_seconds"`
	Threads     int     `json:"threads"`
	Deadlocks   int     `json:"deadlocks"`
	// Bytes is the JSON kept of it.
	Bytes int64 `json:"bytes"`
}

// snapshot is a target's last good poll; read-only once made. longWaits
// and holders are its detector's, nil when it serves none.
type snapshot struct {
	graph     *contention.Graph
	top       contention.Top
	order     []*contention.OrderReport
	longWaits []*contention.LongWait
	holders   []*contention.Report
	bytes     int64
}

type target struct {
	id     int
	key    string   // the URL without credentials: who it is
	name   string   // host:port
	base   *url.URL // without credentials
	user   *url.Userinfo
	shown  string // the URL as shown: password redacted
	labels map[string]string
	source string

	// checker and pollCtx are used only by the goroutine polling the target
	// (one at a time).
	checker *contention.Checker
	pollCtx context.Context

	mu      sync.Mutex // never held across I/O
	state   TargetState
	snap    *snapshot
	reports []*contention.Report
	removed bool // no longer watched: a poll in flight keeps nothing
}

// parseTarget checks a target URL: http or https, with a host. Credentials
// in it are used as basic authentication and shown nowhere.
func parseTarget(raw string) (*target, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Opaque != "" {
		shown := "(unparsable)"
		if err == nil {
			shown = strconv.Quote(u.Redacted())
		}
		return nil, fmt.Errorf("target %s: want an http(s) URL of a service's contention handler, like http://127.0.0.1:6060/debug/threading", shown)
	}
	t := &target{user: u.User, name: u.Host}
	u.User, u.Fragment, u.RawFragment = nil, "", ""
	u.Path, u.RawPath = strings.TrimRight(u.Path, "/"), ""
	t.base, t.key = u, u.String()
	shown := *u
	shown.User = t.user
	t.shown = shown.Redacted()
	return t, nil
}

// endpoint is the URL of path (with query q) on the target: the path after
// the target's, the query after the target's own.
func (t *target) endpoint(path string, q url.Values) string {
	u := *t.base
	u.Path = t.base.Path + path
	if extra := q.Encode(); extra != "" {
		if u.RawQuery != "" {
			u.RawQuery += "&"
		}
		u.RawQuery += extra
	}
	return u.String()
}

// sidecar polls other services' contention JSON and serves the merged view.
type sidecar struct {
	opts   sidecarOptions
	client *http.Client
	log    *zap.Logger
	sd     *fileSD // nil without -file-sd

	mu      sync.Mutex // guards targets and nextID; never held across I/O
	targets []*target  // by id
	nextID  int

	retained atomic.Int64
	view     atomic.Pointer[view]
	cycles   atomic.Int64

	pollDur  *prometheus.HistogramVec
	cycleDur prometheus.Histogram
	deadlock prometheus.Counter
}

var errRedirect = errors.New("redirect refused")

func newSidecar(opts sidecarOptions, reg prometheus.Registerer, seen prometheus.Counter, log *zap.Logger) (*sidecar, error) {
	if err := opts.defaults(); err != nil {
		return nil, err
	}
	sc := &sidecar{opts: opts, log: log, deadlock: seen,
		client: &http.Client{
			Timeout: opts.timeout,
			// A target answers for itself: a redirect, to its own host or
			// another, is refused, never followed.
			CheckRedirect: func(req *http.Request, via []*http.Request) error { return errRedirect },
			Transport: &http.Transport{MaxResponseHeaderBytes: 64 << 10, ResponseHeaderTimeout: opts.timeout,
				MaxIdleConnsPerHost: 1, IdleConnTimeout: 2*opts.interval + time.Second, ForceAttemptHTTP2: false},
		}}
	var static []*target
	for _, u := range opts.targets {
		t, err := parseTarget(u)
		if err != nil {
			return nil, fmt.Errorf("-%w", err)
		}
		t.source = "-target"
		static = append(static, t)
	}
	if len(opts.fileSD) > 0 {
		sc.sd = newFileSD(opts.fileSD, opts.sdPath, opts.sdPort, opts.maxTargets, log)
	}
	sc.setTargets(static, nil)
	if sc.sd != nil {
		sc.refreshSD(true)
	}
	sc.pollDur = prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: "threadmon", Name: "poll_duration_seconds",
		Help: "Time to poll a target.", Buckets: prometheus.ExponentialBuckets(0.001, 2, 14)}, []string{"target"})
	sc.cycleDur = prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: "threadmon", Name: "poll_cycle_seconds",
		Help: "Time to poll every target once and publish the merged view.", Buckets: prometheus.ExponentialBuckets(0.001, 2, 16)})
	retained := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "threadmon", Name: "retained_bytes",
		Help: "Bytes of the targets' JSON kept, all targets together."}, func() float64 { return float64(sc.retained.Load()) })
	for _, c := range []prometheus.Collector{sc.pollDur, sc.cycleDur, retained, upCollector{sc}} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	sc.publish()
	return sc, nil
}

// setTargets makes the watched set static plus found (file_sd's), keeping
// the targets (and their data) already watched, dropping the others.
func (sc *sidecar) setTargets(static, found []*target) {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	old := map[string]*target{}
	for _, t := range sc.targets {
		old[t.key] = t
	}
	var next []*target
	seen := map[string]bool{}
	for _, t := range slices.Concat(static, found) {
		if seen[t.key] || len(next) >= sc.opts.maxTargets {
			continue
		}
		seen[t.key] = true
		if o := old[t.key]; o != nil {
			o.mu.Lock()
			o.labels, o.source = t.labels, t.source
			o.state.Labels, o.state.Source = t.labels, t.source
			o.mu.Unlock()
			next = append(next, o)
			continue
		}
		t.id = sc.nextID
		sc.nextID++
		t.checker = contention.NewChecker(contention.WithMaxReports(maxReportsPerTarget),
			contention.WithStacks(func(idents []uint64) map[uint64]string { return sc.fetchStacks(t.pollCtx, t, idents) }))
		t.state = TargetState{ID: t.id, Name: t.name, URL: t.shown, Labels: t.labels, Source: t.source, Reason: "not polled yet"}
		next = append(next, t)
	}
	for _, t := range sc.targets {
		if !seen[t.key] {
			t.mu.Lock()
			t.removed = true
			if t.snap != nil {
				sc.retained.Add(-t.snap.bytes)
				t.snap = nil
			}
			t.mu.Unlock()
			if sc.pollDur != nil {
				sc.pollDur.DeleteLabelValues(t.name)
			}
			sc.log.Info("target no longer watched", zap.String("target", t.shown))
		}
	}
	slices.SortFunc(next, func(a, b *target) int { return a.id - b.id })
	sc.targets = next
}

// refreshSD re-reads the file_sd files if they changed (or if force).
func (sc *sidecar) refreshSD(force bool) {
	found, changed := sc.sd.read(force)
	if !changed {
		return
	}
	sc.mu.Lock()
	var static []*target
	for _, t := range sc.targets {
		if t.source == "-target" {
			static = append(static, t)
		}
	}
	sc.mu.Unlock()
	sc.setTargets(static, found)
}

func (sc *sidecar) watched() []*target {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	return slices.Clone(sc.targets)
}

func (sc *sidecar) byID(id int) *target {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	i, ok := slices.BinarySearchFunc(sc.targets, id, func(t *target, id int) int { return t.id - id })
	if !ok {
		return nil
	}
	return sc.targets[i]
}

// run polls every target each interval, publishes the merged view after
// each round, and re-reads the file_sd files when they change, until ctx
// ends.
func (sc *sidecar) run(ctx context.Context) {
	tick := time.NewTicker(sc.opts.interval)
	defer tick.Stop()
	lastSD := time.Now()
	for {
		if sc.sd != nil && time.Since(lastSD) >= sc.opts.sdRefresh {
			sc.refreshSD(false)
			lastSD = time.Now()
		}
		start := time.Now()
		sc.pollAll(ctx)
		sc.safely("publish", sc.publish) // on a panic, the last view stays
		sc.cycleDur.Observe(time.Since(start).Seconds())
		sc.cycles.Add(1)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// safely runs fn, logging a panic rather than ending threadmon: what a
// target sends is validated before use, so this is a last line only.
func (sc *sidecar) safely(what string, fn func()) {
	defer func() {
		if r := recover(); r != nil {
			sc.log.Error("panic: recovered", zap.String("in", what), zap.Any("panic", r), zap.Stack("stack"))
		}
	}()
	fn()
}

// pollAll polls every target once, at most opts.workers at a time.
func (sc *sidecar) pollAll(ctx context.Context) {
	targets := sc.watched()
	jobs := make(chan *target)
	var wg sync.WaitGroup
	for range min(sc.opts.workers, len(targets)) {
		wg.Go(func() {
			for t := range jobs {
				sc.safely("poll "+t.shown, func() { sc.poll(ctx, t) })
			}
		})
	}
feed:
	for _, t := range targets {
		select {
		case jobs <- t:
		case <-ctx.Done():
			break feed
		}
	}
	close(jobs)
	wg.Wait()
}

func (sc *sidecar) poll(ctx context.Context, t *target) {
	ctx, cancel := context.WithTimeout(ctx, sc.opts.timeout)
	defer cancel()
	start := time.Now()
	snap, err := sc.fetchSnapshot(ctx, t)
	var found []*contention.Report
	if err == nil {
		found, err = sc.check(ctx, t, snap.graph)
	}
	d := time.Since(start)

	t.mu.Lock()
	defer t.mu.Unlock()
	if t.removed {
		return
	}
	sc.pollDur.WithLabelValues(t.name).Observe(d.Seconds())
	t.state.LastPoll, t.state.PollSeconds = start, d.Seconds()
	if err == nil {
		old := int64(0)
		if t.snap != nil {
			old = t.snap.bytes
		}
		if !sc.reserve(old, snap.bytes) {
			err = fmt.Errorf("not kept: the targets' JSON would pass -max-retained (%d MiB)", sc.opts.maxRetained>>20)
		}
	}
	if err != nil {
		if ctx.Err() != nil && !errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return // threadmon is stopping
		}
		// The reason quotes what the target sent: a few hundred bytes of it.
		reason := err.Error()
		if len(reason) > maxReason {
			reason = strings.ToValidUTF8(reason[:maxReason], "") + "…"
		}
		if t.state.Up || t.state.Reason != reason {
			sc.log.Warn("target down", zap.String("target", t.shown), zap.String("reason", reason))
		}
		t.state.Up, t.state.Reason = false, reason
		if t.snap != nil && start.Sub(t.state.LastOK) > sc.opts.dropAfter {
			sc.log.Info("stale data dropped", zap.String("target", t.shown), zap.Time("last_ok", t.state.LastOK))
			sc.retained.Add(-t.snap.bytes)
			t.snap, t.reports = nil, nil
			t.state.Threads, t.state.Deadlocks, t.state.Bytes = 0, 0, 0
		}
		t.state.Stale = t.snap != nil
		return
	}
	if !t.state.Up && !t.state.LastPoll.IsZero() && t.state.Reason != "not polled yet" {
		sc.log.Info("target up", zap.String("target", t.shown))
	}
	t.state.Up, t.state.Reason, t.state.LastOK, t.state.Stale = true, "", start, false
	t.snap = snap
	t.reports = t.checker.Reports()
	t.state.Threads, t.state.Deadlocks, t.state.Bytes = len(snap.graph.Threads), len(t.reports), snap.bytes
	for _, r := range found {
		sc.deadlock.Inc()
		sc.log.Error("deadlock", zap.String("target", t.shown), zap.Strings("primitives", r.Primitives), zap.String("report", r.Text))
	}
}

// reserve accounts for a target's snapshot of size new replacing one of
// size old, unless that would pass the cap.
func (sc *sidecar) reserve(old, new int64) bool {
	for {
		cur := sc.retained.Load()
		next := cur - old + new
		if new > old && next > sc.opts.maxRetained {
			return false
		}
		if sc.retained.CompareAndSwap(cur, next) {
			return true
		}
	}
}

// check confirms deadlocks in a validated graph. A panic in the check (a
// graph nothing should let through) marks the target down rather than end
// threadmon.
func (sc *sidecar) check(ctx context.Context, t *target, g *contention.Graph) (found []*contention.Report, err error) {
	defer func() {
		if r := recover(); r != nil {
			sc.log.Error("checking a target's graph panicked", zap.String("target", t.shown), zap.Any("panic", r))
			found, err = nil, fmt.Errorf("/graph: could not be checked: %v", r)
		}
	}()
	t.pollCtx = ctx
	defer func() { t.pollCtx = nil }()
	return t.checker.Check(g), nil
}

func (sc *sidecar) fetchSnapshot(ctx context.Context, t *target) (*snapshot, error) {
	l := sc.opts.limits
	s := &snapshot{}
	body, err := sc.get(ctx, t, "/graph", nil)
	if err != nil {
		return nil, err
	}
	s.bytes += int64(len(body))
	if s.graph, err = contention.DecodeGraph(body, l); err != nil {
		return nil, fmt.Errorf("/graph: not the contention JSON: %w", err)
	}
	body = nil
	if body, err = sc.get(ctx, t, "/contention", url.Values{"n": {"8"}}); err != nil {
		return nil, err
	}
	s.bytes += int64(len(body))
	if s.top, err = contention.DecodeTop(body, l); err != nil {
		return nil, fmt.Errorf("/contention: not the contention JSON: %w", err)
	}
	if body, err = sc.get(ctx, t, "/lockorder", nil); err != nil {
		return nil, err
	}
	s.bytes += int64(len(body))
	if s.order, err = contention.DecodeOrderReports(body, l); err != nil {
		return nil, fmt.Errorf("/lockorder: not the contention JSON: %w", err)
	}
	// A target's detector reports, if it serves them (a target without a
	// detector, or of an older version, does not): none is no error.
	if body, err = sc.get(ctx, t, "/longwaits", nil); err == nil {
		if s.longWaits, err = contention.DecodeLongWaits(body, l); err == nil {
			s.bytes += int64(len(body))
		}
	}
	if body, err = sc.get(ctx, t, "/holders", nil); err == nil {
		if s.holders, err = contention.DecodeReports(body, l); err == nil {
			s.bytes += int64(len(body))
		}
	}
	return s, nil
}

// get GETs one path of a target's API: a status other than 200, a redirect
// or a body over maxTargetBytes is an error. Errors name the path, never the
// URL (which may carry a query the user would not publish).
func (sc *sidecar) get(ctx context.Context, t *target, path string, q url.Values) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, t.endpoint(path, q), nil)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	req.Header.Set("Accept", "application/json")
	if t.user != nil {
		pw, _ := t.user.Password()
		req.SetBasicAuth(t.user.Username(), pw)
	}
	resp, err := sc.client.Do(req)
	if err != nil {
		if resp != nil {
			resp.Body.Close()
		}
		var ue *url.Error
		switch {
		case errors.Is(err, errRedirect):
			return nil, fmt.Errorf("%s: redirect refused (a target must answer itself)", path)
		case errors.As(err, &ue) && ue.Timeout():
			return nil, fmt.Errorf("%s: timed out after %s", path, sc.opts.timeout)
		case errors.As(err, &ue):
			return nil, fmt.Errorf("%s: %w", path, ue.Err)
		}
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: HTTP %d", path, resp.StatusCode)
	}
	if resp.ContentLength > sc.opts.maxTargetBytes {
		return nil, fmt.Errorf("%s: response larger than %d bytes", path, sc.opts.maxTargetBytes)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, sc.opts.maxTargetBytes+1))
	if err != nil {
		var ue *url.Error
		if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ue) && ue.Timeout()) {
			return nil, fmt.Errorf("%s: timed out after %s", path, sc.opts.timeout)
		}
		return nil, fmt.Errorf("%s: reading: %w", path, err)
	}
	if int64(len(body)) > sc.opts.maxTargetBytes {
		return nil, fmt.Errorf("%s: response larger than %d bytes", path, sc.opts.maxTargetBytes)
	}
	return body, nil
}

// fetchStacks fetches the stacks of the given goroutines from a target's /stack,
// at most 64 at a time, each cut to maxStackBytes; a target that cannot
// serve them gives none.
func (sc *sidecar) fetchStacks(ctx context.Context, t *target, idents []uint64) map[uint64]string {
	if ctx == nil {
		ctx = context.Background()
	}
	out := map[uint64]string{}
	for len(idents) > 0 && ctx.Err() == nil {
		n := min(len(idents), 64)
		q := url.Values{}
		for _, id := range idents[:n] {
			q.Add("ident", strconv.FormatUint(id, 10))
		}
		idents = idents[n:]
		body, err := sc.get(ctx, t, "/stack", q)
		var got []contention.ThreadStack
		if err == nil {
			got, err = contention.DecodeStacks(body, sc.opts.limits)
		}
		if err != nil {
			sc.log.Warn("stacks not fetched", zap.String("target", t.shown), zap.Error(err))
			continue
		}
		for _, s := range got {
			out[s.Ident] = cut(s.Stack, maxStackBytes)
		}
	}
	return out
}

func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "\n... (cut)"
}
