package contention

import (
	"cmp"
	"errors"
	"math"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/threadmon/threadmon/threading"
)

// summaryQuery is /summary's query string, parsed.
type summaryQuery struct {
	SummaryOptions
	offset, limit int
}

// summaryOptionsOf parses /summary's query: q, groups, group_threads,
// primitives, threads, thread (repeatable), and for one group (group=KEY)
// offset and limit.
func summaryOptionsOf(v url.Values) (summaryQuery, error) {
	o := summaryQuery{SummaryOptions: SummaryOptions{Query: v.Get("q"), Selected: v["thread"]}, limit: 200}
	if len(o.Query) > 200 {
		return o, errors.New("q: at most 200 characters")
	}
	for name, dst := range map[string]*int{"groups": &o.Groups, "group_threads": &o.GroupThreads,
		"primitives": &o.Primitives, "threads": &o.Threads, "offset": &o.offset, "limit": &o.limit} {
		s := v.Get(name)
		if s == "" {
			continue
		}
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 || n > 100000 {
			return o, errors.New(name + " must be an integer from 0 to 100000")
		}
		*dst = n
	}
	if len(o.Selected) > 64 {
		return o, errors.New("at most 64 thread= ids")
	}
	return o, nil
}

// The wait-time distribution per class (kind and label, as in metrics),
// kept in-process so the page can draw it without Prometheus: log2 buckets
// from 1 µs (the first holds shorter waits, the last longer than 2^25 µs,
// about 33 s). Filled by an observer the handler attaches (waits that
// blocked only: the fast path costs nothing), for at most maxHistClasses
// classes.

const (
	histBuckets    = 27
	maxHistClasses = 2000
)

type classKey struct {
	kind  threading.Kind
	label string
}

type waitHist struct {
	buckets [histBuckets]atomic.Uint64
	idle    [histBuckets]atomic.Uint64 // waits to be notified, kept apart
}

type waitHists struct {
	threading.NopObserver
	m sync.Map // classKey: *waitHist
	n atomic.Int64
}

var (
	hists       = &waitHists{}
	histsAttach sync.Once
)

func bucketOf(d time.Duration) int {
	us := d.Seconds() * 1e6
	if us < 1 {
		return 0
	}
	return min(histBuckets-1, 1+int(math.Log2(us)))
}

// ObserveWait implements threading.Observer.
func (h *waitHists) ObserveWait(e *threading.WaitEvent) {
	if e.Primitive == nil {
		return
	}
	k := classKey{e.Primitive.Kind(), histLabel(e.Primitive)}
	v, ok := h.m.Load(k)
	if !ok {
		if h.n.Load() >= maxHistClasses {
			return
		}
		var loaded bool
		v, loaded = h.m.LoadOrStore(k, &waitHist{})
		if !loaded {
			h.n.Add(1)
		}
	}
	b := bucketOf(e.Duration)
	if e.Kind.Idle() {
		v.(*waitHist).idle[b].Add(1)
	} else {
		v.(*waitHist).buckets[b].Add(1)
	}
}

func histLabel(p threading.Primitive) string {
	if p.Kind() == threading.KindThread {
		return p.Class()
	}
	return threading.Label(p)
}

// HistBucket is one bucket of a wait-time distribution: waits of at most
// le_seconds (and more than the previous bucket's).
type HistBucket struct {
	LeSeconds float64 `json:"le_seconds"`
	Count     uint64  `json:"count"`
	Idle      uint64  `json:"idle"`
}

func (h *waitHists) of(kind, label string) []HistBucket {
	out := []HistBucket{}
	var found *waitHist
	h.m.Range(func(k, v any) bool {
		if ck := k.(classKey); ck.kind.String() == kind && ck.label == label {
			found = v.(*waitHist)
			return false
		}
		return true
	})
	if found == nil {
		return out
	}
	for i := range histBuckets {
		le := math.Ldexp(1e-6, i)
		if i == histBuckets-1 {
			le = math.Inf(1)
		}
		c, idle := found.buckets[i].Load(), found.idle[i].Load()
		if c == 0 && idle == 0 {
			continue
		}
		if math.IsInf(le, 1) {
			le = -1 // JSON has no infinity: -1 is "longer than the rest"
		}
		out = append(out, HistBucket{LeSeconds: le, Count: c, Idle: idle})
	}
	return out
}

