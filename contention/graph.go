// Package contention reads package threading's registry to answer what a
// service that hangs or crawls needs answered: who holds what, who waits on
// whom, and whether the waiting has closed into a deadlock.
//
// Snapshot returns the wait-for graph; a Detector finds deadlocks in it and
// reports each one once; NewHandler serves a Source over HTTP as JSON (and
// DOT): Local(d) is this process with detector d's reports, and Handler is
// NewHandler(Local(nil)).
package contention

import (
	"fmt"
	"sort"
	"time"

	"github.com/threadmon/threadmon/internal/plumb"
	"github.com/threadmon/threadmon/threading"
)

// Thread is a thread in a snapshot.
type Thread struct {
	// ID is the node id in the graph: "t" and the ident.
	ID     string `json:"id"`
	Name   string `json:"name"`
	Ident  uint64 `json:"ident"`
	Daemon bool   `json:"daemon"`
	// Dummy is true for an alien goroutine seen by the package.
	Dummy bool `json:"dummy"`
	// State is "running" or "waiting".
	State string `json:"state"`
	// Wait is what the thread waits on, when State is "waiting".
	Wait *Wait `json:"wait,omitempty"`
	// Holds are the ids of the primitives the thread holds.
	Holds []string `json:"holds"`
	// Ended is when the thread ended, for a thread that has ended (State
	// "finished") but still holds what others wait on.
	Ended *time.Time `json:"ended,omitempty"`
	// EndedBefore is, for a goroutine with no record found ended (State
	// "finished"), the time of the goroutine dump that showed it gone.
	EndedBefore *time.Time `json:"ended_before,omitempty"`
	// Blocked is, for a holder others wait on that is blocked outside
	// threadmon (a channel, a select, sync, a sleep, I/O), what it is
	// blocked on and where, as the Detector last found it in a goroutine
	// dump (see WithBlockedHolders). Nil when not known.
	Blocked *Blocked `json:"blocked,omitempty"`
	// Stack is where a waiting thread blocked, from a goroutine dump: filled
	// in only by AddStacks. /graph and /threads leave it out; /stack serves
	// the stacks of the threads a person opens.
	Stack string `json:"stack,omitempty"`
}

// Wait is a thread's wait in progress.
type Wait struct {
	// Primitive is the id of the primitive waited on.
	Primitive string `json:"primitive"`
	// Kind is what is waited for: acquire, read, notify, reacquire, event,
	// barrier, join.
	Kind  string    `json:"kind"`
	Since time.Time `json:"since"`
	// Seconds is how long the wait has lasted at the snapshot.
	Seconds float64 `json:"seconds"`
	// Seq identifies the wait (see threading.WaitInfo.Seq).
	Seq uint64 `json:"seq"`
	// Cancellable is true for waits through a Context.
	Cancellable bool `json:"cancellable"`
	// On says, for a wait on an RWLock, whom it waits for: "writer" (a
	// reader, or a writer waiting for the writers' turn: the writer holding
	// or first in line for the lock) or "readers" (the writer first in
	// line, waiting for the readers to leave). Empty for other primitives:
	// the wait is on the holders.
	On string `json:"on,omitempty"`
	// SelfHeld is true when the thread itself held what it waits on as the
	// wait began (a re-acquire): what tells a self-deadlock from a thread
	// that has just been handed the lock and not yet closed its wait.
	SelfHeld bool `json:"self_held,omitempty"`
}

// Primitive is a primitive in a snapshot.
type Primitive struct {
	// ID is the node id: "p" and the registry id (for a joined thread, "j"
	// and its ident).
	ID    string `json:"id"`
	Kind  string `json:"kind"`
	Name  string `json:"name"`
	Class string `json:"class"`
	// Label is the name, or the class where unnamed.
	Label string `json:"label"`
	// State is the primitive's String(), as Python's repr.
	State string `json:"state"`
	// Holders are the thread ids holding it.
	Holders []string        `json:"holders"`
	Stats   threading.Stats `json:"stats"`
	// For an RWLock: Writer is the thread holding or first in line for
	// the write lock; Readers are the threads holding it for reading that
	// can be named, and UnnamedReaders how many more hold it for reading
	// (-1: unknown, as after a read lock released by another goroutine).
	// A cycle through an unnamed reader is not found.
	Writer         string   `json:"writer,omitempty"`
	Readers        []string `json:"readers,omitempty"`
	UnnamedReaders int      `json:"unnamed_readers,omitempty"`
}

