package contention

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/threadmon/threadmon/internal/httpjson"
	"github.com/threadmon/threadmon/threading"
)

// Handler serves, read-only, relative to where it is mounted:
//
//	/threads     every live thread (JSON array of Thread), without stacks
//	/primitives  registered and waited-on primitives (JSON array of Primitive)
//	/graph       the wait-for graph (JSON Graph) with its deadlocked components, without stacks
//	/graph.dot   the same as Graphviz DOT, deadlocked components in red
//	/summary     the graph grouped (JSON Summary): what a page polls, bounded whatever the number of goroutines
//	/primitive   ?id=p12: one primitive drilled into (JSON PrimitiveView); &sites=1 finds where its
//	             waiters wait from a goroutine dump (a pause: asked for by a person, never polled)
//	/thread      ?id=t123: one thread drilled into (JSON ThreadView); its stack is /stack?id=t123
//	/stack       ?id=t123 or ?ident=123 (repeatable, at most 64): the stacks of those threads of the graph,
//	             a JSON array of {"id", "ident", "name", "stack"} ("" where the dump has none)
//	/deadlocks   deadlock reports (JSON array of Report; [] when none)
//	/longwaits   waits to acquire past the Detector's long-wait threshold (and, with
//	             WithIdleLongWaits, waits to be notified, their text beginning "info:")
//	/holders     blocked-holder reports of the Detector (JSON array of Report, kinds
//	             holder_blocked and leaked_holder; [] when none)
//	/lockorder   lock-order inversions (JSON array of OrderReport), when EnableLockOrder is on
//	/profile     a pprof contention profile (go tool pprof reads it); ?view=waiters (default: where threads blocked, sampled 1 in 8), releasers (where holders released to parked waiters) or classes (where primitives were created)
//	/contention  the most contended primitives, waits to acquire only: {"by_wait": [...], "by_count": [...]},
//	             and apart, the most time spent waiting to be notified: "idle"; ?n= (1..1000, default 10)
//	/leaks       goroutines the goroutineleak profile finds blocked for good (JSON LeakReport)
//	/targets     the services watched (threadmon's sidecar only; elsewhere 501)
//
// The JSON of /summary, /primitive, /thread and /contention is snake_case,
// durations in seconds. Examples, abridged:
//
//	GET /summary?q=db  (also groups=200, group_threads=10, primitives=100, threads=200, thread=t9 repeatable)
//	{"time": "2026-01-02T15:04:05Z", "query": "db",
//	 "counts": {"threads": 10000, "matched": 2872, "running": 2129, "waiting": 7871,
//	            "contention": 2871, "idle": 5000, "deadlocked": 0, "primitives": 124},
//	 "groups": [{"key": "acquire p1", "title": "2,871 threads wait to acquire Lock db, held by worker-3",
//	             "state": "waiting", "wait_kind": "acquire", "idle": false, "primitive": "p1",
//	             "primitive_kind": "Lock", "primitive_label": "db", "primitive_class": "app/db.go:12",
//	             "holders": [{"id": "t4", "name": "worker-3", "ident": 4, "seconds": 0, "holds": 1}],
//	             "count": 2871, "max_seconds": 12.5, "deadlocked": false,
//	             "threads": [{"id": "t2881", "name": "db-client-2880", "ident": 2881, "seconds": 12.5, "holds": 0}, ...],
//	             "target": 0}, ...],
//	 "groups_omitted": 0,
//	 "primitives": [{"id": "p1", "kind": "Lock", "label": "db", "class": "app/db.go:12", "state": "<locked Lock ...>",
//	                 "holders": ["t4"], "waiters": 2871, "idle_waiters": 0, "acquisitions": 1,
//	                 "contentions": 2871, "wait_seconds": 0.8, "deadlocked": false, "target": 0}],
//	 "primitives_omitted": 0,
//	 "threads": [{"id": "t4", "name": "worker-3", "ident": 4, "state": "running", "holds": ["p1"], "deadlocked": false, "target": 0}],
//	 "deadlocked": []}
//
//	GET /summary?group=acquire+p1&offset=0&limit=200  one group (JSON ThreadGroup), up to 1000 of its threads
//
//	GET /primitive?id=p1
//	{"time": "...", "primitive": {"id": "p1", "kind": "Lock", "label": "db", ..., "waiters": 2871},
//	 "created_at": "app/db.go:12", "holders": [{"id": "t4", "name": "worker-3", ...}],
//	 "waiters": [{"wait_kind": "acquire", "idle": false, "site": "", "count": 2871, "max_seconds": 12.5,
//	              "threads": [... at most 20 ...]}],
//	 "waits": [{"le_seconds": 0.000064, "count": 120, "idle": 0}, ..., {"le_seconds": -1, "count": 1, "idle": 0}],
//	 "history": [{"at": "...", "seconds": 5, "acquisition_rate": 210.4, "contention_rate": 12.2, "mean_wait_seconds": 0.004}]}
//
// "waits" is the class's wait-time distribution since the handler was made
// (log2 buckets; -1 is "longer"), "history" its rates over the last five
// minutes, sampled at most every 5 s while the API is polled and kept in a
// bounded ring; a waiter group's "site" is where its waits blocked when
// the wait's stack was sampled (threading.SetWaitStackSampling).
//
//	GET /thread?id=t4
//	{"time": "...", "thread": {"id": "t4", "name": "worker-3", ...}, "holds": [{"id": "p1", "kind": "Lock", ...}],
//	 "waits_on": null, "holders": []}
//
//	GET /contention?n=8
//	{"by_wait": [{"kind": "Lock", "label": "db", "live": 1, "acquisitions": 9000, "contentions": 4000,
//	              "timeouts": 0, "wait_seconds": 35.2, "waiters": 2871, "idle": false}],
//	 "by_count": [...],
//	 "idle": [{"kind": "Event", "label": "jobs", ..., "idle": true}]}
//
// Stacks come from a goroutine dump, which stops the world while it is
// written, so only /stack and /primitive?sites=1 (what a person opens) and deadlock and
// long-wait reports take one; the paths a page polls (/summary, /graph,
// /threads, /contention, /deadlocks, ...) never do. A dump is shared:
// concurrent requests wait for the one in flight, and /stack serves one up to
// a second old.
//
// Handler serves Local(nil), this process without a Detector; to serve a
// Detector's reports, use NewHandler(Local(d)).
//
//	mux.Handle("/debug/threading/", http.StripPrefix("/debug/threading", contention.Handler()))
func Handler() http.Handler { return NewHandler(Local(nil)) }

