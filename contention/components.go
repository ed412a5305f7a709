package contention

import (
	"slices"
	"sort"
)

// Deadlocks are found per strongly connected component of the wait-for
// graph, in time linear in its size, never by listing its cycles: a graph of
// ten threads that all wait on each other (readers of shared RWLocks) has
// millions of elementary cycles, and one deadlock is one report whatever
// their number.
//
// The search runs on the graph as served, threads and primitives both
// nodes: thread T → primitive P when T waits on P, P → thread U when U holds
// P. So an RWLock with a thousand readers and a thousand waiting writers
// costs two thousand edges, not a million. Two distinct threads are in the
// same component of that graph exactly when each waits, through others, for
// the other; a component with two threads or more is a deadlock. A thread
// alone in its component that waits on what it alone holds (or on an
// RWLock's readers, itself among them) is a self-deadlock, a cycle of one.
// Waiters on what a thread that has ended holds for good are orphans.

// maxCycle caps the witness cycle kept for a component, and maxReportThreads
// the threads a report lists.
const (
	maxCycle         = 64
	maxReportThreads = 64
)

// The kinds of Component (and of Report).
const (
	// KindDeadlock: two threads or more that each wait, directly or
	// through the others, for every other one.
	KindDeadlock = "deadlock"
	// KindSelfDeadlock: one thread waiting for itself: re-acquiring a Lock
	// it holds, write-locking an RWLock it holds (for writing or reading),
	// read-locking one it holds for writing.
	KindSelfDeadlock = "self_deadlock"
	// KindOrphan: threads waiting on a primitive held by a thread or
	// goroutine that has ended: nothing will release it.
	KindOrphan = "orphan"
)

// Component is a deadlocked component of the wait-for graph: threads that
// each wait, directly or through the others, for every other one; or (Kind
// self_deadlock) one thread that waits on what it holds itself, a cycle of
// one; or (Kind orphan) the threads waiting on a primitive whose holder has
// ended.
type Component struct {
	// Kind is KindDeadlock, KindSelfDeadlock or KindOrphan.
	Kind string `json:"kind"`
	// Threads are the ids of its threads, sorted.
	Threads []string `json:"threads"`
	// Primitives are the ids of the primitives its threads wait on, sorted.
	Primitives []string `json:"primitives"`
	// Cycle is a witness: the shortest cycle through Threads[0], as thread
	// ids in order, each waiting on a primitive the next one holds (the last
	// one's held by the first). It lists at most 64 threads; CycleLength is
	// its full length.
	Cycle       []string `json:"cycle"`
	CycleLength int      `json:"cycle_length"`
	// EndedHolders are, for an orphan, the ended threads holding what its
	// threads wait on.
	EndedHolders []string `json:"ended_holders,omitempty"`
}

