package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"

	"github.com/google/pprof/profile"

	"github.com/threadmon/threadmon/contention"
	"github.com/threadmon/threadmon/internal/httpjson"
)

// The sidecar's merged view is a contention.Source: contention.NewHandler
// serves it under /api/ as it serves a process of its own. Ids in it carry
// their target's id ("3:t12"), names its host ("10.0.0.7:6060/worker-1").
// The listing paths are served from the view published after each round
// of polls, the same bytes to every reader; the drill-downs from the
// targets' last good snapshots; stacks from the targets themselves.

var _ contention.Source = (*sidecar)(nil)

// notServed is the error of what the merged view does not hold.
func notServed(path string) error {
	return httpjson.Errorf(http.StatusNotImplemented,
		"%s is not served in sidecar mode: the merged view does not keep it; open the target's own %s", path, path)
}

// List serves the listing paths from the view.
func (sc *sidecar) List(path string, n int) (any, error) {
	v := sc.view.Load()
	if path == "/contention" {
		top := v.top
		top.ByWait, top.ByCount, top.Idle = top.ByWait[:min(n, len(top.ByWait))], top.ByCount[:min(n, len(top.ByCount))],
			top.Idle[:min(n, len(top.Idle))]
		return top, nil
	}
	if b, ok := v.bodies[path]; ok {
		return json.RawMessage(b), nil
	}
	return nil, notServed(path)
}

// Graph merges the targets' last good graphs: what /graph.dot draws.
func (sc *sidecar) Graph() (*contention.Graph, error) {
	g := &contention.Graph{Time: sc.view.Load().at, Threads: []*contention.Thread{}, Primitives: []*contention.Primitive{},
		Edges: []contention.Edge{}}
	for _, t := range sc.watched() {
		t.mu.Lock()
		snap := t.snap
		t.mu.Unlock()
		if snap == nil {
			continue
		}
		pre, name := strconv.Itoa(t.id)+":", t.name+"/"
		for _, th := range snap.graph.Threads {
			c := *th
			c.ID, c.Name, c.Stack, c.Holds = pre+th.ID, name+th.Name, "", prefixAll(pre, th.Holds)
			if th.Wait != nil {
				w := *th.Wait
				w.Primitive = pre + w.Primitive
				c.Wait = &w
			}
			g.Threads = append(g.Threads, &c)
		}
		for _, p := range snap.graph.Primitives {
			c := *p
			c.ID, c.Label, c.Holders = pre+p.ID, name+p.Label, prefixAll(pre, p.Holders)
			g.Primitives = append(g.Primitives, &c)
		}
		for _, e := range snap.graph.Edges {
			e.From, e.To = pre+e.From, pre+e.To
			g.Edges = append(g.Edges, e)
		}
	}
	return g, nil
}

// Summary serves the default summary from the view, and a query from the
// targets' snapshots.
func (sc *sidecar) Summary(o contention.SummaryOptions) (any, error) {
	if o.Query == "" && len(o.Selected) == 0 && o.Groups == 0 && o.GroupThreads == 0 && o.Primitives == 0 && o.Threads == 0 {
		return json.RawMessage(sc.view.Load().bodies["/summary"]), nil
	}
	return sc.mergedSummary(o), nil
}

// targetOf splits a merged id ("3:p12") into its target, the target's last
// good snapshot, the prefix and the target's own id.
func (sc *sidecar) targetOf(id string) (*target, *snapshot, string, string) {
	pre, rest, ok := strings.Cut(id, ":")
	i, err := strconv.Atoi(pre)
	if !ok || err != nil || rest == "" {
		return nil, nil, "", ""
	}
	t := sc.byID(i)
	if t == nil {
		return nil, nil, "", ""
	}
	t.mu.Lock()
	snap := t.snap
	t.mu.Unlock()
	if snap == nil {
		return nil, nil, "", ""
	}
	return t, snap, pre + ":", rest
}

