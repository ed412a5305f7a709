package contention

import (
	"encoding/json"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/threadmon/threadmon/threading"
)

// spec is a wait-for graph to build: thread i waits on primitive waits[i]
// (-1: on nothing), primitive j is held by the threads holders[j].
type spec struct {
	waits   []int
	holders [][]int
	seq     uint64 // added to every wait's Seq
}

// graph builds the spec as another process's /graph would arrive: through
// JSON, as the sidecar decodes it.
func (s spec) graph(t testing.TB) *Graph {
	t.Helper()
	b, err := json.Marshal(s.build())
	if err != nil {
		t.Fatal(err)
	}
	var g Graph
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	return &g
}

// build builds the spec by hand, as the sidecar builds its merged view.
func (s spec) build() *Graph {
	g := &Graph{Time: time.Now()}
	for j, hs := range s.holders {
		p := &Primitive{ID: fmt.Sprintf("p%d", j+1), Kind: "RWLock", Label: fmt.Sprintf("rw-%d", j+1), State: "<RWLock>", Holders: []string{}}
		for _, h := range hs {
			p.Holders = append(p.Holders, fmt.Sprintf("t%d", h+1))
		}
		g.Primitives = append(g.Primitives, p)
	}
	for i, w := range s.waits {
		th := &Thread{ID: fmt.Sprintf("t%d", i+1), Name: fmt.Sprintf("worker-%d", i+1), Ident: uint64(i + 1), State: "running", Holds: []string{}}
		if w >= 0 {
			th.State = "waiting"
			th.Wait = &Wait{Primitive: fmt.Sprintf("p%d", w+1), Kind: "acquire", Since: g.Time.Add(-time.Second), Seq: s.seq + uint64(i+1)}
			if w < len(s.holders) && slices.Contains(s.holders[w], i) {
				th.Wait.SelfHeld = true // it held what it waits on as the wait began
			}
		}
		g.Threads = append(g.Threads, th)
	}
	for _, th := range g.Threads {
		if th.Wait != nil {
			g.Edges = append(g.Edges, Edge{From: th.ID, To: th.Wait.Primitive, Type: "waits_on", Kind: th.Wait.Kind, Since: th.Wait.Since})
		}
	}
	for j, hs := range s.holders {
		for _, h := range hs {
			g.Threads[h].Holds = append(g.Threads[h].Holds, g.Primitives[j].ID)
			g.Edges = append(g.Edges, Edge{From: g.Primitives[j].ID, To: g.Threads[h].ID, Type: "held_by"})
		}
	}
	return g
}

// dense is n threads each waiting on its own primitive, held (read) by all
// the others: every thread waits for every other, and the graph has more
// elementary cycles than can be listed (about e·(n-1)! ).
func dense(n int) spec {
	s := spec{waits: make([]int, n), holders: make([][]int, n)}
	for i := 0; i < n; i++ {
		s.waits[i] = i
		for j := 0; j < n; j++ {
			if j != i {
				s.holders[i] = append(s.holders[i], j)
			}
		}
	}
	return s
}

// ringSpec is n threads, thread i waiting on primitive i held by thread
// i+1 (order permutes the ring).
func ringSpec(n int, order func(int) int) spec {
	s := spec{waits: make([]int, n), holders: make([][]int, n)}
	for k := 0; k < n; k++ {
		i, next := order(k), order((k+1)%n)
		s.waits[i] = i
		s.holders[i] = []int{next}
	}
	return s
}

// within runs fn and fails the test if it has not returned after d: a
// search that blows up fails rather than hangs.
func within(t *testing.T, d time.Duration, fn func()) {
	t.Helper()
	done := make(chan struct{})
	go func() { defer close(done); fn() }()
	select {
	case <-done:
	case <-time.After(d):
		t.Fatalf("not done after %v", d)
	}
}

// Sixteen threads that all wait on each other: one component, one report,
// in well under a second, with allocations bounded by the graph's size
// (listing the cycles, as the detector once did, does not end).
func TestDenseGraph(t *testing.T) {
	const n = 16
	within(t, 20*time.Second, func() {
		g := dense(n).graph(t)
		comps := g.Components()
		if len(comps) != 1 || len(comps[0].Threads) != n || len(comps[0].Primitives) != n || comps[0].CycleLength != 2 {
			t.Errorf("components %+v", comps)
			return
		}
		if c := comps[0].Cycle; c[0] != "t1" || c[1] != "t10" {
			t.Errorf("witness %v, want the shortest cycle from t1 in id order: [t1 t10]", c)
		}
		if cs := g.Cycles(); len(cs) != 1 {
			t.Errorf("cycles %v", cs)
		}
		if dot := g.DOT(); strings.Count(dot, ", color=red") != n+n+n*(n-1)+n {
			t.Errorf("DOT marks %d red, want every thread, primitive and edge", strings.Count(dot, ", color=red"))
		}
		c := NewChecker()
		if rs := c.Check(g); len(rs) != 0 {
			t.Errorf("reported on first sight: %v", rs)
		}
		rs := c.Check(dense(n).graph(t))
		if len(rs) != 1 || rs[0].ThreadCount != n || len(rs[0].Threads) != n || !strings.Contains(rs[0].Text, "all 16 threads") {
			t.Errorf("reports %+v", rs)
			return
		}
		if rs[0].Threads[0].HeldBy != "worker-10" || rs[0].Threads[1].HeldBy != "worker-1" || rs[0].Threads[2].HeldBy != "worker-1" {
			t.Errorf("held by: %+v", rs[0].Threads[:3])
		}
		if rs := c.Check(dense(n).graph(t)); len(rs) != 0 {
			t.Errorf("reported twice")
		}
	})
	// Bounded memory: the search allocates for the graph's nodes and edges
	// only.
	g := dense(n).graph(t)
	g.index()
	allocs := testing.AllocsPerRun(20, func() { g.findComponents() })
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	g.findComponents()
	runtime.ReadMemStats(&after)
	bytes := after.TotalAlloc - before.TotalAlloc
	t.Logf("dense %d-thread graph: %.0f allocations, %d bytes per search", n, allocs, bytes)
	if allocs > 500 || bytes > 1<<20 {
		t.Fatalf("%.0f allocations, %d bytes for a %d-thread graph", allocs, bytes, n)
	}
}

