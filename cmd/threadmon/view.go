package main

import (
	"bytes"
	"cmp"
	"encoding/json"
	"slices"
	"strconv"
	"time"

	"go.uber.org/zap"

	"github.com/threadmon/threadmon/contention"
)

// The merged view is built once per round of polls and serialized then:
// every reader of a path gets the same bytes, so readers cost no memory of
// their own whatever their number.

// view is the merged view: the bodies of the paths it lists (/targets,
// /graph, /threads, /primitives, /deadlocks, /longwaits, /holders,
// /lockorder and the default /summary), and the most contended, cut to ?n=
// when served.
type view struct {
	at     time.Time
	bodies map[string][]byte
	top    viewTop
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
	viewLongWait struct {
		contention.LongWait
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
	viewTop struct {
		ByWait  []viewContended `json:"by_wait"`
		ByCount []viewContended `json:"by_count"`
		Idle    []viewContended `json:"idle"`
	}
)

// maxTop caps the merged most-contended lists.
const maxTop = 50

// jsonList writes a JSON array element by element, so that the merged view
// is serialized without first being built whole in memory.
type jsonList struct {
	buf bytes.Buffer
	enc *json.Encoder
	n   int
}

func newJSONList(sizeHint int) *jsonList {
	l := &jsonList{}
	l.buf.Grow(sizeHint + sizeHint/8 + 64)
	l.buf.WriteByte('[')
	l.enc = json.NewEncoder(&l.buf)
	return l
}

func (l *jsonList) add(v any) {
	if l.n > 0 {
		l.buf.WriteByte(',')
	}
	l.n++
	_ = l.enc.Encode(v) // plain data: no error
}

func (l *jsonList) bytes() []byte {
	l.buf.WriteByte(']')
	return l.buf.Bytes()
}

// publish serializes the merged view from every target's last good
// snapshot and makes it the one served. Every id gets the target's id as a
// prefix ("3:t12"), every name the target's host ("10.0.0.7:6060/worker-1").
// Deadlocked components never span two targets: each target's are its own
// graph's, found when it was checked.
func (sc *sidecar) publish() {
	now := time.Now()
	last := sc.view.Load()
	hint := func(path string) int {
		if last == nil {
			return 0
		}
		return len(last.bodies[path])
	}
	states := []TargetState{}
	threads, prims := newJSONList(hint("/threads")), newJSONList(hint("/primitives"))
	edges, deadlocked := newJSONList(hint("/graph")-hint("/threads")-hint("/primitives")), newJSONList(0)
	reports, holders, longWaits := []viewReport{}, []viewReport{}, []viewLongWait{}
	top := viewTop{ByWait: []viewContended{}, ByCount: []viewContended{}, Idle: []viewContended{}}
	order := []viewOrder{}
	for _, t := range sc.watched() {
		t.mu.Lock()
		state, snap, reps := t.state, t.snap, t.reports
		t.mu.Unlock()
		states = append(states, state)
		if snap == nil {
			continue
		}
		pre, name, stale := strconv.Itoa(t.id)+":", t.name+"/", state.Stale
		for _, th := range snap.graph.Threads {
			c := viewThread{Thread: *th, Target: t.id, Stale: stale}
			c.ID, c.Name, c.Stack = pre+th.ID, name+th.Name, ""
			c.Holds = prefixAll(pre, th.Holds)
			if th.Wait != nil {
				w := *th.Wait
				w.Primitive = pre + w.Primitive
				c.Wait = &w
			}
			threads.add(&c)
		}
		for _, p := range snap.graph.Primitives {
			c := viewPrimitive{Primitive: *p, Target: t.id, Stale: stale}
			c.ID, c.Label = pre+p.ID, name+p.Label
			c.Holders = prefixAll(pre, p.Holders)
			prims.add(&c)
		}
		for _, e := range snap.graph.Edges {
			e.From, e.To = pre+e.From, pre+e.To
			edges.add(&e)
		}
		for _, c := range snap.graph.Components() {
			c.Threads, c.Primitives, c.Cycle = prefixAll(pre, c.Threads), prefixAll(pre, c.Primitives), prefixAll(pre, c.Cycle)
			deadlocked.add(&c)
		}
		prefixReport := func(r *contention.Report) viewReport {
			c := viewReport{Report: *r, Target: t.id, Stale: stale}
			c.Threads = slices.Clone(r.Threads)
			for j := range c.Threads {
				c.Threads[j].Name = name + c.Threads[j].Name
			}
			return c
		}
		for _, r := range reps {
			reports = append(reports, prefixReport(r))
		}
		for _, r := range snap.holders {
			holders = append(holders, prefixReport(r))
		}
		for _, w := range snap.longWaits {
			c := viewLongWait{LongWait: *w, Target: t.id, Stale: stale}
			c.Thread, c.Holders = name+w.Thread, prefixAll(name, w.Holders)
			longWaits = append(longWaits, c)
		}
		for _, c := range snap.top.ByWait {
			c.Label = name + c.Label
			top.ByWait = append(top.ByWait, viewContended{Contended: c, Target: t.id, Stale: stale})
		}
		for _, c := range snap.top.ByCount {
			c.Label = name + c.Label
			top.ByCount = append(top.ByCount, viewContended{Contended: c, Target: t.id, Stale: stale})
		}
		for _, c := range snap.top.Idle {
			c.Label = name + c.Label
			top.Idle = append(top.Idle, viewContended{Contended: c, Target: t.id, Stale: stale})
		}
		for _, r := range snap.order {
			order = append(order, viewOrder{OrderReport: r, Target: t.id, Stale: stale})
		}
	}
	slices.SortStableFunc(top.ByWait, func(a, b viewContended) int { return cmp.Compare(b.WaitSeconds, a.WaitSeconds) })
	slices.SortStableFunc(top.ByCount, func(a, b viewContended) int { return cmp.Compare(b.Contentions, a.Contentions) })
	slices.SortStableFunc(top.Idle, func(a, b viewContended) int { return cmp.Compare(b.WaitSeconds, a.WaitSeconds) })
	top.ByWait, top.ByCount = top.ByWait[:min(len(top.ByWait), maxTop)], top.ByCount[:min(len(top.ByCount), maxTop)]
	top.Idle = top.Idle[:min(len(top.Idle), maxTop)]

	v := &view{at: now, bodies: map[string][]byte{}}
	marshal := func(x any) []byte {
		b, err := json.Marshal(x)
		if err != nil { // not reached: every value is plain data
			sc.log.Error("view not serialized", zap.Error(err))
			return []byte("null")
		}
		return b
	}
	// /graph is contention.Graph's JSON with the targets added; /threads,
	// /primitives and /targets are parts of it, served without a copy.
	graph := make([]byte, 0, hint("/graph")+hint("/graph")/8+64)
	var spans [][2]int
	part := func(b []byte) {
		spans = append(spans, [2]int{len(graph), len(graph) + len(b)})
		graph = append(graph, b...)
	}
	graph = append(graph, `{"time":`...)
	graph = append(graph, marshal(now)...)
	graph = append(graph, `,"threads":`...)
	part(threads.bytes())
	graph = append(graph, `,"primitives":`...)
	part(prims.bytes())
	graph = append(graph, `,"edges":`...)
	graph = append(graph, edges.bytes()...)
	graph = append(graph, `,"deadlocked":`...)
	graph = append(graph, deadlocked.bytes()...)
	graph = append(graph, `,"targets":`...)
	part(marshal(states))
	graph = append(graph, '}')
	for i, path := range []string{"/threads", "/primitives", "/targets"} {
		v.bodies[path] = graph[spans[i][0]:spans[i][1]:spans[i][1]]
	}
	v.bodies["/graph"] = graph
	v.bodies["/deadlocks"], v.bodies["/lockorder"] = marshal(reports), marshal(order)
	v.bodies["/longwaits"], v.bodies["/holders"] = marshal(longWaits), marshal(holders)
	v.top = top
	v.bodies["/summary"] = marshal(sc.mergedSummary(contention.SummaryOptions{}))
	sc.view.Store(v)
}

func prefixAll(pre string, ids []string) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = pre + id
	}
	return out
}