// findComponents returns the deadlocked components of the graph, sorted by
// their first thread id. g must be indexed.
func (g *Graph) findComponents() []Component {
	// Nodes: threads 0..nt-1 in id order, then the primitives waited on.
	threads := make([]*Thread, 0, len(g.threads))
	for _, t := range g.threads {
		threads = append(threads, t)
	}
	sort.Slice(threads, func(i, j int) bool { return threads[i].ID < threads[j].ID })
	nt := int32(len(threads))
	tix := make(map[string]int32, nt)
	for i, t := range threads {
		tix[t.ID] = int32(i)
	}
	// A primitive node is a primitive waited on and whom its waiters wait
	// for: its holders, or for an RWLock its writer (holding or first in
	// line) or its readers (see Wait.On), as separate nodes.
	type primSide struct {
		p  *Primitive
		on string
	}
	var prims []primSide
	pix := map[primSide]int32{}
	wait := make([]int32, nt) // thread to the node of what it waits on, or -1
	for i, t := range threads {
		wait[i] = -1
		if t.Wait == nil {
			continue
		}
		p := g.prims[t.Wait.Primitive]
		if p == nil {
			continue
		}
		ps := primSide{p, t.Wait.On}
		if ps.on == "writer" && p.Writer == "" {
			ps.on = "" // a graph without the RWLock's sides
		}
		k, ok := pix[ps]
		if !ok {
			k = nt + int32(len(prims))
			pix[ps] = k
			prims = append(prims, ps)
		}
		wait[i] = k
	}
	// The holders of each primitive node, as thread nodes in id order
	// (compressed rows: holders[start[k]:start[k+1]]).
	start := make([]int32, len(prims)+1)
	var holders []int32
	for k, ps := range prims {
		from := len(holders)
		hs := ps.p.Holders
		switch ps.on {
		case "writer":
			hs = []string{ps.p.Writer}
		case "readers":
			hs = ps.p.Readers
		}
		for _, h := range hs {
			if i, ok := tix[h]; ok {
				holders = append(holders, i)
			}
		}
		row := holders[from:]
		slices.Sort(row)
		holders = holders[:from+len(slices.Compact(row))]
		start[k+1] = int32(len(holders))
	}
	succ := func(v int32) []int32 {
		if v < nt {
			if wait[v] < 0 {
				return nil
			}
			return wait[v : v+1]
		}
		k := v - nt
		return holders[start[k]:start[k+1]]
	}

	comp := tarjan(nt+int32(len(prims)), succ)

	// Threads per component; keep components of two threads or more.
	size := make([]int32, len(comp))
	for i := int32(0); i < nt; i++ {
		size[comp[i]]++
	}
	// stuck reports whether what a waiter waits on at node k is held for
	// good by thread x: x holds it alone, or it is an RWLock's readers,
	// all of whom must leave.
	stuck := func(k int32, x int32) bool {
		hs := succ(k)
		if _, ok := slices.BinarySearch(hs, x); !ok {
			return false
		}
		return len(hs) == 1 || prims[k-nt].on == "readers"
	}
	var out []Component
	index := map[int32]int{} // component number to its place in out
	for i := int32(0); i < nt; i++ {
		c := comp[i]
		if size[c] < 2 {
			// A thread waiting on what it holds alone is a self-deadlock
			// only if it held it when the wait began (or, for an RWLock's
			// readers, is one of them): a thread just handed the lock, whose
			// wait is not yet closed, looks the same for an instant.
			if k := wait[i]; k >= 0 && stuck(k, i) && (prims[k-nt].on == "readers" || threads[i].Wait.SelfHeld) {
				id := threads[i].ID
				out = append(out, Component{Kind: KindSelfDeadlock, Threads: []string{id},
					Primitives: []string{prims[k-nt].p.ID}, Cycle: []string{id}, CycleLength: 1})
			}
			continue
		}
		k, ok := index[c]
		if !ok {
			k = len(out)
			index[c] = k
			out = append(out, Component{Kind: KindDeadlock, Threads: make([]string, 0, size[c])})
		}
		out[k].Threads = append(out[k].Threads, threads[i].ID)
	}
	for k := range prims {
		if j, ok := index[comp[nt+int32(k)]]; ok {
			out[j].Primitives = append(out[j].Primitives, prims[k].p.ID)
		}
	}
	w := newWitnesser(nt, comp, wait, succ)
	for j := range out {
		if out[j].Kind != KindDeadlock {
			continue
		}
		sort.Strings(out[j].Primitives)
		out[j].Primitives = slices.Compact(out[j].Primitives) // an RWLock's two sides
		cycle, n := w.shortestCycle(tix[out[j].Threads[0]])
		out[j].CycleLength = n
		for _, v := range cycle {
			out[j].Cycle = append(out[j].Cycle, threads[v].ID)
		}
	}
	// Orphans: the waiters on each node held for good by a thread that
	// has ended.
	for k := range prims {
		node := nt + int32(k)
		var ended []string
		for _, h := range succ(node) {
			if threads[h].State == "finished" && stuck(node, h) {
				ended = append(ended, threads[h].ID)
			}
		}
		if len(ended) == 0 {
			continue
		}
		c := Component{Kind: KindOrphan, Primitives: []string{prims[k].p.ID}, Cycle: []string{}, EndedHolders: ended}
		for i := int32(0); i < nt; i++ {
			if wait[i] == node {
				c.Threads = append(c.Threads, threads[i].ID)
			}
		}
		out = append(out, c)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Threads[0] < out[j].Threads[0] })
	return out
}