// listPaths are the paths Source.List serves.
var listPaths = []string{"/graph", "/threads", "/primitives", "/deadlocks", "/longwaits", "/holders", "/lockorder",
	"/leaks", "/targets", "/contention"}

// NewHandler serves src at the paths Handler documents, read-only; a path
// src cannot serve answers with a JSON error, never a bare 404.
func NewHandler(src Source) http.Handler {
	mux := http.NewServeMux()
	serve := func(w http.ResponseWriter, v any, err error) {
		if err != nil {
			httpjson.WriteErr(w, err)
			return
		}
		httpjson.Write(w, v)
	}
	for _, path := range listPaths {
		mux.HandleFunc("GET "+path, func(w http.ResponseWriter, r *http.Request) {
			n := 10
			if q := r.URL.Query().Get("n"); q != "" && path == "/contention" {
				v, err := strconv.Atoi(q)
				if err != nil || v < 1 || v > 1000 {
					httpjson.Error(w, http.StatusBadRequest, "n must be an integer from 1 to 1000")
					return
				}
				n = v
			}
			v, err := src.List(path, n)
			serve(w, v, err)
		})
	}
	mux.HandleFunc("GET /graph.dot", func(w http.ResponseWriter, r *http.Request) {
		g, err := src.Graph()
		if err != nil {
			httpjson.WriteErr(w, err)
			return
		}
		w.Header().Set("Content-Type", "text/vnd.graphviz; charset=utf-8")
		_, _ = w.Write([]byte(g.DOT()))
	})
	mux.HandleFunc("GET /stack", func(w http.ResponseWriter, r *http.Request) {
		ids, err := stackIDs(r.URL.Query())
		if err != nil {
			httpjson.Error(w, http.StatusBadRequest, err.Error())
			return
		}
		v, err := src.Stacks(r.Context(), ids)
		serve(w, v, err)
	})
	mux.HandleFunc("GET /summary", func(w http.ResponseWriter, r *http.Request) {
		o, err := summaryOptionsOf(r.URL.Query())
		if err != nil {
			httpjson.Error(w, http.StatusBadRequest, err.Error())
			return
		}
		var v any
		if key := r.URL.Query().Get("group"); key != "" {
			v, err = src.Group(key, o.SummaryOptions, o.offset, o.limit)
		} else {
			v, err = src.Summary(o.SummaryOptions)
		}
		serve(w, v, err)
	})
	mux.HandleFunc("GET /primitive", func(w http.ResponseWriter, r *http.Request) {
		v, err := src.Primitive(r.URL.Query().Get("id"), r.URL.Query().Get("sites") == "1")
		serve(w, v, err)
	})
	mux.HandleFunc("GET /thread", func(w http.ResponseWriter, r *http.Request) {
		v, err := src.Thread(r.URL.Query().Get("id"))
		serve(w, v, err)
	})
	mux.HandleFunc("GET /profile", func(w http.ResponseWriter, r *http.Request) {
		p, err := src.Profile(r.Context(), r.URL.Query().Get("view"))
		var buf bytes.Buffer
		if err == nil {
			if err = p.Write(&buf); err != nil {
				err = fmt.Errorf("profile: %w", err)
			}
		}
		if err != nil {
			httpjson.WriteErr(w, err)
			return
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Disposition", `attachment; filename="contention.pb.gz"`)
		_, _ = w.Write(buf.Bytes())
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		httpjson.Error(w, http.StatusNotFound, "no such path: "+r.URL.Path)
	})
	return httpjson.ReadOnly(mux)
}

// maxStacks caps the threads one /stack request asks for.
const maxStacks = 64

// stackIDs are the threads /stack asks for, by node id: id=t123 as is,
// ident=123 as t123.
func stackIDs(q url.Values) ([]string, error) {
	ids := append([]string(nil), q["id"]...)
	for _, s := range q["ident"] {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("ident %q: want a goroutine id", s)
		}
		ids = append(ids, threadID(n))
	}
	if len(ids) == 0 || len(ids) > maxStacks {
		return nil, fmt.Errorf("give from 1 to %d threads, as id=t123 or ident=123", maxStacks)
	}
	return ids, nil
}

