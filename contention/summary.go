package contention

import (
	"cmp"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Summary is the wait-for graph grouped for a person to read at any scale:
// threads grouped by state and by what they wait on, each group with its
// count, its longest waits and the holders of what it waits on; the
// primitives that are waited on or held, with their waiter counts; and, one
// by one, only the threads that matter (deadlocked, holding something waited
// on, or asked for). Its size is bounded by SummaryOptions, not by the number
// of goroutines: /summary serves it, and the page polls it instead of /graph.
type Summary struct {
	Time time.Time `json:"time"`
	// Query is the filter the summary was built with ("" for none).
	Query  string        `json:"query,omitempty"`
	Counts SummaryCounts `json:"counts"`
	// Groups are the threads grouped, the largest groups first (deadlocked
	// groups before all others), at most SummaryOptions.Groups.
	Groups []ThreadGroup `json:"groups"`
	// GroupsOmitted counts the groups past the cap.
	GroupsOmitted int `json:"groups_omitted"`
	// Primitives are those waited on or held, deadlocked ones first, then
	// by waiters to acquire, then by waiters, at most
	// SummaryOptions.Primitives.
	Primitives        []SummaryPrimitive `json:"primitives"`
	PrimitivesOmitted int                `json:"primitives_omitted"`
	// Threads are the threads drawn one by one: deadlocked threads, the
	// holders of the primitives listed, and those asked for by id (and,
	// while at most 30 threads wait, every waiting thread).
	Threads []SummaryThread `json:"threads"`
	// Deadlocked are the graph's deadlocked components.
	Deadlocked []Component `json:"deadlocked"`
}

// SummaryCounts counts the threads of the graph (Matched: those the query
// kept) and its primitives.
type SummaryCounts struct {
	Threads int `json:"threads"`
	Matched int `json:"matched"`
	Running int `json:"running"`
	Waiting int `json:"waiting"`
	// Contention counts threads waiting to acquire; Idle those waiting to
	// be notified (a Condition, an Event, a Barrier, a Join, a WaitGroup).
	Contention int `json:"contention"`
	Idle       int `json:"idle"`
	Deadlocked int `json:"deadlocked"`
	Primitives int `json:"primitives"`
}

// ThreadGroup is the threads in one state waiting the same way on the same
// primitive (or all running threads).
type ThreadGroup struct {
	// Key identifies the group across polls: "running", or the wait kind
	// and the primitive id ("acquire p12").
	Key   string `json:"key"`
	Title string `json:"title"`
	State string `json:"state"`
	// WaitKind, Idle and the Primitive fields are set for waiting groups.
	WaitKind       string      `json:"wait_kind,omitempty"`
	Idle           bool        `json:"idle"`
	Primitive      string      `json:"primitive,omitempty"`
	PrimitiveKind  string      `json:"primitive_kind,omitempty"`
	PrimitiveLabel string      `json:"primitive_label,omitempty"`
	PrimitiveClass string      `json:"primitive_class,omitempty"`
	Holders        []ThreadRef `json:"holders"`
	Count          int         `json:"count"`
	MaxSeconds     float64     `json:"max_seconds"`
	Deadlocked     bool        `json:"deadlocked"`
	Threads        []ThreadRef `json:"threads"`
	Target         int         `json:"target"`
	Stale          bool        `json:"stale,omitempty"`
	byIdent        []*Thread   // all of the group's threads, while building
	prim           *Primitive  // while building
}

// ThreadRef is a thread in a group, or a holder.
type ThreadRef struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Ident uint64 `json:"ident"`
	// Seconds is how long it has waited (0 for a running thread).
	Seconds float64 `json:"seconds"`
	// Holds counts the primitives it holds.
	Holds int `json:"holds"`
	// Blocked is what it is blocked on outside threadmon, for a holder
	// (see Thread.Blocked).
	Blocked *Blocked `json:"blocked,omitempty"`
}

// SummaryPrimitive is a primitive waited on or held.
type SummaryPrimitive struct {
	ID      string   `json:"id"`
	Kind    string   `json:"kind"`
	Label   string   `json:"label"`
	Class   string   `json:"class"`
	State   string   `json:"state"`
	Holders []string `json:"holders"`
	// Waiters counts the threads waiting on it now, IdleWaiters those of
	// them waiting to be notified.
	Waiters      int     `json:"waiters"`
	IdleWaiters  int     `json:"idle_waiters"`
	Acquisitions uint64  `json:"acquisitions"`
	Contentions  uint64  `json:"contentions"`
	WaitSeconds  float64 `json:"wait_seconds"`
	Deadlocked   bool    `json:"deadlocked"`
	Target       int     `json:"target"`
	Stale        bool    `json:"stale,omitempty"`
}