// The same with real threads: sixteen threads, each holding read locks on
// the RWLocks of the four before it (threading names up to four readers of
// an RWLock), then waiting to write-lock its own: each waits on the four
// after it, and the graph has more cycles than can be listed.
func TestDenseDeadlockRWLocks(t *testing.T) {
	const n, readers = 16, 4
	locks := make([]*threading.RWLock, n)
	for i := range locks {
		locks[i] = threading.NewRWLock(threading.WithName(fmt.Sprintf("dense-rw-%d", i)))
	}
	bar, _ := threading.NewBarrier(n)
	var threads []*threading.Thread
	for i := 0; i < n; i++ {
		threads = append(threads, spawn(fmt.Sprintf("dense-%02d", i), func() error {
			for k := 1; k <= readers; k++ {
				locks[(i-k+n)%n].RLock()
			}
			_, _ = bar.Wait()
			locks[i].Lock() // waits for its readers
			locks[i].Unlock()
			return nil
		}))
	}
	defer func() {
		// Undo the read locks on the threads' behalf: every writer goes on.
		for i := range locks {
			for k := 0; k < readers; k++ {
				locks[i].RUnlock()
			}
		}
		for _, th := range threads {
			if done, _ := th.JoinTimeout(10 * time.Second); !done {
				t.Fatalf("%s stuck", th.Name())
			}
		}
	}()
	waiting := func() bool {
		for _, th := range threads {
			if w, ok := th.Waiting(); !ok || w.Kind != threading.WaitAcquire || threading.Describe(w.Primitive).Kind != threading.KindRWLock {
				return false
			}
		}
		return true
	}
	for !waiting() {
		time.Sleep(time.Millisecond)
	}
	within(t, 20*time.Second, func() {
		c := NewChecker()
		c.Check(Snapshot())
		rs := c.Check(Snapshot())
		if len(rs) != 1 || rs[0].ThreadCount != n || len(rs[0].Threads) != n {
			t.Errorf("reports %+v", rs)
			return
		}
		for _, rt := range rs[0].Threads {
			if !strings.HasPrefix(rt.Name, "dense-") || !strings.Contains(rt.Stack, "TestDenseDeadlockRWLocks") {
				t.Errorf("thread %+v", rt)
			}
		}
	})
}

// A ring of 100,000 threads: no recursion to overflow, a witness capped at
// 64 threads, a report of 64 threads with a bounded ID; and a chain of as
// many, which is no deadlock.
func TestHugeRing(t *testing.T) {
	const n = 100000
	within(t, 20*time.Second, func() {
		ring := ringSpec(n, func(k int) int { return k })
		g := ring.build()
		comps := g.Components()
		if len(comps) != 1 || len(comps[0].Threads) != n || comps[0].CycleLength != n || len(comps[0].Cycle) != maxCycle {
			t.Errorf("%d components", len(comps))
			return
		}
		c := NewChecker()
		c.Check(g)
		rs := c.Check(ring.build())
		if len(rs) != 1 || rs[0].ThreadCount != n || len(rs[0].Threads) != maxReportThreads || len(rs[0].ID) > 4096 ||
			!strings.Contains(rs[0].Text, "begin a cycle of 100000 threads") {
			t.Errorf("report: %d reports", len(rs))
		}
		chain := ring
		chain.waits = slices.Clone(ring.waits)
		chain.waits[n-1] = -1 // the last one waits on nothing: the chain drains
		if comps := chain.build().Components(); len(comps) != 0 {
			t.Errorf("a chain: %d components", len(comps))
		}
	})
}