func (sc *sidecar) Group(key string, o contention.SummaryOptions, offset, limit int) (any, error) {
	t, snap, pre, own := sc.targetOf(key)
	var grp *contention.ThreadGroup
	if t != nil {
		grp = snap.graph.Group(own, o, offset, limit)
	}
	if grp == nil {
		return nil, httpjson.Errorf(http.StatusNotFound, "no group %q", key)
	}
	prefixGroup(pre, t.name+"/", t.id, grp)
	return grp, nil
}

// Primitive serves /primitive?id=3:p12 from the target's last good
// snapshot (the wait-time distribution and the recent rates live in the
// target: open its own page for them; sites from a dump too).
func (sc *sidecar) Primitive(id string, _ bool) (any, error) {
	t, snap, pre, own := sc.targetOf(id)
	var v *contention.PrimitiveView
	if t != nil {
		v = contention.PrimitiveViewOf(snap.graph, own)
	}
	if v == nil {
		return nil, httpjson.Errorf(http.StatusNotFound, "no primitive %q", id)
	}
	name := t.name + "/"
	p := &v.Primitive
	p.ID, p.Label, p.Holders, p.Target = pre+p.ID, name+p.Label, prefixAll(pre, p.Holders), t.id
	for i := range v.Holders {
		prefixRef(pre, name, &v.Holders[i])
	}
	for i := range v.Waiters {
		for j := range v.Waiters[i].Threads {
			prefixRef(pre, name, &v.Waiters[i].Threads[j])
		}
	}
	return v, nil
}

// Thread serves /thread?id=3:t12 from the target's last good snapshot.
func (sc *sidecar) Thread(id string) (any, error) {
	t, snap, pre, own := sc.targetOf(id)
	var v *contention.ThreadView
	if t != nil {
		v = contention.ThreadViewOf(snap.graph, own)
	}
	if v == nil {
		return nil, httpjson.Errorf(http.StatusNotFound, "no thread %q", id)
	}
	name := t.name + "/"
	th := &v.Thread
	th.ID, th.Name, th.Holds, th.Target = pre+th.ID, name+th.Name, prefixAll(pre, th.Holds), t.id
	if th.Wait != nil {
		wt := *th.Wait
		wt.Primitive = pre + wt.Primitive
		th.Wait = &wt
	}
	fix := func(p *contention.SummaryPrimitive) {
		p.ID, p.Label, p.Holders, p.Target = pre+p.ID, name+p.Label, prefixAll(pre, p.Holders), t.id
	}
	for i := range v.Holds {
		fix(&v.Holds[i])
	}
	if v.WaitsOn != nil {
		fix(v.WaitsOn)
	}
	for i := range v.Holders {
		prefixRef(pre, name, &v.Holders[i])
	}
	return v, nil
}

// Stacks serves /stack?id=I:t123 (repeatable): the threads' stacks,
// fetched from their targets, one request per target, grouped by target.
func (sc *sidecar) Stacks(ctx context.Context, ids []string) (any, error) {
	type ask struct {
		t   *target
		pre string
		own []string
	}
	var asks []*ask
	byTarget := map[int]*ask{}
	for _, id := range ids {
		pre, own, ok := strings.Cut(id, ":")
		i, err := strconv.Atoi(pre)
		var t *target
		if ok && err == nil && own != "" {
			t = sc.byID(i)
		}
		if t == nil {
			return nil, httpjson.Errorf(http.StatusNotFound, "no thread %q (give ids as in /graph, like 0:t123)", id)
		}
		a := byTarget[t.id]
		if a == nil {
			a = &ask{t: t, pre: pre + ":"}
			byTarget[t.id], asks = a, append(asks, a)
		}
		a.own = append(a.own, own)
	}
	ctx, cancel := context.WithTimeout(ctx, sc.opts.timeout)
	defer cancel()
	out := []contention.ThreadStack{}
	for _, a := range asks {
		body, err := sc.get(ctx, a.t, "/stack", url.Values{"id": a.own})
		var got []contention.ThreadStack
		if err == nil {
			if got, err = contention.DecodeStacks(body, sc.opts.limits); err != nil {
				err = fmt.Errorf("/stack: not the contention JSON: %w", err)
			}
		}
		if err != nil {
			code := http.StatusBadGateway
			if strings.HasSuffix(err.Error(), "HTTP 404") { // the thread has ended
				code = http.StatusNotFound
			}
			return nil, httpjson.Errorf(code, "%s: %s", a.t.shown, err)
		}
		for _, s := range got {
			s.ID, s.Name = a.pre+s.ID, a.t.name+"/"+s.Name
			out = append(out, s)
		}
	}
	return out, nil
}

