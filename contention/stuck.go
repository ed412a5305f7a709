package contention

import (
	"fmt"
	"strings"
	"time"
)

// buildStuckReport builds the report of a self-deadlock (one thread waiting
// on what it holds itself) or of an orphan (threads waiting on what a thread
// that has ended holds): the same shape as a deadlock's, with its own Kind.
func (ch *Checker) buildStuckReport(g *Graph, c *Component) *Report {
	listed := c.Threads
	if len(listed) > maxReportThreads {
		listed = listed[:maxReportThreads]
	}
	r := &Report{Kind: c.Kind, ID: componentKey(g, c), Time: g.Time, ThreadCount: len(c.Threads)}
	threads := make([]*Thread, len(listed))
	idents := make([]uint64, len(listed))
	for i, id := range listed {
		threads[i] = g.threads[id]
		idents[i] = threads[i].Ident
	}
	stacks := ch.stacksOf(g, idents, recentEnough(g, threads))
	var ended []*Thread
	for _, id := range c.EndedHolders {
		ended = append(ended, g.threads[id])
	}
	var b strings.Builder
	if c.Kind == KindSelfDeadlock {
		b.WriteString("Found one self-deadlock:\n=============================\n")
	} else {
		b.WriteString("Found threads waiting on what a thread that has ended holds:\n=============================\n")
	}
	for _, t := range threads {
		p := g.prims[t.Wait.Primitive]
		rt := ReportThread{Name: t.Name, Ident: t.Ident, WaitsOn: p.State, WaitKind: t.Wait.Kind, Since: t.Wait.Since,
			Stack: stacks[t.Ident], Holds: []string{}, seq: t.Wait.Seq, cancellable: t.Wait.Cancellable}
		for _, h := range t.Holds {
			if hp := g.prims[h]; hp != nil {
				rt.Holds = append(rt.Holds, hp.State)
			}
		}
		wait := g.Time.Sub(t.Wait.Since).Round(time.Millisecond)
		if c.Kind == KindSelfDeadlock {
			rt.HeldBy = t.Name
			how := "which it holds itself"
			if t.Wait.On == "readers" {
				how = "while it holds it for reading itself"
			}
			fmt.Fprintf(&b, "%q (ident %d):\n  waiting to %s %s %q, %s, for %s\n",
				t.Name, t.Ident, t.Wait.Kind, p.Kind, p.Label, how, wait)
		} else {
			var held []string
			for _, e := range ended {
				at := "at an unknown time"
				switch {
				case e.Ended != nil:
					at = "at " + e.Ended.Format(time.RFC3339Nano)
				case e.EndedBefore != nil:
					at = "before " + e.EndedBefore.Format(time.RFC3339Nano)
				}
				what := "finished thread"
				if e.Ended == nil {
					what = "finished"
				}
				held = append(held, fmt.Sprintf("%s %q (ident %d), which ended %s", what, e.Name, e.Ident, at))
			}
			if len(ended) > 0 {
				rt.HeldBy = ended[0].Name
			}
			fmt.Fprintf(&b, "%q (ident %d):\n  waiting to %s %s %q, which is held by %s, for %s\n",
				t.Name, t.Ident, t.Wait.Kind, p.Kind, p.Label, strings.Join(held, " and by "), wait)
		}
		for _, h := range rt.Holds {
			fmt.Fprintf(&b, "  holding %s\n", h)
		}
		r.Threads = append(r.Threads, rt)
	}
	if p := g.prims[c.Primitives[0]]; p != nil {
		r.Primitives = []string{fmt.Sprintf("%s %q", p.Kind, p.Label)}
	}
	if len(c.Threads) > len(listed) {
		fmt.Fprintf(&b, "%d more waiting threads are not listed.\n", len(c.Threads)-len(listed))
	}
	b.WriteString("\nStacks of the threads listed above:\n===================================================\n")
	for _, t := range r.Threads {
		fmt.Fprintf(&b, "%q (ident %d):\n%s\n", t.Name, t.Ident, indent(t.Stack))
	}
	r.Text = b.String()
	return r
}
