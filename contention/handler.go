package contention

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/threadmon/threadmon/threading"
)

// Handler serves, read-only, relative to where it is mounted:
//
//	/threads     every live thread (JSON array of Thread), without stacks
//	/primitives  registered and waited-on primitives (JSON array of Primitive)
//	/graph       the wait-for graph (JSON Graph) with its deadlocked components, without stacks
//	/graph.dot   the same as Graphviz DOT, deadlocked components in red
//	/stack       ?id=t123 or ?ident=123 (repeatable, at most 64): the stacks of those threads of the graph,
//	             a JSON array of {"id", "ident", "name", "stack"} ("" where the dump has none)
//	/deadlocks   deadlock reports (JSON array of Report; [] when none)
//	/longwaits   waits past the default Detector's long-wait threshold
//	/lockorder   lock-order inversions (JSON array of OrderReport), when EnableLockOrder is on
//	/profile     a pprof contention profile (go tool pprof reads it); ?view=classes (default), waiters or releasers
//	/contention  the most contended primitives: {"by_wait": [...], "by_count": [...]}, ?n= (1..1000, default 10)
//
// Stacks come from a goroutine dump, which stops the world while it is
// written, so only /stack (a thread a person opens) and deadlock and
// long-wait reports take one; the paths a page polls (/graph, /threads,
// /contention, /deadlocks, ...) never do. A dump is shared: concurrent
// requests wait for the one in flight, and /stack serves one up to a second
// old.
//
// /deadlocks serves the default Detector's reports (see Start); without one,
// it looks twice, 100 ms apart (concurrent requests share the looks), and
// serves the deadlocks confirmed and still standing, each reported, and its
// stacks dumped, once.
//
//	mux.Handle("/debug/threading/", http.StripPrefix("/debug/threading", contention.Handler()))
func Handler() http.Handler {
	mux := http.NewServeMux()
	confirm := &confirmer{c: NewChecker()}
	mux.HandleFunc("/threads", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, Snapshot().Threads) })
	mux.HandleFunc("/primitives", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, Snapshot().Primitives) })
	mux.HandleFunc("/graph", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, Snapshot()) })
	mux.HandleFunc("/graph.dot", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/vnd.graphviz; charset=utf-8")
		_, _ = w.Write([]byte(Snapshot().DOT()))
	})
	mux.HandleFunc("/stack", func(w http.ResponseWriter, r *http.Request) {
		out, err := threadStacks(r.URL.Query()["id"], r.URL.Query()["ident"])
		var unknown errNoThread
		if errors.As(err, &unknown) {
			writeError(w, http.StatusNotFound, err.Error())
			return
		} else if err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
		writeJSON(w, out)
	})
	mux.HandleFunc("/deadlocks", func(w http.ResponseWriter, r *http.Request) {
		var reports []*Report
		if d := Default(); d != nil {
			reports = d.Reports()
		} else {
			reports = confirm.standing()
		}
		if reports == nil {
			reports = []*Report{}
		}
		writeJSON(w, reports)
	})
	mux.HandleFunc("/longwaits", func(w http.ResponseWriter, r *http.Request) {
		lws := []*LongWait{}
		if d := Default(); d != nil {
			lws = append(lws, d.LongWaits()...)
		}
		writeJSON(w, lws)
	})
	mux.HandleFunc("/profile", func(w http.ResponseWriter, r *http.Request) {
		p, err := ProfileOf(r.URL.Query().Get("view"))
		if err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
		var buf bytes.Buffer
		if err := p.Write(&buf); err != nil {
			writeError(w, http.StatusInternalServerError, "profile: "+err.Error())
			return
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Disposition", `attachment; filename="contention.pb.gz"`)
		_, _ = w.Write(buf.Bytes())
	})
	mux.HandleFunc("/leaks", serveLeaks)
	mux.HandleFunc("/lockorder", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, LockOrderReports()) })
	mux.HandleFunc("/contention", func(w http.ResponseWriter, r *http.Request) {
		n := 10
		if q := r.URL.Query().Get("n"); q != "" {
			v, err := strconv.Atoi(q)
			if err != nil || v < 1 || v > 1000 {
				writeError(w, http.StatusBadRequest, "n must be an integer from 1 to 1000")
				return
			}
			n = v
		}
		writeJSON(w, TopContended(n))
	})
	return readOnly(mux)
}

// confirmer is what /deadlocks serves without a Detector: a Checker of its
// own, fed two looks 100 ms apart per request, the looks shared by
// concurrent requests. As it remembers what it reported, a standing
// deadlock is confirmed, and its stacks dumped, once, not on every poll.
type confirmer struct {
	group singleflight.Group
	c     *Checker
}