// Edge is "waits_on" (thread to primitive) or "held_by" (primitive to
// thread).
type Edge struct {
	From  string    `json:"from"`
	To    string    `json:"to"`
	Type  string    `json:"type"`
	Kind  string    `json:"kind,omitempty"`  // the wait kind, on waits_on edges
	Since time.Time `json:"since,omitempty"` // when the wait began, on waits_on edges
}

// Graph is a snapshot of the threads, the primitives and who waits on whom.
// It is plain data: it holds no primitive and no thread of package
// threading, so keeping one keeps nothing a goroutine waits on alive.
type Graph struct {
	Time       time.Time    `json:"time"`
	Threads    []*Thread    `json:"threads"`
	Primitives []*Primitive `json:"primitives"`
	Edges      []Edge       `json:"edges"`
	// Deadlocked are the deadlocked components of the graph (see
	// Components), so that a reader need not search for cycles itself.
	Deadlocked []Component `json:"deadlocked"`

	threads  map[string]*Thread
	prims    map[string]*Primitive
	analysed bool // Deadlocked is computed from this graph's own data
	remote   bool // decoded from another process's /graph
}

// index builds the lookup maps of a graph decoded from JSON (another
// process's /graph), dropping edges and waits that name unknown nodes.
func (g *Graph) index() {
	if g.threads != nil {
		return
	}
	g.remote = true
	g.threads = map[string]*Thread{}
	g.prims = map[string]*Primitive{}
	for _, p := range g.Primitives {
		if p != nil {
			g.prims[p.ID] = p
		}
	}
	for _, t := range g.Threads {
		if t == nil {
			continue
		}
		if t.Wait != nil && g.prims[t.Wait.Primitive] == nil {
			t.Wait = nil
		}
		g.threads[t.ID] = t
	}
	for _, p := range g.prims {
		var hs []string
		for _, h := range p.Holders {
			if g.threads[h] != nil {
				hs = append(hs, h)
			}
		}
		p.Holders = hs
		var rs []string
		for _, r := range p.Readers {
			if g.threads[r] != nil {
				rs = append(rs, r)
			}
		}
		p.Readers = rs
		if g.threads[p.Writer] == nil {
			p.Writer = ""
		}
	}
}

// Components returns the deadlocked components of the graph, sorted by
// their first thread id, and sets Deadlocked to them. On a graph decoded from
// JSON (another process's /graph) or built by hand, it first indexes the
// graph and computes them from its threads and primitives, whatever
// Deadlocked said. The search takes time linear in the size of the graph.
func (g *Graph) Components() []Component {
	g.index()
	if !g.analysed {
		g.Deadlocked = g.findComponents()
		if g.Deadlocked == nil {
			g.Deadlocked = []Component{}
		}
		g.analysed = true
	}
	return g.Deadlocked
}

// Cycles returns one wait-for cycle per deadlocked component, each as the
// ids of its threads in order (the component's witness cycle, at most 64
// threads). It also works on a graph decoded from another process's /graph.
func (g *Graph) Cycles() [][]string {
	var out [][]string
	for _, c := range g.Components() {
		out = append(out, c.Cycle)
	}
	return out
}

func threadID(ident uint64) string { return fmt.Sprintf("t%d", ident) }

func primID(p threading.Primitive) string {
	if t, ok := p.(*threading.Thread); ok {
		return fmt.Sprintf("j%d", t.Ident())
	}
	return fmt.Sprintf("p%d", threading.Describe(p).ID)
}

