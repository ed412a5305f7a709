package contention

import (
	"cmp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/threadmon/threadmon/threading"
)

// PrimitiveView is one primitive, drilled into: /primitive?id=p12.
type PrimitiveView struct {
	Time      time.Time        `json:"time"`
	Primitive SummaryPrimitive `json:"primitive"`
	// CreatedAt is where the primitive was created (its class).
	CreatedAt string      `json:"created_at"`
	Holders   []ThreadRef `json:"holders"`
	// Waiters are grouped by wait kind (and by wait site, when
	// a sampled stack, see threading.SetWaitStackSampling; else Site is "").
	Waiters []WaiterGroup `json:"waiters"`
	// SitesFrom says where the waiters' sites came from: "wait_stacks"
	// (threading.SetWaitStackSampling), "dump" (a goroutine dump, ?sites=1), or ""
	// (none: Site is "").
	SitesFrom string `json:"sites_from"`
	// Waits is the distribution of the waits on its class that blocked,
	// since the handler was created; History the class's recent rates.
	Waits   []HistBucket `json:"waits"`
	History []RatePoint  `json:"history"`
}

// WaiterGroup is the waiters of a primitive that wait the same way at the
// same place.
type WaiterGroup struct {
	WaitKind   string      `json:"wait_kind"`
	Idle       bool        `json:"idle"`
	Site       string      `json:"site"`
	Count      int         `json:"count"`
	MaxSeconds float64     `json:"max_seconds"`
	Threads    []ThreadRef `json:"threads"` // the longest waits, at most 20
}

// PrimitiveViewOf builds the view of primitive id in g, or nil.
func PrimitiveViewOf(g *Graph, id string) *PrimitiveView { return primitiveView(g, id, false) }

// primitiveView builds the view of primitive id; with dump, on a graph of
// this process whose waits captured no stack, the waiters' sites come from a
// shared goroutine dump (a pause of the service: /primitive?sites=1, asked
// for by a person, never by polling).
func primitiveView(g *Graph, id string, dump bool) *PrimitiveView {
	g.index()
	p := g.prims[id]
	if p == nil {
		return nil
	}
	red := map[string]bool{}
	for _, c := range g.Components() {
		for _, x := range c.Primitives {
			red[x] = true
		}
	}
	v := &PrimitiveView{Time: g.Time, CreatedAt: p.Class, Holders: []ThreadRef{}, Waiters: []WaiterGroup{},
		Waits: hists.of(p.Kind, p.Label), History: history.of(p.Kind, p.Label)}
	if p.Kind == "Thread" {
		v.Waits, v.History = hists.of(p.Kind, p.Class), history.of(p.Kind, p.Class)
	}
	v.Primitive = SummaryPrimitive{ID: p.ID, Kind: p.Kind, Label: p.Label, Class: p.Class, State: p.State, Holders: nonNil(p.Holders),
		Acquisitions: p.Stats.Acquisitions, Contentions: p.Stats.Contentions, WaitSeconds: p.Stats.WaitTotal.Seconds(), Deadlocked: red[p.ID]}
	for _, h := range p.Holders {
		if t := g.threads[h]; t != nil {
			v.Holders = append(v.Holders, refOf(t))
		}
	}
	sites := map[uint64]string{}
	if !g.remote {
		sites = waitSites()
		if len(sites) > 0 {
			v.SitesFrom = "wait_stacks"
		} else if dump {
			var idents []uint64
			notBefore := g.Time.Add(-dumpTTL)
			for _, t := range g.Threads {
				if t != nil && t.Wait != nil && t.Wait.Primitive == id {
					idents = append(idents, t.Ident)
					if t.Wait.Since.After(notBefore) {
						notBefore = t.Wait.Since
					}
				}
			}
			sites, v.SitesFrom = dumpSites(idents, notBefore), "dump"
		}
	}
	groups := map[[2]string]*WaiterGroup{}
	var order []*WaiterGroup
	for _, t := range g.Threads {
		if t == nil || t.Wait == nil || t.Wait.Primitive != id {
			continue
		}
		v.Primitive.Waiters++
		if idleKind(t.Wait.Kind) {
			v.Primitive.IdleWaiters++
		}
		k := [2]string{t.Wait.Kind, sites[t.Ident]}
		wg := groups[k]
		if wg == nil {
			wg = &WaiterGroup{WaitKind: k[0], Idle: idleKind(k[0]), Site: k[1], Threads: []ThreadRef{}}
			groups[k] = wg
			order = append(order, wg)
		}
		wg.Count++
		wg.MaxSeconds = max(wg.MaxSeconds, t.Wait.Seconds)
		wg.Threads = append(wg.Threads, refOf(t))
	}
	for _, wg := range order {
		slices.SortStableFunc(wg.Threads, func(a, b ThreadRef) int { return cmp.Compare(b.Seconds, a.Seconds) })
		wg.Threads = wg.Threads[:min(len(wg.Threads), 20)]
		v.Waiters = append(v.Waiters, *wg)
	}
	slices.SortStableFunc(v.Waiters, func(a, b WaiterGroup) int { return cmp.Compare(b.Count, a.Count) })
	return v
}