func (f *confirmer) standing() []*Report {
	v, _, _ := f.group.Do("", func() (any, error) {
		f.c.Check(Snapshot())
		time.Sleep(100 * time.Millisecond)
		f.c.Check(Snapshot())
		d := f.c.d
		d.mu.Lock()
		d.reports = nil // only the standing ones are served
		d.mu.Unlock()
		return d.standing(), nil
	})
	return v.([]*Report)
}

// ThreadStack is a thread's stack, as /stack serves it.
type ThreadStack struct {
	ID    string `json:"id"`
	Ident uint64 `json:"ident"`
	Name  string `json:"name"`
	// Stack is the thread's block of a goroutine dump, "" when the dump
	// has none (the goroutine ended).
	Stack string `json:"stack"`
}

// maxStacks caps the threads one /stack request asks for.
const maxStacks = 64

type errNoThread string

func (e errNoThread) Error() string { return fmt.Sprintf("no thread %q in the graph", string(e)) }

// threadStacks returns the stacks of the threads named by node id ("t123")
// or ident, from a goroutine dump at most a second old, shared with
// concurrent callers. Only threads of the wait-for graph (threads, and
// goroutines that hold a primitive) are served; at most 64 per call.
func threadStacks(ids, idents []string) ([]ThreadStack, error) {
	for _, s := range idents {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("ident %q: want a goroutine id", s)
		}
		ids = append(ids, threadID(n))
	}
	if len(ids) == 0 || len(ids) > maxStacks {
		return nil, fmt.Errorf("give from 1 to %d threads, as id=t123 or ident=123", maxStacks)
	}
	g := Snapshot()
	out := make([]ThreadStack, 0, len(ids))
	// A dump up to dumpTTL old will do, if it began after the threads'
	// waits did and holds every one of them.
	notBefore := g.Time.Add(-dumpTTL)
	for _, id := range ids {
		t := g.Thread(id)
		if t == nil {
			return nil, errNoThread(id)
		}
		out = append(out, ThreadStack{ID: t.ID, Ident: t.Ident, Name: t.Name})
		if t.Wait != nil && t.Wait.Since.After(notBefore) {
			notBefore = t.Wait.Since
		}
	}
	d := sharedDump(notBefore)
	for i := range out {
		if out[i].Stack = d.stack(out[i].Ident); out[i].Stack == "" && d.at.Before(g.Time) {
			d = sharedDump(g.Time) // a goroutine younger than the dump
			out[i].Stack = d.stack(out[i].Ident)
		}
	}
	return out, nil
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
}

// Top is the n most contended classes by total wait and by count.
type Top struct {
	ByWait  []Contended `json:"by_wait"`
	ByCount []Contended `json:"by_count"`
}

// TopContended returns the n classes with the most total wait and the n with
// the most contentions.
func TopContended(n int) Top {
	var all []Contended
	for _, c := range threading.Classes() {
		if c.Stats.Contentions == 0 {
			continue
		}
		all = append(all, Contended{Kind: c.Kind.String(), Label: c.Label, Live: c.Live, Acquisitions: c.Stats.Acquisitions,
			Contentions: c.Stats.Contentions, Timeouts: c.Stats.Timeouts, WaitSeconds: c.Stats.WaitTotal.Seconds(), Waiters: c.Stats.Waiters})
	}
	top := func(less func(a, b Contended) bool) []Contended {
		s := append([]Contended(nil), all...)
		sort.SliceStable(s, func(i, j int) bool { return less(s[i], s[j]) })
		if len(s) > n {
			s = s[:n]
		}
		if s == nil {
			s = []Contended{}
		}
		return s
	}
	return Top{
		ByWait:  top(func(a, b Contended) bool { return a.WaitSeconds > b.WaitSeconds }),
		ByCount: top(func(a, b Contended) bool { return a.Contentions > b.Contentions }),
	}
}

// readOnly allows GET and HEAD only, and answers unknown paths with a JSON
// error.
func readOnly(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			writeError(w, http.StatusMethodNotAllowed, "method "+r.Method+" not allowed: this API is read-only")
			return
		}
		if _, pattern := mux.Handler(r); pattern == "" {
			writeError(w, http.StatusNotFound, "no such path: "+r.URL.Path)
			return
		}
		mux.ServeHTTP(w, r)
	})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func writeError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": msg})
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
		fmt.Fprintf(&b, "  %q [shape=box, label=%q%s];\n", t.ID, t.Name+"\n"+t.State, color(t.ID))
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