// Contended is one class of primitives (a name, or a creation site) and its
// statistics, totals included for collected primitives.
type Contended struct {
	Kind         string  `json:"kind"`
	Label        string  `json:"label"`
	Live         int     `json:"live"`
	Acquisitions uint64  `json:"acquisitions"`
	Contentions  uint64  `json:"contentions"`
	Timeouts     uint64  `json:"timeouts"`
	WaitSeconds  float64 `json:"wait_seconds"`
	Waiters      int     `json:"waiters"`
	// Idle is true for kinds whose waits are waits to be notified
	// (Condition, Cond, Event, Barrier, Thread joins, WaitGroup, Group):
	// idle waiting, not contention.
	Idle bool `json:"idle"`
}

// Top is the n most contended classes by total wait and by count, waits to
// acquire only; Idle is the n classes with the most total time spent
// waiting to be notified, kept apart: a worker pool's idle workers waiting
// on a Condition are not contention.
type Top struct {
	ByWait  []Contended `json:"by_wait"`
	ByCount []Contended `json:"by_count"`
	Idle    []Contended `json:"idle"`
}

// IdleKind says whether the waits on a primitive of kind k are waits to be
// notified (idle waiting) rather than waits to acquire (contention).
func IdleKind(k threading.Kind) bool {
	switch k.String() {
	case "Condition", "Cond", "Event", "Barrier", "Thread", "WaitGroup", "Group":
		return true
	}
	return false
}

