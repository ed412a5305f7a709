package main

import (
	"cmp"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"time"

	"go.uber.org/zap"

	"github.com/threadmon/threadmon/contention"
)

// The merged view is built once per round of polls and serialized then:
// every reader of a path gets the same bytes, so readers cost no memory of
// their own whatever their number.

// viewPaths are the paths of the merged view.
var viewPaths = []string{"/targets", "/graph", "/threads", "/primitives", "/deadlocks", "/contention", "/lockorder"}

type view struct {
	at     time.Time
	bodies map[string][]byte
}

func (v *view) serve(w http.ResponseWriter, path string) {
	b := v.bodies[path]
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	h.Set("Last-Modified", v.at.UTC().Format(http.TimeFormat))
	_, _ = w.Write(b)
}

// Each node of the merged view carries its target's id and whether it is
// stale (the target is down: this is its last good data).
type (
	viewThread struct {
		contention.Thread
		Target int  `json:"target"`
		Stale  bool `json:"stale,omitempty"`
	}
	viewPrimitive struct {
		contention.Primitive
		Target int  `json:"target"`
		Stale  bool `json:"stale,omitempty"`
	}
	viewReport struct {
		contention.Report
		Target int  `json:"target"`
		Stale  bool `json:"stale,omitempty"`
	}
	viewContended struct {
		contention.Contended
		Target int  `json:"target"`
		Stale  bool `json:"stale,omitempty"`
	}
	viewOrder struct {
		*contention.OrderReport
		Target int  `json:"target"`
		Stale  bool `json:"stale,omitempty"`
	}
	// viewGraph is contention.Graph's JSON with the targets added.
	viewGraph struct {
		Time       time.Time              `json:"time"`
		Threads    []*viewThread          `json:"threads"`
		Primitives []*viewPrimitive       `json:"primitives"`
		Edges      []contention.Edge      `json:"edges"`
		Deadlocked []contention.Component `json:"deadlocked"`
		Targets    []TargetState          `json:"targets"`
	}
	viewTop struct {
		ByWait  []viewContended `json:"by_wait"`
		ByCount []viewContended `json:"by_count"`
	}
)

// maxTop caps the merged most-contended lists.
const maxTop = 50

// publish builds the merged view from every target's last good snapshot and
// makes it the one served. Every id gets the target's id as a prefix
// ("3:t12"), every name the target's host ("10.0.0.7:6060/worker-1").
func (sc *sidecar) publish() {
	now := time.Now()
	g := viewGraph{Time: now, Threads: []*viewThread{}, Primitives: []*viewPrimitive{}, Edges: []contention.Edge{}, Targets: []TargetState{}}
	reports := []viewReport{}
	top := viewTop{ByWait: []viewContended{}, ByCount: []viewContended{}}
	order := []viewOrder{}
	for _, t := range sc.list() {
		t.mu.Lock()
		state, snap, reps := t.state, t.snap, t.reports
		t.mu.Unlock()
		g.Targets = append(g.Targets, state)
		if snap == nil {
			continue
		}
		pre, name, stale := strconv.Itoa(t.id)+":", t.name+"/", state.Stale
		for _, th := range snap.graph.Threads {
			c := &viewThread{Thread: *th, Target: t.id, Stale: stale}
			c.ID, c.Name, c.Stack = pre+th.ID, name+th.Name, ""
			c.Holds = prefixAll(pre, th.Holds)
			if th.Wait != nil {
				w := *th.Wait
				w.Primitive = pre + w.Primitive
				c.Wait = &w
			}
			g.Threads = append(g.Threads, c)
		}
		for _, p := range snap.graph.Primitives {
			c := &viewPrimitive{Primitive: *p, Target: t.id, Stale: stale}
			c.ID, c.Label = pre+p.ID, name+p.Label
			c.Holders = prefixAll(pre, p.Holders)
			g.Primitives = append(g.Primitives, c)
		}
		for _, e := range snap.graph.Edges {
			e.From, e.To = pre+e.From, pre+e.To
			g.Edges = append(g.Edges, e)
		}
		for _, r := range reps {
			c := viewReport{Report: *r, Target: t.id, Stale: stale}
			c.Threads = slices.Clone(r.Threads)
			for j := range c.Threads {
				c.Threads[j].Name = name + c.Threads[j].Name
			}
			reports = append(reports, c)
		}
		for _, c := range snap.top.ByWait {
			c.Label = name + c.Label
			top.ByWait = append(top.ByWait, viewContended{Contended: c, Target: t.id, Stale: stale})
		}
		for _, c := range snap.top.ByCount {
			c.Label = name + c.Label
			top.ByCount = append(top.ByCount, viewContended{Contended: c, Target: t.id, Stale: stale})
		}
		for _, r := range snap.order {
			order = append(order, viewOrder{OrderReport: r, Target: t.id, Stale: stale})
		}
	}
	// The deadlocked components, by the merged ids.
	mg := &contention.Graph{Time: now, Threads: make([]*contention.Thread, len(g.Threads)),
		Primitives: make([]*contention.Primitive, len(g.Primitives)), Edges: g.Edges}
	for i, th := range g.Threads {
		mg.Threads[i] = &th.Thread
	}
	for i, p := range g.Primitives {
		mg.Primitives[i] = &p.Primitive
	}
	g.Deadlocked = mg.Components()
	slices.SortStableFunc(top.ByWait, func(a, b viewContended) int { return cmp.Compare(b.WaitSeconds, a.WaitSeconds) })
	slices.SortStableFunc(top.ByCount, func(a, b viewContended) int { return cmp.Compare(b.Contentions, a.Contentions) })
	top.ByWait, top.ByCount = top.ByWait[:min(len(top.ByWait), maxTop)], top.ByCount[:min(len(top.ByCount), maxTop)]

	v := &view{at: now, bodies: map[string][]byte{}}
	for path, x := range map[string]any{"/targets": g.Targets, "/graph": g, "/threads": g.Threads, "/primitives": g.Primitives,
		"/deadlocks": reports, "/contention": top, "/lockorder": order} {
		b, err := json.Marshal(x)
		if err != nil { // not reached: every value is plain data
			sc.log.Error("view not serialized", zap.String("path", path), zap.Error(err))
			b = []byte(`{"error":"not serialized"}`)
		}
		v.bodies[path] = append(b, '\n')
	}
	sc.view.Store(v)
}

func prefixAll(pre string, ids []string) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = pre + id
	}
	return out
}
