package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/threadmon/threadmon/contention"
)

// maxTargetBytes caps what threadmon reads of one response from a target.
const maxTargetBytes = 16 << 20

// TargetState is what threadmon knows of one watched service.
type TargetState struct {
	URL string `json:"url"`
	// Up is whether the last poll succeeded; Reason says why not.
	Up          bool      `json:"up"`
	Reason      string    `json:"reason,omitempty"`
	LastPoll    time.Time `json:"last_poll"`
	LastOK      time.Time `json:"last_ok"`
	PollSeconds float64   `json:"poll_seconds"`
	Threads     int       `json:"threads"`
	Deadlocks   int       `json:"deadlocks"`
}

type target struct {
	name    string // host:port, the prefix of its names in the merged view
	base    string // URL of its contention handler, without a trailing slash
	checker *contention.Checker
	// pollCtx is the context of the poll in progress, for the checker's
	// stack fetches; set and read only on the goroutine polling t.
	pollCtx context.Context

	mu        sync.Mutex
	state     TargetState
	graph     *contention.Graph // last good
	top       contention.Top
	lockorder []*contention.OrderReport
}

// sidecar polls other services' contention JSON and serves the merged view.
type sidecar struct {
	targets  []*target
	interval time.Duration
	client   *http.Client
	log      *zap.Logger

	up       *prometheus.GaugeVec
	pollDur  *prometheus.HistogramVec
	deadlock prometheus.Counter
}

// parseTarget checks a -target URL: http or https, with a host.
func parseTarget(raw string) (*target, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("-target %q: want an http(s) URL of a service's contention handler, like http://127.0.0.1:6060/debug/threading", raw)
	}
	base := strings.TrimRight(u.String(), "/")
	return &target{name: u.Host, base: base, state: TargetState{URL: base, Reason: "not polled yet"}}, nil
}

func newSidecar(urls []string, interval time.Duration, reg prometheus.Registerer, seen prometheus.Counter, log *zap.Logger) (*sidecar, error) {
	if interval <= 0 {
		return nil, errors.New("-interval must be positive")
	}
	sc := &sidecar{interval: interval, log: log, deadlock: seen,
		// A new connection per poll: no idle connection outlives a poll, and
		// a target that misbehaves cannot leave one half-read.
		client: &http.Client{Timeout: max(interval, time.Second), Transport: &http.Transport{DisableKeepAlives: true,
			MaxResponseHeaderBytes: 64 << 10, ResponseHeaderTimeout: max(interval, time.Second)}}}
	for _, u := range urls {
		t, err := parseTarget(u)
		if err != nil {
			return nil, err
		}
		// The stacks of a deadlock's threads come from the target's /stack
		// when the deadlock is confirmed: its /graph carries none.
		t.checker = contention.NewChecker(contention.WithStacks(func(idents []uint64) map[uint64]string {
			return sc.stacks(t.pollCtx, t, idents)
		}))
		sc.targets = append(sc.targets, t)
	}
	sc.up = prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "threadmon", Name: "target_up",
		Help: "1 when the last poll of the target succeeded."}, []string{"target"})
	sc.pollDur = prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: "threadmon", Name: "poll_duration_seconds",
		Help: "Time to poll a target.", Buckets: prometheus.ExponentialBuckets(0.001, 2, 14)}, []string{"target"})
	if err := reg.Register(sc.up); err != nil {
		return nil, err
	}
	if err := reg.Register(sc.pollDur); err != nil {
		return nil, err
	}
	return sc, nil
}