// The recent statistics of each class, in a bounded ring: one sample at most
// every historyEvery, taken when the page polls (no goroutine of its own),
// historyLen samples (about five minutes), each of at most historyClasses
// classes (the most contended).

const (
	historyLen     = 60
	historyClasses = 500
)

var historyEvery = 5 * time.Second

type historySample struct {
	at    time.Time
	stats map[classKey]threading.Stats
}

type historyRing struct {
	mu      sync.Mutex
	samples []historySample // oldest first, at most historyLen
	taking  bool
}

var history = &historyRing{}

// sample records the classes' statistics, unless the last sample is younger
// than historyEvery.
func (h *historyRing) sample(now time.Time) {
	h.mu.Lock()
	if h.taking || (len(h.samples) > 0 && now.Sub(h.samples[len(h.samples)-1].at) < historyEvery) {
		h.mu.Unlock()
		return
	}
	h.taking = true
	h.mu.Unlock()
	cls := threading.Classes()
	slices.SortFunc(cls, func(a, b threading.ClassStats) int {
		return cmp.Compare(b.Stats.Contentions+b.Stats.Acquisitions/64, a.Stats.Contentions+a.Stats.Acquisitions/64)
	})
	s := historySample{at: now, stats: make(map[classKey]threading.Stats, min(len(cls), historyClasses))}
	for _, c := range cls[:min(len(cls), historyClasses)] {
		s.stats[classKey{c.Kind, c.Label}] = c.Stats
	}
	h.mu.Lock()
	h.taking = false
	h.samples = append(h.samples, s)
	if len(h.samples) > historyLen {
		h.samples = slices.Delete(h.samples, 0, len(h.samples)-historyLen)
	}
	h.mu.Unlock()
}

// RatePoint is one interval of a class's recent history: per-second rates
// of acquisitions and contentions, and the mean wait of the waits that
// blocked, between the previous sample and at.
type RatePoint struct {
	At              time.Time `json:"at"`
	Seconds         float64   `json:"seconds"`
	AcquisitionRate float64   `json:"acquisition_rate"`
	ContentionRate  float64   `json:"contention_rate"`
	MeanWaitSeconds float64   `json:"mean_wait_seconds"`
}

func (h *historyRing) of(kind, label string) []RatePoint {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := []RatePoint{}
	var prev *threading.Stats
	var prevAt time.Time
	for i := range h.samples {
		var st *threading.Stats
		for k, v := range h.samples[i].stats {
			if k.kind.String() == kind && k.label == label {
				st = &v
				break
			}
		}
		if st != nil && prev != nil {
			dt := h.samples[i].at.Sub(prevAt).Seconds()
			if dt > 0 && st.Acquisitions >= prev.Acquisitions && st.Contentions >= prev.Contentions {
				p := RatePoint{At: h.samples[i].at, Seconds: dt,
					AcquisitionRate: float64(st.Acquisitions-prev.Acquisitions) / dt,
					ContentionRate:  float64(st.Contentions-prev.Contentions) / dt}
				if n := st.Contentions - prev.Contentions; n > 0 {
					p.MeanWaitSeconds = (st.WaitTotal - prev.WaitTotal).Seconds() / float64(n)
				}
				out = append(out, p)
			}
		}
		prev, prevAt = st, h.samples[i].at
	}
	return out
}

// PrimitiveView is one primitive, drilled into: /primitive?id=p12.
type PrimitiveView struct {
	Time      time.Time        `json:"time"`
	Primitive SummaryPrimitive `json:"primitive"`
	// CreatedAt is where the primitive was created (its class).
	CreatedAt string      `json:"created_at"`
	Holders   []ThreadRef `json:"holders"`
	// Waiters are grouped by wait kind (and by wait site, when
	// threading.SetWaitStacks is on; else Site is "").
	Waiters []WaiterGroup `json:"waiters"`
	// SitesFrom says where the waiters' sites came from: "wait_stacks"
	// (threading.SetWaitStacks), "dump" (a goroutine dump, ?sites=1), or ""
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
// (threading.SetWaitStacks).
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
		Thread: SummaryThread{ID: t.ID, Name: t.Name, Ident: t.Ident, State: t.State, Wait: t.Wait, Holds: nonNil(t.Holds), Deadlocked: red[t.ID]}}
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
