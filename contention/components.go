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
// the other; a component with two threads or more is a deadlock (a thread
// waiting on what it holds itself is not one here: threading reports that
// case itself).

// maxCycle caps the witness cycle kept for a component, and maxReportThreads
// the threads a report lists.
const (
	maxCycle         = 64
	maxReportThreads = 64
)

// Component is a deadlocked component of the wait-for graph: threads that
// each wait, directly or through the others, for every other one.
type Component struct {
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
	var prims []*Primitive
	pix := map[string]int32{}
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
		k, ok := pix[p.ID]
		if !ok {
			k = nt + int32(len(prims))
			pix[p.ID] = k
			prims = append(prims, p)
		}
		wait[i] = k
	}
	// The holders of each primitive waited on, as thread nodes in id order
	// (compressed rows: holders[start[k]:start[k+1]]).
	start := make([]int32, len(prims)+1)
	var holders []int32
	for k, p := range prims {
		from := len(holders)
		for _, h := range p.Holders {
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
	var out []Component
	index := map[int32]int{} // component number to its place in out
	for i := int32(0); i < nt; i++ {
		c := comp[i]
		if size[c] < 2 {
			continue
		}
		k, ok := index[c]
		if !ok {
			k = len(out)
			index[c] = k
			out = append(out, Component{Threads: make([]string, 0, size[c])})
		}
		out[k].Threads = append(out[k].Threads, threads[i].ID)
	}
	for k := range prims {
		if j, ok := index[comp[nt+int32(k)]]; ok {
			out[j].Primitives = append(out[j].Primitives, prims[k].ID)
		}
	}
	w := newWitnesser(nt, comp, wait, succ)
	for j := range out {
		sort.Strings(out[j].Primitives)
		cycle, n := w.shortestCycle(tix[out[j].Threads[0]])
		out[j].CycleLength = n
		for _, v := range cycle {
			out[j].Cycle = append(out[j].Cycle, threads[v].ID)
		}
	}
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