// tarjan numbers the strongly connected components of the graph of n nodes
// with successors succ, without recursion: comp[v] is v's component.
func tarjan(n int32, succ func(int32) []int32) []int32 {
	const unvisited = -1
	index := make([]int32, n)
	low := make([]int32, n)
	comp := make([]int32, n)
	onStack := make([]bool, n)
	for i := range index {
		index[i] = unvisited
	}
	type frame struct{ v, next int32 }
	var frames []frame
	var stack []int32
	var counter, ncomp int32
	visit := func(v int32) {
		index[v], low[v] = counter, counter
		counter++
		stack = append(stack, v)
		onStack[v] = true
		frames = append(frames, frame{v: v})
	}
	for root := int32(0); root < n; root++ {
		if index[root] != unvisited {
			continue
		}
		visit(root)
		for len(frames) > 0 {
			f := &frames[len(frames)-1]
			v := f.v
			if out := succ(v); f.next < int32(len(out)) {
				w := out[f.next]
				f.next++
				if index[w] == unvisited {
					visit(w) // f may move: it is not used again
				} else if onStack[w] {
					low[v] = min(low[v], index[w])
				}
				continue
			}
			frames = frames[:len(frames)-1]
			if low[v] == index[v] {
				for {
					w := stack[len(stack)-1]
					stack = stack[:len(stack)-1]
					onStack[w] = false
					comp[w] = ncomp
					if w == v {
						break
					}
				}
				ncomp++
			}
			if len(frames) > 0 {
				p := frames[len(frames)-1].v
				low[p] = min(low[p], low[v])
			}
		}
	}
	return comp
}

// witnesser finds witness cycles. Its arrays span the whole graph and are
// allocated once; each search resets only what it touched, so the searches
// of all components together take time linear in the graph.
type witnesser struct {
	comp, wait []int32
	succ       func(int32) []int32
	prev       []int32 // thread to the thread it was reached from, -1 if not yet
	expanded   []bool  // node to whether its successors were queued
	queue      []int32
}

func newWitnesser(nt int32, comp, wait []int32, succ func(int32) []int32) *witnesser {
	w := &witnesser{comp: comp, wait: wait, succ: succ, prev: make([]int32, nt), expanded: make([]bool, len(comp))}
	for i := range w.prev {
		w.prev[i] = -1
	}
	return w
}

// shortestCycle finds the shortest cycle through thread s within its
// component, breadth first over threads in id order, each primitive
// expanded once. It returns the cycle's first maxCycle threads and its
// length.
func (w *witnesser) shortestCycle(s int32) ([]int32, int) {
	c := w.comp[s]
	w.queue = append(w.queue[:0], s)
	w.prev[s] = s
	defer func() {
		for _, x := range w.queue {
			w.prev[x] = -1
			if p := w.wait[x]; p >= 0 {
				w.expanded[p] = false
			}
		}
	}()
	for head := 0; head < len(w.queue); head++ {
		x := w.queue[head]
		p := w.wait[x]
		if p < 0 || w.comp[p] != c {
			continue
		}
		holders := w.succ(p) // sorted
		if _, heldByS := slices.BinarySearch(holders, s); heldByS && x != s {
			var path []int32
			for y := x; ; y = w.prev[y] {
				path = append(path, y)
				if y == s {
					break
				}
			}
			slices.Reverse(path)
			n := len(path)
			if n > maxCycle {
				path = path[:maxCycle]
			}
			return path, n
		}
		if w.expanded[p] {
			continue
		}
		w.expanded[p] = true
		for _, y := range holders {
			if w.prev[y] < 0 && w.comp[y] == c {
				w.prev[y] = x
				w.queue = append(w.queue, y)
			}
		}
	}
	return []int32{s}, 1 // not reached for a component of two threads or more
}
