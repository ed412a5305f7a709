package threading

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
)

// WaitGroup is sync.WaitGroup's drop-in: it waits for a collection of
// goroutines to finish. Add and Done count; Wait blocks until the count is
// zero; Go runs a function in a new Thread counted by the group (Go 1.25's
// WaitGroup.Go). The zero value is ready; NewWaitGroup names it.
//
// Waits are instrumented as idle waiting. Threads started with Go are named
// after the group and are what Wait waits on in the wait-for graph, so a
// cycle through one is reported as a join cycle is; goroutines counted with
// Add and Done are not known to the graph. A negative counter panics, as with
// sync.WaitGroup; a panic in a function run by Go goes to the except hook,
// and its Done still happens.
type WaitGroup struct {
	noCopy noCopy

	n       atomic.Int64
	waiting atomic.Int32 // Waits between their look at n and their wake

	mu      sync.Mutex
	q       waitQueue           // the Waits parked until n reaches zero
	threads map[uint64]struct{} // idents of live threads started by Go
	started uint64              // threads started by Go, for their names

	acq  atomic.Uint64
	x    atomic.Pointer[ext]
	kind atomic.Uint32 // 0 (KindWaitGroup), or KindGroup inside a Group
}

// NewWaitGroup returns a named WaitGroup. Options: WithName.
func NewWaitGroup(opts ...Option) *WaitGroup {
	wg := &WaitGroup{}
	newPrimExt(wg, KindWaitGroup, buildOptions(opts))
	return wg
}

func (wg *WaitGroup) registerSelf(e *ext) { register(e, wg) }

// Add adds delta, which may be negative, to the counter. At zero, every
// Wait returns. A negative counter panics and changes nothing.
func (wg *WaitGroup) Add(delta int) {
	v := wg.n.Add(int64(delta))
	if v < 0 {
		wg.n.Add(-int64(delta))
		panic(misuse(wg, "add", runtimeErr("negative WaitGroup counter")))
	}
	if v == 0 && delta != 0 && wg.waiting.Load() > 0 {
		wg.mu.Lock()
		wg.q.wakeAll(wakeGranted)
		wg.mu.Unlock()
	}
}

// Done decrements the counter by one.
func (wg *WaitGroup) Done() { wg.Add(-1) }

// Wait blocks until the counter is zero.
func (wg *WaitGroup) Wait() {
	if wg.n.Load() == 0 {
		wg.acq.Add(1)
		return
	}
	wg.mu.Lock()
	wg.waiting.Add(1)
	if wg.n.Load() == 0 {
		wg.waiting.Add(-1)
		wg.mu.Unlock()
		wg.acq.Add(1)
		return
	}
	// Each waiter parks on its own goroutine's reused waiter, which the Add
	// that brings n to zero wakes: a Wait allocates nothing once its
	// goroutine has waited before, where a channel per waiting period did.
	g := curGoid()
	w := getWaiter(g)
	wg.q.pushBack(w)
	wg.mu.Unlock()
	e := getExt(&wg.x, wg.kindOf())
	wg.self().(registrant).registerSelf(e)
	rec := beginWait(wg.self(), e.meta, WaitGroupDone, g, 0, forever)
	rec.t = w.t
	park(w, forever, &rec)
	rec.end(OutcomeAcquired)
	putWaiter(w)
	wg.waiting.Add(-1)
	wg.acq.Add(1)
}

// Go calls f in a new Thread, counted by the group: Add(1) before it starts,
// Done when f returns.
func (wg *WaitGroup) Go(f func()) { wg.goThread(f) }

func (wg *WaitGroup) goThread(f func()) *Thread {
	wg.Add(1)
	wg.mu.Lock()
	wg.started++
	k := wg.started
	wg.mu.Unlock()
	name := wg.primName()
	if name == "" {
		name = wg.kindOf().String()
	}
	t := &Thread{}
	t.init(func(context.Context) error {
		// The thread records itself: Go does not wait for it to start.
		g := curGoid()
		wg.mu.Lock()
		if wg.threads == nil {
			wg.threads = make(map[uint64]struct{})
		}
		wg.threads[g] = struct{}{}
		wg.mu.Unlock()
		defer func() {
			wg.mu.Lock()
			delete(wg.threads, g)
			wg.mu.Unlock()
			wg.Done()
		}()
		f()
		return nil
	}, []Option{WithName(name + "-" + strconv.FormatUint(k, 10)), WithDaemon(true)}, 0)
	t.startAsync()
	return t
}

func (wg *WaitGroup) kindOf() Kind {
	if k := Kind(wg.kind.Load()); k != 0 {
		return k
	}
	return KindWaitGroup
}

// self is what the registry and wait events carry: the Group a WaitGroup is
// part of, or the WaitGroup.
func (wg *WaitGroup) self() Primitive {
	if wg.kind.Load() == uint32(KindGroup) {
		return groupOf(wg)
	}
	return wg
}

// Counter is the counter's value now.
func (wg *WaitGroup) Counter() int { return int(wg.n.Load()) }

func (wg *WaitGroup) primID() uint64 { return extID(&wg.x) }

func (wg *WaitGroup) primKind() Kind { return wg.kindOf() }

func (wg *WaitGroup) primName() string { return extName(&wg.x) }

func (wg *WaitGroup) primClass() string { return extClass(&wg.x, wg.kindOf()) }

// Stats: Acquisitions counts Waits that returned.
func (wg *WaitGroup) Stats() Stats {
	s := Stats{Acquisitions: wg.acq.Load()}
	if e := wg.x.Load(); e != nil {
		e.slowStats(&s)
	}
	return s
}

func (wg *WaitGroup) holders() []uint64 {
	wg.mu.Lock()
	defer wg.mu.Unlock()
	if len(wg.threads) == 0 {
		return nil
	}
	out := make([]uint64, 0, len(wg.threads))
	for g := range wg.threads {
		out = append(out, g)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// String shows the name and the counter: <WaitGroup "fetch" counter=3>.
func (wg *WaitGroup) String() string {
	return fmt.Sprintf("<%s counter=%d>", describe(wg.kindOf(), &wg.x), wg.n.Load())
}

func (wg *WaitGroup) setExt(e *ext) { wg.x.Store(e) }