// dumpSites is where each of the given goroutines blocked, from a shared
// goroutine dump begun no earlier than notBefore.
func dumpSites(idents []uint64, notBefore time.Time) map[uint64]string {
	out := map[uint64]string{}
	if len(idents) == 0 {
		return out
	}
	d := sharedDump(notBefore)
	for _, id := range idents {
		if s := siteOf(d.stack(id)); s != "" {
			out[id] = s
		}
	}
	return out
}

// siteOf is the innermost frame of a goroutine's block of a dump that is
// not in threading, sync or the runtime: "main.worker /src/app/main.go:42".
func siteOf(block string) string {
	lines := strings.Split(block, "\n")
	for i := 1; i+1 < len(lines) && i < 400; i++ {
		fn := lines[i]
		if fn == "" || strings.HasPrefix(fn, "\t") {
			continue
		}
		if strings.HasPrefix(fn, "created by ") {
			return ""
		}
		i++ // its file line
		if strings.HasPrefix(fn, "runtime.") || strings.HasPrefix(fn, "sync.") || strings.HasPrefix(fn, "internal/") ||
			strings.HasPrefix(fn, "github.com/threadmon/threadmon/threading.") || strings.HasPrefix(fn, "github.com/threadmon/threadmon/internal/") {
			continue
		}
		if j := strings.LastIndex(fn, "("); j > 0 {
			fn = fn[:j]
		}
		file := strings.TrimSpace(lines[i])
		if j := strings.LastIndex(file, " +0x"); j > 0 {
			file = file[:j]
		}
		return fn + " " + file
	}
	return ""
}

// waitSites is where each waiting thread blocked (its innermost frame
// outside threading and the runtime), for the waits that captured a stack
// (threading.SetWaitStackSampling).
func waitSites() map[uint64]string {
	out := map[uint64]string{}
	for _, t := range threading.Enumerate() {
		w, ok := t.Waiting()
		if !ok || len(w.StackPCs()) == 0 {
			continue
		}
		fr := w.Stack()
		for range 64 {
			f, more := fr.Next()
			if f.Function != "" && !strings.HasPrefix(f.Function, "runtime.") &&
				!strings.HasPrefix(f.Function, "github.com/threadmon/threadmon/threading.") {
				out[t.Ident()] = f.Function + " " + f.File + ":" + strconv.Itoa(f.Line)
				break
			}
			if !more {
				break
			}
		}
	}
	return out
}

// ThreadView is one thread, drilled into: /thread?id=t123. Its stack is
// served apart, on demand, by /stack?id=t123.
type ThreadView struct {
	Time   time.Time          `json:"time"`
	Thread SummaryThread      `json:"thread"`
	Holds  []SummaryPrimitive `json:"holds"`
	// WaitsOn is the primitive it waits on, with its holders.
	WaitsOn *SummaryPrimitive `json:"waits_on,omitempty"`
	Holders []ThreadRef       `json:"holders"`
}

// ThreadViewOf builds the view of thread id in g, or nil.
func ThreadViewOf(g *Graph, id string) *ThreadView {
	g.index()
	t := g.threads[id]
	if t == nil {
		return nil
	}
	red := map[string]bool{}
	for _, c := range g.Components() {
		for _, x := range c.Threads {
			red[x] = true
		}
		for _, x := range c.Primitives {
			red[x] = true
		}
	}
	waiters := map[string][2]int{}
	for _, x := range g.Threads {
		if x != nil && x.Wait != nil {
			w := waiters[x.Wait.Primitive]
			w[0]++
			if idleKind(x.Wait.Kind) {
				w[1]++
			}
			waiters[x.Wait.Primitive] = w
		}
	}
	sp := func(p *Primitive) SummaryPrimitive {
		w := waiters[p.ID]
		return SummaryPrimitive{ID: p.ID, Kind: p.Kind, Label: p.Label, Class: p.Class, State: p.State, Holders: nonNil(p.Holders),
			Waiters: w[0], IdleWaiters: w[1], Acquisitions: p.Stats.Acquisitions, Contentions: p.Stats.Contentions,
			WaitSeconds: p.Stats.WaitTotal.Seconds(), Deadlocked: red[p.ID]}
	}
	v := &ThreadView{Time: g.Time, Holds: []SummaryPrimitive{}, Holders: []ThreadRef{},
		Thread: SummaryThread{ID: t.ID, Name: t.Name, Ident: t.Ident, State: t.State, Wait: t.Wait, Holds: nonNil(t.Holds), Deadlocked: red[t.ID], Blocked: t.Blocked}}
	for _, h := range t.Holds[:min(len(t.Holds), 200)] {
		if p := g.prims[h]; p != nil {
			v.Holds = append(v.Holds, sp(p))
		}
	}
	if t.Wait != nil {
		if p := g.prims[t.Wait.Primitive]; p != nil {
			w := sp(p)
			v.WaitsOn = &w
			for _, h := range p.Holders {
				if ht := g.threads[h]; ht != nil {
					v.Holders = append(v.Holders, refOf(ht))
				}
			}
		}
	}
	return v
}
