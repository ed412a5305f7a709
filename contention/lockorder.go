package contention

import (
	"fmt"
	"os"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/threadmon/threadmon/internal/plumb"
	"github.com/threadmon/threadmon/threading"
)

// Lock-order checking, as Linux lockdep does it: an order graph over lock
// classes (a class is a kind and a name, or a creation site), with an edge
// A→B the first time a thread takes a lock of class B while holding one of
// class A. The edge that closes a cycle, of any length, is a potential
// deadlock: it is reported once, with the stack of each edge's first
// acquisition, before anything hangs.
//
// Read locks follow lockdep's rules for them: each edge remembers whether
// its first lock was held for reading and its second taken for reading
// (one edge can carry several of the four combinations), and a cycle is an
// inversion only if, at each of its locks, the thread that takes it and the
// thread that holds it on the next edge do not both do so for reading:
// readers do not exclude each other, so read-read is not an inversion.
// (Go's RWLock, as sync.RWMutex, lets a pending writer hold back new readers,
// so a read-read cycle can still hang when a writer queues; lockdep's rule
// for recursive read locks is what is asked of this checker.)
//
// Edges are recorded when an acquisition is attempted (threading tells
// plumb.LockTracker of them before it blocks), so the acquisition that
// closes a cycle is reported even when it hangs.
//
// threading follows what each goroutine holds while a tracker is installed
// (plumb.SetLockTracker) and tells it only of edges a goroutine has not
// added recently, so the graph and its lock are off the fast path; still,
// every acquisition pays for the bookkeeping, so it is for staging:
// EnableLockOrder turns it on, as does THREADMON_LOCKORDER=1 at start-up.
// Stacks are captured only when an edge is new.

// OrderReport is a lock-order inversion: a cycle in the order graph.
type OrderReport struct {
	Time time.Time `json:"time"`
	// Cycle are the classes of the cycle, in order; the last edge (back to
	// the first) is the one that closed it.
	Cycle []string `json:"cycle"`
	// Edges are the cycle's edges, each with the thread and stack of its
	// first acquisition.
	Edges []OrderEdge `json:"edges"`
	Text  string      `json:"text"`
}

// OrderEdge is "To was taken while holding From"; FromRead and ToRead say
// whether From was held and To taken for reading (an RWLock's read side).
type OrderEdge struct {
	From     string `json:"from"`
	To       string `json:"to"`
	FromRead bool   `json:"from_read,omitempty"`
	ToRead   bool   `json:"to_read,omitempty"`
	Thread   string `json:"thread"`
	Stack    string `json:"stack"`
}

// An edge's type: whether its first lock was held for reading (typeHeldRead)
// and its second taken for reading (typeTakeRead). An edge carries a set of
// types, as a mask with bit 1<<type.
const (
	typeTakeRead = 1
	typeHeldRead = 2
)

type edgeInfo struct {
	types uint8 // mask of the types seen
	// the thread and stack of the first acquisition of each type
	thread [4]string
	pcs    [4][]uintptr
}

type lockOrder struct {
	mu       sync.RWMutex
	succ     map[uint32]map[uint32]*edgeInfo // edges, their types and first acquisitions
	classes  map[uint32]*plumb.Class
	reported map[string]bool
	reports  []*OrderReport
	callback func(*OrderReport)
}

var order atomic.Pointer[lockOrder]

// EnableLockOrder turns lock-order checking on; callback, if not nil, gets
// each report (they also go to threading's observers and logger). Calling it
// again starts a new, empty order graph.
func EnableLockOrder(callback func(*OrderReport)) {
	lo := &lockOrder{succ: map[uint32]map[uint32]*edgeInfo{}, classes: map[uint32]*plumb.Class{},
		reported: map[string]bool{}, callback: callback}
	order.Store(lo)
	plumb.SetLockTracker(lo)
}

// DisableLockOrder turns lock-order checking off.
func DisableLockOrder() {
	plumb.SetLockTracker(nil)
	order.Store(nil)
}

// LockOrderReports returns the lock-order reports so far.
func LockOrderReports() []*OrderReport {
	lo := order.Load()
	if lo == nil {
		return []*OrderReport{}
	}
	lo.mu.RLock()
	defer lo.mu.RUnlock()
	return append([]*OrderReport{}, lo.reports...)
}

func init() {
	if os.Getenv("THREADMON_LOCKORDER") == "1" {
		EnableLockOrder(nil)
	}
}

// Edge implements plumb.LockTracker: it runs on g, which holds a lock of
// class from and takes (or is about to block taking) one of class to.
func (lo *lockOrder) Edge(from, to *plumb.Class, fromRead, toRead bool, g uint64) {
	lo.edge(from, to, edgeType(fromRead, toRead), g)
}

func edgeType(heldRead, takeRead bool) uint8 {
	var t uint8
	if heldRead {
		t |= typeHeldRead
	}
	if takeRead {
		t |= typeTakeRead
	}
	return t
}