// SummaryThread is a thread drawn one by one.
type SummaryThread struct {
	ID         string   `json:"id"`
	Name       string   `json:"name"`
	Ident      uint64   `json:"ident"`
	State      string   `json:"state"`
	Wait       *Wait    `json:"wait,omitempty"`
	Holds      []string `json:"holds"`
	Deadlocked bool     `json:"deadlocked"`
	Target     int      `json:"target"`
	Stale      bool     `json:"stale,omitempty"`
	// Blocked is what a holder is blocked on outside threadmon (see
	// Thread.Blocked).
	Blocked *Blocked `json:"blocked,omitempty"`
}

// SummaryOptions bound a Summary. Zero values take the defaults.
type SummaryOptions struct {
	// Query keeps the threads whose name, state, wait kind ("acquire",
	// "notify", ..., "idle" or "contention") or primitive (kind, label,
	// class, id) contains it, case-insensitively; "" keeps all.
	Query string
	// Groups caps the groups (default 200); GroupThreads the threads listed
	// per group, the longest waits first (default 10; at most 1000).
	Groups       int
	GroupThreads int
	// Primitives caps the primitives (default 100); Threads the threads
	// listed one by one (default 200).
	Primitives int
	Threads    int
	// Selected are thread ids listed one by one whatever the caps.
	Selected []string
}

func (o *SummaryOptions) defaults() {
	def := func(v *int, d, hi int) {
		if *v <= 0 {
			*v = d
		}
		*v = min(*v, hi)
	}
	def(&o.Groups, 200, 10000)
	def(&o.GroupThreads, 10, 1000)
	def(&o.Primitives, 100, 10000)
	def(&o.Threads, 200, 10000)
}

// idleKind says whether a wait kind, as the graph names it, is a wait to be
// notified rather than to acquire (threading.WaitKind.Idle).
func idleKind(kind string) bool {
	switch kind {
	case "notify", "event", "barrier", "join", "waitgroup":
		return true
	}
	return false
}

// waitPhrase is how a group's title says what its threads do.
func waitPhrase(kind string, n int) string {
	verb := "waits"
	if n != 1 {
		verb = "wait"
	}
	switch kind {
	case "acquire":
		return verb + " to acquire"
	case "read":
		return verb + " to acquire for reading"
	case "reacquire":
		return verb + " to re-acquire"
	case "once":
		return verb + " for a Once to finish"
	}
	if idleKind(kind) {
		return "waiting to be notified (" + kind + ") by"
	}
	return verb + " (" + kind + ") on"
}