// run polls every target each interval until ctx ends.
func (sc *sidecar) run(ctx context.Context) {
	t := time.NewTicker(sc.interval)
	defer t.Stop()
	for {
		var wg sync.WaitGroup
		for _, tg := range sc.targets {
			wg.Add(1)
			go func() { defer wg.Done(); sc.poll(ctx, tg) }()
		}
		wg.Wait()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (sc *sidecar) poll(ctx context.Context, t *target) {
	start := time.Now()
	var g contention.Graph
	var top contention.Top
	var order []*contention.OrderReport
	err := sc.fetch(ctx, t, "/graph", &g)
	if err == nil {
		err = sc.fetch(ctx, t, "/contention?n=8", &top)
	}
	if err == nil {
		err = sc.fetch(ctx, t, "/lockorder", &order)
	}
	d := time.Since(start)
	sc.pollDur.WithLabelValues(t.name).Observe(d.Seconds())
	var found []*contention.Report
	if err == nil {
		// Outside t.mu: confirming a deadlock fetches its stacks.
		t.pollCtx = ctx
		found = t.checker.Check(&g)
		t.pollCtx = nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.state.LastPoll, t.state.PollSeconds = start, d.Seconds()
	if err != nil {
		if t.state.Up || t.state.Reason != err.Error() {
			sc.log.Warn("target down", zap.String("target", t.base), zap.Error(err))
		}
		t.state.Up, t.state.Reason = false, err.Error()
		sc.up.WithLabelValues(t.name).Set(0)
		return
	}
	t.state.Up, t.state.Reason, t.state.LastOK = true, "", start
	sc.up.WithLabelValues(t.name).Set(1)
	t.graph, t.top, t.lockorder = &g, top, order
	t.state.Threads = len(g.Threads)
	for _, r := range found {
		sc.deadlock.Inc()
		sc.log.Error("deadlock", zap.String("target", t.base), zap.Strings("primitives", r.Primitives), zap.String("report", r.Text))
	}
	t.state.Deadlocks = len(t.checker.Reports())
}

// fetch GETs one path of a target's API into v: a status other than 200, a
// body over maxTargetBytes, or JSON that does not fit v is an error.
func (sc *sidecar) fetch(ctx context.Context, t *target, path string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, t.base+path, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := sc.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) && ue.Timeout() {
			return fmt.Errorf("%s: timed out after %s", path, sc.client.Timeout)
		}
		return fmt.Errorf("%s: %w", path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: HTTP %d", path, resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxTargetBytes+1))
	if err != nil {
		return fmt.Errorf("%s: reading: %w", path, err)
	}
	if len(body) > maxTargetBytes {
		return fmt.Errorf("%s: response larger than %d bytes", path, maxTargetBytes)
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("%s: not the contention JSON: %w", path, err)
	}
	return nil
}

// stacks fetches the stacks of the given goroutines from a target's /stack,
// at most 64 at a time; a target that cannot serve them gives none.
func (sc *sidecar) stacks(ctx context.Context, t *target, idents []uint64) map[uint64]string {
	if ctx == nil {
		ctx = context.Background()
	}
	out := map[uint64]string{}
	for len(idents) > 0 {
		n := min(len(idents), 64)
		q := url.Values{}
		for _, id := range idents[:n] {
			q.Add("ident", strconv.FormatUint(id, 10))
		}
		idents = idents[n:]
		var got []contention.ThreadStack
		if err := sc.fetch(ctx, t, "/stack?"+q.Encode(), &got); err != nil {
			sc.log.Warn("stacks not fetched", zap.String("target", t.base), zap.Error(err))
			continue
		}
		for _, s := range got {
			out[s.Ident] = s.Stack
		}
	}
	return out
}

// stack serves /stack?id=I:t123 in the merged view: the stack of one thread,
// fetched from target I.
func (sc *sidecar) stack(w http.ResponseWriter, r *http.Request) {
	ids := r.URL.Query()["id"]
	if len(ids) != 1 {
		jsonError(w, http.StatusBadRequest, "give one thread as id=0:t123 (ids as in /graph)")
		return
	}
	pre, id, ok := strings.Cut(ids[0], ":")
	i, err := strconv.Atoi(pre)
	if !ok || err != nil || i < 0 || i >= len(sc.targets) {
		jsonError(w, http.StatusNotFound, "no thread "+strconv.Quote(ids[0]))
		return
	}
	t := sc.targets[i]
	var got []contention.ThreadStack
	if err := sc.fetch(r.Context(), t, "/stack?"+url.Values{"id": {id}}.Encode(), &got); err != nil {
		code := http.StatusBadGateway
		if strings.HasSuffix(err.Error(), "HTTP 404") { // the thread has ended
			code = http.StatusNotFound
		}
		jsonError(w, code, t.base+": "+err.Error())
		return
	}
	for j := range got {
		got[j].ID, got[j].Name = pre+":"+got[j].ID, t.name+"/"+got[j].Name
	}
	writeJSON(w, got)
}

// states returns every target's state.
func (sc *sidecar) states() []TargetState {
	out := make([]TargetState, 0, len(sc.targets))
	for _, t := range sc.targets {
		t.mu.Lock()
		out = append(out, t.state)
		t.mu.Unlock()
	}
	return out
}

// merged is the view across targets: every id gets the target's index as a
// prefix, every name the target's host.
func (sc *sidecar) merged() (*contention.Graph, []*contention.Report, contention.Top, []*contention.OrderReport) {
	g := &contention.Graph{Time: time.Now(), Threads: []*contention.Thread{}, Primitives: []*contention.Primitive{}, Edges: []contention.Edge{}}
	reports := []*contention.Report{}
	top := contention.Top{ByWait: []contention.Contended{}, ByCount: []contention.Contended{}}
	order := []*contention.OrderReport{}
	for i, t := range sc.targets {
		t.mu.Lock()
		pre, name := fmt.Sprintf("%d:", i), t.name+"/"
		if t.graph != nil {
			for _, th := range t.graph.Threads {
				c := *th
				c.ID, c.Name = pre+th.ID, name+th.Name
				c.Holds = prefixAll(pre, th.Holds)
				if th.Wait != nil {
					w := *th.Wait
					w.Primitive = pre + w.Primitive
					c.Wait = &w
				}
				g.Threads = append(g.Threads, &c)
			}
			for _, p := range t.graph.Primitives {
				c := *p
				c.ID, c.Label = pre+p.ID, name+p.Label
				c.Holders = prefixAll(pre, p.Holders)
				g.Primitives = append(g.Primitives, &c)
			}
			for _, e := range t.graph.Edges {
				e.From, e.To = pre+e.From, pre+e.To
				g.Edges = append(g.Edges, e)
			}
		}
		for _, r := range t.checker.Reports() {
			c := *r
			c.Threads = append([]contention.ReportThread(nil), r.Threads...)
			for j := range c.Threads {
				c.Threads[j].Name = name + c.Threads[j].Name
			}
			reports = append(reports, &c)
		}
		for _, c := range t.top.ByWait {
			c.Label = name + c.Label
			top.ByWait = append(top.ByWait, c)
		}
		for _, c := range t.top.ByCount {
			c.Label = name + c.Label
			top.ByCount = append(top.ByCount, c)
		}
		order = append(order, t.lockorder...)
		t.mu.Unlock()
	}
	g.Components() // the deadlocked components, by the merged ids
	return g, reports, top, order
}

func prefixAll(pre string, ids []string) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = pre + id
	}
	return out
}

// handler serves the merged view under /api/ in sidecar mode.
func (sc *sidecar) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/targets", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, sc.states()) })
	mux.HandleFunc("/graph", func(w http.ResponseWriter, r *http.Request) { g, _, _, _ := sc.merged(); writeJSON(w, g) })
	mux.HandleFunc("/threads", func(w http.ResponseWriter, r *http.Request) { g, _, _, _ := sc.merged(); writeJSON(w, g.Threads) })
	mux.HandleFunc("/primitives", func(w http.ResponseWriter, r *http.Request) { g, _, _, _ := sc.merged(); writeJSON(w, g.Primitives) })
	mux.HandleFunc("/deadlocks", func(w http.ResponseWriter, r *http.Request) { _, d, _, _ := sc.merged(); writeJSON(w, d) })
	mux.HandleFunc("/contention", func(w http.ResponseWriter, r *http.Request) { _, _, t, _ := sc.merged(); writeJSON(w, t) })
	mux.HandleFunc("/lockorder", func(w http.ResponseWriter, r *http.Request) { _, _, _, o := sc.merged(); writeJSON(w, o) })
	mux.HandleFunc("/stack", sc.stack)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, pattern := mux.Handler(r); pattern == "" {
			jsonError(w, http.StatusNotFound, "no such path in sidecar mode: "+r.URL.Path)
			return
		}
		mux.ServeHTTP(w, r)
	})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(v)
}