// edge records from→to of type t, and reports the cycle it closes, if any.
func (lo *lockOrder) edge(from, to *plumb.Class, t uint8, g uint64) {
	lo.mu.RLock()
	e := lo.succ[from.ID][to.ID]
	known := e != nil && e.types&(1<<t) != 0
	lo.mu.RUnlock()
	if known {
		return
	}
	pcs := make([]uintptr, 32)
	pcs = pcs[:runtime.Callers(4, pcs)]
	name := fmt.Sprintf("goroutine %d", g)
	if th := threading.LookupThread(g); th != nil {
		name = th.Name()
	}
	lo.mu.Lock()
	if lo.succ[from.ID] == nil {
		lo.succ[from.ID] = map[uint32]*edgeInfo{}
	}
	e = lo.succ[from.ID][to.ID]
	if e == nil {
		e = &edgeInfo{}
		lo.succ[from.ID][to.ID] = e
	}
	if e.types&(1<<t) != 0 {
		lo.mu.Unlock()
		return
	}
	e.types |= 1 << t
	e.thread[t], e.pcs[t] = name, pcs
	lo.classes[from.ID], lo.classes[to.ID] = from, to
	var r *OrderReport
	if path, types := lo.pathLocked(to.ID, from.ID, t); path != nil {
		// path runs to → ... → from; with the new edge from → to it closes.
		cycle := append(path, to.ID)
		types = append(types, t)
		ids := append([]uint32(nil), path...)
		sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
		key := fmt.Sprint(ids)
		if !lo.reported[key] {
			lo.reported[key] = true
			r = lo.reportLocked(cycle, types)
			lo.reports = append(lo.reports, r)
		}
	}
	lo.mu.Unlock()
	if r != nil {
		plumb.Publish(&threading.Report{Kind: threading.ReportLockOrder, Time: r.Time,
			Summary: "threading: lock order inversion: " + strings.Join(r.Cycle, " -> "), Detail: r.Text})
		if lo.callback != nil {
			lo.callback(r)
		}
	}
}

// pathLocked finds a path from a to b in the order graph that closes a
// cycle with the new edge b→a of type t: at no lock of the cycle may the
// edge into it take it for reading and the edge out of it have held it for
// reading (see above). It searches breadth first over (lock, taken for
// reading), so it finds the shortest such path, as the class ids a … b and
// the types of its edges.
func (lo *lockOrder) pathLocked(a, b uint32, t uint8) ([]uint32, []uint8) {
	type state struct {
		n    uint32
		read bool // the edge into n took it for reading
	}
	type step struct {
		from state
		t    uint8
	}
	start := state{a, t&typeTakeRead != 0}
	prev := map[state]step{start: {}}
	queue := []state{start}
	for len(queue) > 0 {
		x := queue[0]
		queue = queue[1:]
		if x.n == b && !(x.read && t&typeHeldRead != 0) {
			var path []uint32
			var types []uint8
			for y := x; ; {
				path = append(path, y.n)
				if y == start {
					break
				}
				st := prev[y]
				types = append(types, st.t)
				y = st.from
			}
			slices.Reverse(path)
			slices.Reverse(types)
			return path, types
		}
		for m, e := range lo.succ[x.n] {
			for et := uint8(0); et < 4; et++ {
				if e.types&(1<<et) == 0 || x.read && et&typeHeldRead != 0 {
					continue
				}
				y := state{m, et&typeTakeRead != 0}
				if _, ok := prev[y]; !ok {
					prev[y] = step{x, et}
					queue = append(queue, y)
				}
			}
		}
	}
	return nil, nil
}

func (lo *lockOrder) reportLocked(cycle []uint32, types []uint8) *OrderReport {
	r := &OrderReport{Time: time.Now()}
	label := func(id uint32) string {
		c := lo.classes[id]
		return fmt.Sprintf("%s %q", threading.Kind(c.Kind), c.Label)
	}
	var b strings.Builder
	b.WriteString("Lock order inversion (a potential deadlock):\n")
	for i := 0; i+1 < len(cycle); i++ {
		r.Cycle = append(r.Cycle, label(cycle[i]))
		e, t := lo.succ[cycle[i]][cycle[i+1]], types[i]
		oe := OrderEdge{From: label(cycle[i]), To: label(cycle[i+1]), FromRead: t&typeHeldRead != 0, ToRead: t&typeTakeRead != 0,
			Thread: e.thread[t], Stack: formatPCs(e.pcs[t])}
		r.Edges = append(r.Edges, oe)
		how := func(read bool, s string) string {
			if read {
				return s + " (for reading)"
			}
			return s
		}
		fmt.Fprintf(&b, "\n%q took %s while holding %s, at:\n%s\n", oe.Thread, how(oe.ToRead, oe.To), how(oe.FromRead, oe.From), indent(oe.Stack))
	}
	fmt.Fprintf(&b, "\nThe last acquisition closes the cycle %s -> %s.\n", strings.Join(r.Cycle, " -> "), r.Cycle[0])
	r.Text = b.String()
	return r
}

func formatPCs(pcs []uintptr) string {
	var b strings.Builder
	frames := runtime.CallersFrames(pcs)
	for {
		f, more := frames.Next()
		if f.Function != "" && !strings.HasPrefix(f.Function, "github.com/threadmon/threadmon/threading.") &&
			!strings.HasPrefix(f.Function, "github.com/threadmon/threadmon/contention.(*lockOrder)") {
			fmt.Fprintf(&b, "%s\n\t%s:%d\n", f.Function, f.File, f.Line)
		}
		if !more {
			break
		}
	}
	return b.String()
}