// count formats n with thousands separators: 2,871.
func count(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

func threadsWord(n int) string {
	if n == 1 {
		return "1 thread"
	}
	return count(n) + " threads"
}

func (s *Summary) matches(q string, t *Thread, p *Primitive) bool {
	if q == "" {
		return true
	}
	has := func(v string) bool { return strings.Contains(strings.ToLower(v), q) }
	if has(t.Name) || has(t.State) || has(t.ID) {
		return true
	}
	if t.Wait == nil {
		return false
	}
	idle := "contention"
	if idleKind(t.Wait.Kind) {
		idle = "idle"
	}
	return has(t.Wait.Kind) || has(idle) || (p != nil && (has(p.Kind) || has(p.Label) || has(p.Class) || has(p.ID) || has(p.Kind+" "+p.Label)))
}

// Summarize groups a graph (a Snapshot, or one decoded from another
// process's /graph) into a Summary.
func Summarize(g *Graph, o SummaryOptions) *Summary {
	o.defaults()
	comps := g.Components()
	s := &Summary{Time: g.Time, Query: o.Query, Groups: []ThreadGroup{}, Primitives: []SummaryPrimitive{},
		Threads: []SummaryThread{}, Deadlocked: comps}
	red := map[string]bool{}
	for _, c := range comps {
		for _, id := range c.Threads {
			red[id] = true
		}
		for _, id := range c.Primitives {
			red[id] = true
		}
	}
	q := strings.ToLower(strings.TrimSpace(o.Query))
	s.Counts.Primitives = len(g.Primitives)
	groups := map[string]*ThreadGroup{}
	var order []*ThreadGroup
	waiters := map[string][2]int{} // primitive id: waiters, idle waiters
	for _, t := range g.Threads {
		if t == nil {
			continue
		}
		s.Counts.Threads++
		var p *Primitive
		if t.Wait != nil {
			s.Counts.Waiting++
			p = g.prims[t.Wait.Primitive]
			w := waiters[t.Wait.Primitive]
			w[0]++
			if idleKind(t.Wait.Kind) {
				s.Counts.Idle++
				w[1]++
			} else {
				s.Counts.Contention++
			}
			waiters[t.Wait.Primitive] = w
		} else if t.State == "running" {
			s.Counts.Running++
		}
		if red[t.ID] {
			s.Counts.Deadlocked++
		}
		if t.Dummy && t.Wait == nil && len(t.Holds) == 0 {
			continue // an alien goroutine seen once, doing nothing of ours
		}
		if !s.matches(q, t, p) {
			continue
		}
		s.Counts.Matched++
		key := t.State
		if t.Wait != nil {
			key = t.Wait.Kind + " " + t.Wait.Primitive
		}
		grp := groups[key]
		if grp == nil {
			grp = &ThreadGroup{Key: key, State: t.State, Holders: []ThreadRef{}}
			if t.Wait != nil {
				grp.WaitKind, grp.Idle, grp.Primitive, grp.prim = t.Wait.Kind, idleKind(t.Wait.Kind), t.Wait.Primitive, p
				if p != nil {
					grp.PrimitiveKind, grp.PrimitiveLabel, grp.PrimitiveClass = p.Kind, p.Label, p.Class
				}
			}
			groups[key] = grp
			order = append(order, grp)
		}
		grp.byIdent = append(grp.byIdent, t)
		grp.Deadlocked = grp.Deadlocked || red[t.ID]
		if t.Wait != nil {
			grp.MaxSeconds = max(grp.MaxSeconds, t.Wait.Seconds)
		}
	}
	for _, grp := range order {
		grp.Count = len(grp.byIdent)
		slices.SortStableFunc(grp.byIdent, func(a, b *Thread) int { return cmp.Compare(waitSeconds(b), waitSeconds(a)) })
		grp.Threads = make([]ThreadRef, 0, min(len(grp.byIdent), o.GroupThreads))
		for _, t := range grp.byIdent[:min(len(grp.byIdent), o.GroupThreads)] {
			grp.Threads = append(grp.Threads, refOf(t))
		}
		if grp.prim != nil {
			for _, h := range grp.prim.Holders {
				if t := g.threads[h]; t != nil {
					grp.Holders = append(grp.Holders, refOf(t))
				}
			}
		}
		grp.Title = groupTitle(grp)
		grp.byIdent, grp.prim = nil, nil
	}
	slices.SortStableFunc(order, CompareGroups)
	for _, grp := range order[:min(len(order), o.Groups)] {
		s.Groups = append(s.Groups, *grp)
	}
	s.GroupsOmitted = max(0, len(order)-o.Groups)

	// The primitives waited on or held.
	var prims []*Primitive
	for _, p := range g.Primitives {
		if p != nil && (waiters[p.ID][0] > 0 || len(p.Holders) > 0) {
			prims = append(prims, p)
		}
	}
	slices.SortStableFunc(prims, func(a, b *Primitive) int {
		if red[a.ID] != red[b.ID] {
			return cmp.Compare(boolInt(red[b.ID]), boolInt(red[a.ID]))
		}
		// Waiters to acquire first: idle waiters say less.
		wa, wb := waiters[a.ID], waiters[b.ID]
		if c := cmp.Compare(wb[0]-wb[1], wa[0]-wa[1]); c != 0 {
			return c
		}
		return cmp.Compare(wb[0], wa[0])
	})
	s.PrimitivesOmitted = max(0, len(prims)-o.Primitives)
	prims = prims[:min(len(prims), o.Primitives)]
	for _, p := range prims {
		w := waiters[p.ID]
		s.Primitives = append(s.Primitives, SummaryPrimitive{ID: p.ID, Kind: p.Kind, Label: p.Label, Class: p.Class, State: p.State,
			Holders: nonNil(p.Holders), Waiters: w[0], IdleWaiters: w[1], Acquisitions: p.Stats.Acquisitions,
			Contentions: p.Stats.Contentions, WaitSeconds: p.Stats.WaitTotal.Seconds(), Deadlocked: red[p.ID]})
	}

	// The threads drawn one by one.
	listed := map[string]bool{}
	add := func(id string, force bool) {
		t := g.threads[id]
		if t == nil || listed[id] || (!force && len(s.Threads) >= o.Threads) {
			return
		}
		listed[id] = true
		st := SummaryThread{ID: t.ID, Name: t.Name, Ident: t.Ident, State: t.State, Wait: t.Wait, Holds: nonNil(t.Holds), Deadlocked: red[t.ID], Blocked: t.Blocked}
		if len(st.Holds) > 64 {
			st.Holds = st.Holds[:64]
		}
		s.Threads = append(s.Threads, st)
	}
	for _, c := range comps {
		for _, id := range c.Threads {
			add(id, false)
		}
	}
	for _, p := range s.Primitives {
		for _, h := range p.Holders {
			add(h, false)
		}
	}
	// A small graph is drawn whole: its waiting threads one by one too.
	if s.Counts.Waiting <= smallGraph {
		for _, t := range g.Threads {
			if t != nil && t.Wait != nil && (q == "" || s.matches(q, t, g.prims[t.Wait.Primitive])) {
				add(t.ID, false)
			}
		}
	}
	for _, id := range o.Selected[:min(len(o.Selected), 64)] {
		add(id, true)
	}
	return s
}

// smallGraph is the number of waiting threads up to which a summary lists
// every waiting thread one by one, so that a small graph is drawn whole.
const smallGraph = 30

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func waitSeconds(t *Thread) float64 {
	if t.Wait == nil {
		return 0
	}
	return t.Wait.Seconds
}

func refOf(t *Thread) ThreadRef {
	return ThreadRef{ID: t.ID, Name: t.Name, Ident: t.Ident, Seconds: waitSeconds(t), Holds: len(t.Holds), Blocked: t.Blocked}
}

// groupTitle says what a group's threads do, as a sentence: "2,871 threads
// wait to acquire Lock db, held by worker-3".
func groupTitle(grp *ThreadGroup) string {
	if grp.WaitKind == "" {
		return threadsWord(grp.Count) + " " + grp.State
	}
	what := grp.Primitive
	if grp.PrimitiveKind != "" {
		what = grp.PrimitiveKind + " " + grp.PrimitiveLabel
	}
	s := threadsWord(grp.Count) + " " + waitPhrase(grp.WaitKind, grp.Count) + " " + what
	switch n := len(grp.Holders); {
	case n == 1:
		s += ", held by " + grp.Holders[0].Name
	case n > 1:
		s += fmt.Sprintf(", held by %s and %d more", grp.Holders[0].Name, n-1)
	}
	return s
}

// CompareGroups is the order a Summary lists its groups in: deadlocked groups
// first, then contention, then idle waiting, then running; within each, the
// largest first, then by key.
func CompareGroups(a, b *ThreadGroup) int {
	rank := func(g *ThreadGroup) int {
		switch {
		case g.Deadlocked:
			return 0
		case g.WaitKind != "" && !g.Idle:
			return 1
		case g.Idle:
			return 2
		}
		return 3
	}
	if c := cmp.Compare(rank(a), rank(b)); c != 0 {
		return c
	}
	if c := cmp.Compare(b.Count, a.Count); c != 0 {
		return c
	}
	return cmp.Compare(a.Key, b.Key)
}

// Group returns one group of a summary built with o, listing up to limit of
// its threads from offset (longest waits first), or nil when no group has
// that key.
func (g *Graph) Group(key string, o SummaryOptions, offset, limit int) *ThreadGroup {
	s := Summarize(g, SummaryOptions{Query: o.Query, Groups: 10000, GroupThreads: 1, Primitives: 1, Threads: 1})
	for i := range s.Groups {
		if s.Groups[i].Key != key {
			continue
		}
		grp := s.Groups[i]
		var ts []*Thread
		for _, t := range g.Threads {
			if t == nil || (t.Dummy && t.Wait == nil && len(t.Holds) == 0) {
				continue
			}
			k := t.State
			if t.Wait != nil {
				k = t.Wait.Kind + " " + t.Wait.Primitive
			}
			var p *Primitive
			if t.Wait != nil {
				p = g.prims[t.Wait.Primitive]
			}
			if k == key && s.matches(strings.ToLower(strings.TrimSpace(o.Query)), t, p) {
				ts = append(ts, t)
			}
		}
		slices.SortStableFunc(ts, func(a, b *Thread) int { return cmp.Compare(waitSeconds(b), waitSeconds(a)) })
		offset = min(max(offset, 0), len(ts))
		limit = min(max(limit, 1), 1000)
		grp.Threads = []ThreadRef{}
		for _, t := range ts[offset:min(len(ts), offset+limit)] {
			grp.Threads = append(grp.Threads, refOf(t))
		}
		return &grp
	}
	return nil
}

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