// TopContended returns the n classes with the most total wait and the n with
// the most contentions, among the waits to acquire, and the n with the most
// total idle waiting.
func TopContended(n int) Top {
	var all, idle []Contended
	for _, c := range threading.Classes() {
		if c.Stats.Contentions == 0 {
			continue
		}
		x := Contended{Kind: c.Kind.String(), Label: c.Label, Live: c.Live, Acquisitions: c.Stats.Acquisitions,
			Contentions: c.Stats.Contentions, Timeouts: c.Stats.Timeouts, WaitSeconds: c.Stats.WaitTotal.Seconds(), Waiters: c.Stats.Waiters,
			Idle: IdleKind(c.Kind)}
		if x.Idle {
			idle = append(idle, x)
		} else {
			all = append(all, x)
		}
	}
	top := func(from []Contended, less func(a, b Contended) bool) []Contended {
		s := append([]Contended(nil), from...)
		sort.SliceStable(s, func(i, j int) bool { return less(s[i], s[j]) })
		if len(s) > n {
			s = s[:n]
		}
		if s == nil {
			s = []Contended{}
		}
		return s
	}
	byWait := func(a, b Contended) bool { return a.WaitSeconds > b.WaitSeconds }
	return Top{
		ByWait:  top(all, byWait),
		ByCount: top(all, func(a, b Contended) bool { return a.Contentions > b.Contentions }),
		Idle:    top(idle, byWait),
	}
}

// Serve serves Handler on addr (default "127.0.0.1:0", loopback), in one
// line: addr, stop, err := contention.Serve(""). It returns the address it
// listens on.
func Serve(addr string) (string, func() error, error) {
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: Handler(), ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second,
		WriteTimeout: 30 * time.Second, IdleTimeout: time.Minute}
	go func() { _ = srv.Serve(ln) }()
	return ln.Addr().String(), srv.Close, nil
}

// DOT renders the graph for Graphviz: threads as boxes, primitives as
// ellipses, "waits on" edges solid, "held by" edges dashed; the threads,
// primitives and edges of deadlocked components in red.
func (g *Graph) DOT() string {
	red := map[string]bool{}
	for _, c := range g.Components() {
		in := map[string]bool{}
		for _, id := range c.Threads {
			in[id] = true
		}
		for _, id := range c.Threads {
			t := g.threads[id]
			red[id], red[id+">"+t.Wait.Primitive] = true, true
		}
		for _, pid := range c.Primitives {
			p := g.prims[pid]
			red[pid] = true
			for _, h := range p.Holders {
				if in[h] {
					red[pid+">"+h] = true
				}
			}
		}
	}
	var b strings.Builder
	b.WriteString("digraph threading {\n  rankdir=LR;\n  node [fontname=\"Helvetica\"];\n")
	color := func(key string) string {
		if red[key] {
			return ", color=red, fontcolor=red"
		}
		return ""
	}
	for _, t := range g.Threads {
		label := t.Name + "\n" + t.State
		if t.Blocked != nil {
			label += "\nblocked on " + t.Blocked.Op
			if t.Blocked.Site != "" {
				label += " at " + t.Blocked.Site
			}
		}
		fmt.Fprintf(&b, "  %q [shape=box, label=%q%s];\n", t.ID, label, color(t.ID))
	}
	for _, p := range g.Primitives {
		fmt.Fprintf(&b, "  %q [shape=ellipse, label=%q%s];\n", p.ID, p.Kind+" "+p.Label, color(p.ID))
	}
	for _, e := range g.Edges {
		style := "solid"
		label := e.Kind
		if e.Type == "held_by" {
			style, label = "dashed", "held by"
		}
		fmt.Fprintf(&b, "  %q -> %q [style=%s, label=%q%s];\n", e.From, e.To, style, label, color(e.From+">"+e.To))
	}
	b.WriteString("}\n")
	return b.String()
}