// Snapshot reads the registry once: every live thread, every registered
// primitive and every primitive waited on, with the edges between them.
func Snapshot() *Graph {
	g := &Graph{Time: time.Now(), threads: map[string]*Thread{}, prims: map[string]*Primitive{}}
	// The primitives themselves are needed only while the snapshot is read.
	objs := map[string]threading.Primitive{}
	addThread := func(t *threading.Thread) *Thread {
		id := threadID(t.Ident())
		if n, ok := g.threads[id]; ok {
			return n
		}
		n := &Thread{ID: id, Name: t.Name(), Ident: t.Ident(), Daemon: t.Daemon(), Dummy: t.IsDummy(), State: "running", Holds: []string{}}
		g.threads[id] = n
		g.Threads = append(g.Threads, n)
		return n
	}
	addPrim := func(p threading.Primitive) *Primitive {
		id := primID(p)
		if n, ok := g.prims[id]; ok {
			return n
		}
		i := threading.Describe(p)
		n := &Primitive{ID: id, Kind: i.Kind.String(), Name: i.Name, Class: i.Class, Label: i.Label(),
			State: p.String(), Stats: p.Stats(), Holders: []string{}}
		g.prims[id] = n
		objs[id] = p
		g.Primitives = append(g.Primitives, n)
		return n
	}
	for _, t := range threading.Enumerate() {
		n := addThread(t)
		if w, ok := t.Waiting(); ok && w.Primitive != nil {
			p := addPrim(w.Primitive)
			n.State = "waiting"
			n.Wait = &Wait{Primitive: p.ID, Kind: w.Kind.String(), Since: w.Since, Seconds: g.Time.Sub(w.Since).Seconds(), Seq: w.Seq, Cancellable: w.Cancellable,
				SelfHeld: w.Holder != 0 && w.Holder == t.Ident()}
			if _, ok := w.Primitive.(*threading.RWLock); ok {
				n.Wait.On = "writer"
				if plumb.DrainWait(&w) {
					n.Wait.On = "readers"
				}
			}
			g.Edges = append(g.Edges, Edge{From: n.ID, To: p.ID, Type: "waits_on", Kind: w.Kind.String(), Since: w.Since})
		}
	}
	for _, p := range threading.Primitives() {
		addPrim(p)
	}
	// holderNode is the node of goroutine h, which holds something: a
	// thread, a goroutine the registry does not know (state "unknown"), or
	// one known to have ended (state "finished").
	holderNode := func(h uint64) *Thread {
		if t := threading.LookupThread(h); t != nil {
			return addThread(t)
		}
		if n, ok := g.threads[threadID(h)]; ok {
			return n
		}
		n := &Thread{ID: threadID(h), Name: fmt.Sprintf("goroutine %d", h), Ident: h, State: "unknown", Holds: []string{}}
		if name, at, ok := plumb.EndedThread(h); ok {
			n.Name, n.State, n.Ended = name, "finished", &at
		}
		g.threads[n.ID] = n
		g.Threads = append(g.Threads, n)
		return n
	}
	for _, p := range g.Primitives {
		obj := objs[p.ID]
		if w, rs, unnamed, ok := plumb.RWState(obj); ok {
			if w != 0 {
				p.Writer = holderNode(w).ID
			}
			for _, r := range rs {
				p.Readers = append(p.Readers, holderNode(r).ID)
			}
			p.UnnamedReaders = unnamed
		}
		for _, h := range plumb.Holders(obj) {
			holder := holderNode(h)
			if _, isThread := obj.(*threading.Thread); !isThread {
				holder.Holds = append(holder.Holds, p.ID)
			}
			p.Holders = append(p.Holders, holder.ID)
			g.Edges = append(g.Edges, Edge{From: p.ID, To: holder.ID, Type: "held_by"})
		}
	}
	sort.Slice(g.Threads, func(i, j int) bool { return g.Threads[i].Ident < g.Threads[j].Ident })
	g.annotateBlocked()
	g.Components()
	return g
}

// AddStacks fills in the stack of every waiting thread from a goroutine dump
// begun after the snapshot (which stops the world briefly, and is shared
// with concurrent callers: for diagnostics, not for polling; the handler
// never calls it).
func (g *Graph) AddStacks() {
	var idents []uint64
	for _, t := range g.Threads {
		if t.Wait != nil {
			idents = append(idents, t.Ident)
		}
	}
	if len(idents) == 0 {
		return
	}
	stacks := goroutineStacks(idents, g.Time)
	for _, t := range g.Threads {
		if t.Wait != nil {
			t.Stack = stacks[t.Ident]
		}
	}
}

// Thread returns a thread of the snapshot by id.
func (g *Graph) Thread(id string) *Thread { return g.threads[id] }

// Primitive returns a primitive of the snapshot by id.
func (g *Graph) Primitive(id string) *Primitive { return g.prims[id] }