// Profile merges the targets' contention profiles of one view, fetched now
// from every target that is up, opts.workers at a time, each sample labelled
// target=host:port: what a person asks for, never polled. Targets that fail
// are left out; none served is a 502 naming why.
func (sc *sidecar) Profile(ctx context.Context, view string) (*profile.Profile, error) {
	switch view {
	case "", contention.ViewWaiters, contention.ViewReleasers, contention.ViewClasses:
	default:
		return nil, httpjson.Errorf(http.StatusBadRequest, "view %q: want %s, %s or %s", view,
			contention.ViewWaiters, contention.ViewReleasers, contention.ViewClasses)
	}
	q := url.Values{}
	if view != "" {
		q.Set("view", view)
	}
	ctx, cancel := context.WithTimeout(ctx, sc.opts.timeout)
	defer cancel()
	var (
		mu   sync.Mutex
		ps   []*profile.Profile
		errs []string
		wg   sync.WaitGroup
	)
	sem := make(chan struct{}, sc.opts.workers)
	for _, t := range sc.watched() {
		t.mu.Lock()
		up := t.state.Up
		t.mu.Unlock()
		if !up {
			continue
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			body, err := sc.get(ctx, t, "/profile", q)
			var p *profile.Profile
			if err == nil {
				p, err = parseProfile(body, sc.opts.maxTargetBytes)
			}
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, t.shown+": "+err.Error())
				return
			}
			for _, s := range p.Sample {
				if s.Label == nil {
					s.Label = map[string][]string{}
				}
				s.Label["target"] = []string{t.name}
			}
			ps = append(ps, p)
		})
	}
	wg.Wait()
	if len(ps) == 0 {
		why := "no target is up"
		if len(errs) > 0 {
			why = cut(strings.Join(errs, "; "), maxReason)
		}
		return nil, httpjson.Errorf(http.StatusBadGateway, "/profile: no target served one: %s", why)
	}
	p, err := profile.Merge(ps)
	if err != nil {
		return nil, httpjson.Errorf(http.StatusBadGateway, "/profile: the targets' profiles do not merge: %v", err)
	}
	return p, nil
}

// parseProfile parses a target's profile, gunzipped to at most max bytes
// first: a small gzip can hold gigabytes.
func parseProfile(b []byte, max int64) (*profile.Profile, error) {
	gz := func(b []byte) bool { return len(b) > 1 && b[0] == 0x1f && b[1] == 0x8b }
	if gz(b) {
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			return nil, fmt.Errorf("/profile: %w", err)
		}
		raw, err := io.ReadAll(io.LimitReader(zr, max+1))
		if err != nil {
			return nil, fmt.Errorf("/profile: %w", err)
		}
		if int64(len(raw)) > max || gz(raw) {
			return nil, fmt.Errorf("/profile: larger than %d bytes unzipped", max)
		}
		b = raw
	}
	p, err := profile.ParseData(b)
	if err != nil {
		return nil, fmt.Errorf("/profile: not a pprof profile: %w", err)
	}
	return p, nil
}
