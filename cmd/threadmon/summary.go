package main

import (
	"cmp"
	"slices"
	"strconv"
	"strings"

	"github.com/threadmon/threadmon/contention"
)

// The grouped view in sidecar mode: each target's graph summarized, ids
// prefixed with the target's id ("3:t12"), names with its host, and the
// summaries merged. The default summary (no query) is built with the view
// after each round of polls; a query, a group or a selected thread is
// answered from the targets' last good snapshots.

func prefixRef(pre, name string, r *contention.ThreadRef) {
	r.ID, r.Name = pre+r.ID, name+r.Name
}

// prefixGroup makes a target's thread group's ids and names the merged
// view's: pre is "N:", name "target/".
func prefixGroup(pre, name string, target int, grp *contention.ThreadGroup) {
	grp.Key, grp.Target = pre+grp.Key, target
	if grp.Primitive != "" {
		grp.Primitive, grp.PrimitiveLabel = pre+grp.Primitive, name+grp.PrimitiveLabel
	}
	for i := range grp.Holders {
		prefixRef(pre, name, &grp.Holders[i])
	}
	for i := range grp.Threads {
		prefixRef(pre, name, &grp.Threads[i])
	}
}

func (sc *sidecar) mergedSummary(o contention.SummaryOptions) *contention.Summary {
	out := &contention.Summary{Query: o.Query, Groups: []contention.ThreadGroup{}, Primitives: []contention.SummaryPrimitive{},
		Threads: []contention.SummaryThread{}, Deadlocked: []contention.Component{}}
	sel := map[int][]string{}
	for _, id := range o.Selected {
		if pre, rest, ok := strings.Cut(id, ":"); ok {
			if i, err := strconv.Atoi(pre); err == nil {
				sel[i] = append(sel[i], rest)
			}
		}
	}
	maxGroups := o.Groups
	if maxGroups <= 0 {
		maxGroups = 200
	}
	maxPrims := o.Primitives
	if maxPrims <= 0 {
		maxPrims = 100
	}
	for _, t := range sc.watched() {
		t.mu.Lock()
		snap, stale := t.snap, t.state.Stale
		t.mu.Unlock()
		if snap == nil {
			continue
		}
		to := o
		to.Selected = sel[t.id]
		s := contention.Summarize(snap.graph, to)
		if out.Time.Before(s.Time) {
			out.Time = s.Time
		}
		pre, name := strconv.Itoa(t.id)+":", t.name+"/"
		c := &out.Counts
		c.Threads += s.Counts.Threads
		c.Matched += s.Counts.Matched
		c.Running += s.Counts.Running
		c.Waiting += s.Counts.Waiting
		c.Contention += s.Counts.Contention
		c.Idle += s.Counts.Idle
		c.Deadlocked += s.Counts.Deadlocked
		c.Primitives += s.Counts.Primitives
		out.GroupsOmitted += s.GroupsOmitted
		out.PrimitivesOmitted += s.PrimitivesOmitted
		for _, grp := range s.Groups {
			prefixGroup(pre, name, t.id, &grp)
			grp.Stale = stale
			out.Groups = append(out.Groups, grp)
		}
		for _, p := range s.Primitives {
			p.ID, p.Label, p.Holders, p.Target, p.Stale = pre+p.ID, name+p.Label, prefixAll(pre, p.Holders), t.id, stale
			out.Primitives = append(out.Primitives, p)
		}
		for _, th := range s.Threads {
			th.ID, th.Name, th.Holds, th.Target, th.Stale = pre+th.ID, name+th.Name, prefixAll(pre, th.Holds), t.id, stale
			if th.Wait != nil {
				w := *th.Wait
				w.Primitive = pre + w.Primitive
				th.Wait = &w
			}
			out.Threads = append(out.Threads, th)
		}
		for _, comp := range s.Deadlocked {
			comp.Threads, comp.Primitives, comp.Cycle = prefixAll(pre, comp.Threads), prefixAll(pre, comp.Primitives), prefixAll(pre, comp.Cycle)
			out.Deadlocked = append(out.Deadlocked, comp)
		}
	}
	slices.SortStableFunc(out.Groups, func(a, b contention.ThreadGroup) int { return contention.CompareGroups(&a, &b) })
	if len(out.Groups) > maxGroups {
		out.GroupsOmitted += len(out.Groups) - maxGroups
		out.Groups = out.Groups[:maxGroups]
	}
	slices.SortStableFunc(out.Primitives, func(a, b contention.SummaryPrimitive) int {
		if a.Deadlocked != b.Deadlocked {
			if a.Deadlocked {
				return -1
			}
			return 1
		}
		if c := cmp.Compare(b.Waiters-b.IdleWaiters, a.Waiters-a.IdleWaiters); c != 0 {
			return c
		}
		return cmp.Compare(b.Waiters, a.Waiters)
	})
	if len(out.Primitives) > maxPrims {
		out.PrimitivesOmitted += len(out.Primitives) - maxPrims
		out.Primitives = out.Primitives[:maxPrims]
	}
	return out
}