// What is and is not a deadlock, and the confirmation rule: the same
// threads in the same waits twice, reported once; keys as before for a
// simple cycle; the order threads arrive in does not matter.
func TestComponentsAndConfirmation(t *testing.T) {
	// A ring t1 -> t3 -> t2 -> t1, with t4 waiting on t1 from outside and
	// t5 waiting on what it holds itself.
	s := spec{waits: []int{0, 1, 2, 0, 3}, holders: [][]int{{2}, {0}, {1}, {4}}}
	g := s.graph(t)
	comps := g.Components()
	if len(comps) != 2 || strings.Join(comps[0].Threads, ",") != "t1,t2,t3" || strings.Join(comps[0].Cycle, ",") != "t1,t3,t2" ||
		strings.Join(comps[0].Primitives, ",") != "p1,p2,p3" || comps[0].Kind != KindDeadlock {
		t.Fatalf("components %+v", comps)
	}
	if s := comps[1]; s.Kind != KindSelfDeadlock || strings.Join(s.Threads, ",") != "t5" || strings.Join(s.Cycle, ",") != "t5" ||
		s.CycleLength != 1 || strings.Join(s.Primitives, ",") != "p4" {
		t.Fatalf("self-deadlock %+v", s)
	}
	if cs := g.Cycles(); len(cs) != 2 || strings.Join(cs[0], ",") != "t1,t3,t2" || strings.Join(cs[1], ",") != "t5" {
		t.Fatalf("cycles %v", cs)
	}
	c := NewChecker()
	c.Check(s.graph(t))
	rs := c.Check(s.graph(t))
	if len(rs) != 2 || rs[0].ID != "t1@1>t3@3>t2@2" || len(rs[0].Threads) != 3 || rs[0].Threads[0].HeldBy != "worker-3" ||
		rs[1].Kind != KindSelfDeadlock || rs[1].Threads[0].HeldBy != "worker-5" {
		t.Fatalf("reports %+v", rs)
	}
	if !strings.HasPrefix(rs[0].Text, "Found one deadlock:") || strings.Contains(rs[0].Text, "form a cycle;") {
		t.Fatalf("text:\n%s", rs[0].Text)
	}
	// Threads and primitives listed in another order: the same deadlock.
	shuffled := s.graph(t)
	for i, j := 0, len(shuffled.Threads)-1; i < j; i, j = i+1, j-1 {
		shuffled.Threads[i], shuffled.Threads[j] = shuffled.Threads[j], shuffled.Threads[i]
	}
	if rs := c.Check(shuffled); len(rs) != 0 {
		t.Fatal("reported again")
	}
	// New waits (a new Seq): a new deadlock, confirmed only on the next look.
	s2 := s
	s2.seq = 100
	if rs := c.Check(s2.graph(t)); len(rs) != 0 {
		t.Fatal("reported on first sight")
	}
	if rs := c.Check(s2.graph(t)); len(rs) != 2 || rs[0].ID != "t1@101>t3@103>t2@102" {
		t.Fatalf("reports %+v", rs)
	}
	// A deadlock seen once and gone is never reported.
	c2 := NewChecker()
	c2.Check(s.graph(t))
	c2.Check(spec{waits: []int{0, -1, 2}, holders: [][]int{{2}, {0}, {1}}}.graph(t))
	if rs := c2.Check(s.graph(t)); len(rs) != 0 {
		t.Fatal("a deadlock that broke in between was reported")
	}
	if n := len(c.Reports()); n != 4 {
		t.Fatalf("%d reports", n)
	}
}

// Reports() does not wait for a search or a stack dump in progress.
func TestReportsDuringCheck(t *testing.T) {
	var c *Checker
	c = NewChecker(WithStacks(func(idents []uint64) map[uint64]string {
		done := make(chan struct{})
		go func() { defer close(done); c.Reports() }() // would deadlock if check held the lock
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("Reports() blocked while a report was being built")
		}
		return map[uint64]string{}
	}))
	g := dense(4)
	c.Check(g.graph(t))
	if rs := c.Check(g.graph(t)); len(rs) != 1 {
		t.Fatalf("%d reports", len(rs))
	}
}

var sinkComponents []Component

// BenchmarkCycleSearch: the deadlocked components of a dense graph (every
// thread waiting on every other), and of a ring of 100,000 threads.
func BenchmarkCycleSearch(b *testing.B) {
	for _, bc := range []struct {
		name string
		s    spec
	}{
		{"dense-16", dense(16)},
		{"dense-64", dense(64)},
		{"ring-100000", ringSpec(100000, func(k int) int { return k })},
	} {
		b.Run(bc.name, func(b *testing.B) {
			g := bc.s.build()
			g.index()
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				sinkComponents = g.findComponents()
			}
		})
	}
}

// A thread that has just been handed a lock, and has not yet closed its
// wait, looks for an instant like one waiting on what it holds: without
// having held it when the wait began, it is no self-deadlock.
func TestJustHandedIsNoSelfDeadlock(t *testing.T) {
	s := spec{waits: []int{0}, holders: [][]int{{0}}}
	g := s.graph(t)
	g.Threads[0].Wait.SelfHeld = false
	if comps := g.Components(); len(comps) != 0 {
		t.Fatalf("components %+v", comps)
	}
	g = s.graph(t) // as the spec builds it: the wait began with the lock held
	if comps := g.Components(); len(comps) != 1 || comps[0].Kind != KindSelfDeadlock {
		t.Fatalf("components %+v", comps)
	}
}
