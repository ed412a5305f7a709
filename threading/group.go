package threading

import (
	"context"
	"fmt"
	"sync"
	"unsafe"
)

// Group is golang.org/x/sync/errgroup.Group's drop-in: a collection of
// goroutines (Threads, named after the group) working on subtasks of a
// common task. Go starts one, Wait waits for all and returns the first
// non-nil error; GroupWithContext cancels a context at the first error;
// SetLimit bounds how many run at once, and Go then waits for a slot (an
// instrumented wait on the group's Semaphore). The zero value is ready;
// NewGroup names it. Wait is idle waiting, on the group's live threads.
type Group struct {
	wg WaitGroup // first field: a *Group and its *WaitGroup share an address

	cancel func(error)
	sem    *Semaphore
	slots  int

	errOnce sync.Once
	err     error
}

// NewGroup returns a named Group. Options: WithName.
func NewGroup(opts ...Option) *Group {
	g := &Group{}
	g.wg.kind.Store(uint32(KindGroup))
	newPrimExt(g, KindGroup, buildOptions(opts))
	return g
}

// GroupWithContext returns a new Group and a context derived from ctx,
// cancelled the first time a function passed to Go returns an error, or
// when Wait returns, whichever comes first (errgroup.WithContext).
func GroupWithContext(ctx context.Context, opts ...Option) (*Group, context.Context) {
	ctx, cancel := context.WithCancelCause(ctx)
	g := NewGroup(opts...)
	g.cancel = cancel
	return g, ctx
}

// groupOf is the Group whose wg is at wg's address.
func groupOf(wg *WaitGroup) *Group { return (*Group)(unsafe.Pointer(wg)) }

// init marks a zero Group's WaitGroup as a Group's.
func (g *Group) init() {
	if g.wg.kind.Load() == 0 {
		g.wg.kind.CompareAndSwap(0, uint32(KindGroup))
	}
}

func (g *Group) registerSelf(e *ext) { register(e, g) }

// Go calls f in a new Thread. The first call to return a non-nil error
// cancels the group's context, if any; Wait returns that error. With a
// limit set, Go waits for a slot first.
func (g *Group) Go(f func() error) {
	g.init()
	if g.sem != nil {
		g.sem.Acquire()
	}
	g.wg.Go(func() { g.run(f) })
}

// TryGo calls f in a new Thread only if the number of active goroutines is
// below the limit, and reports whether it did.
func (g *Group) TryGo(f func() error) bool {
	g.init()
	if g.sem != nil && !g.sem.TryAcquire() {
		return false
	}
	g.wg.Go(func() { g.run(f) })
	return true
}

func (g *Group) run(f func() error) {
	defer func() {
		if g.sem != nil {
			_ = g.sem.Release()
		}
	}()
	if err := f(); err != nil {
		g.errOnce.Do(func() {
			g.err = err
			if g.cancel != nil {
				g.cancel(err)
			}
		})
	}
}

// Wait blocks until every function called by Go has returned, then returns
// the first non-nil error (if any) from them.
func (g *Group) Wait() error {
	g.init()
	g.wg.Wait()
	if g.cancel != nil {
		g.cancel(g.err)
	}
	return g.err
}

// SetLimit limits the number of active goroutines in the group to at most
// n; a negative n means no limit. It panics when goroutines are active, as
// errgroup's does.
func (g *Group) SetLimit(n int) {
	g.init()
	if n < 0 {
		g.sem, g.slots = nil, 0
		return
	}
	if active := g.wg.Counter(); active != 0 {
		panic(fmt.Errorf("threading: modify limit while %v goroutines in the group are still active", active))
	}
	name := g.primName()
	if name != "" {
		name += " limit"
	}
	s, _ := NewSemaphore(n, WithName(name))
	g.sem, g.slots = s, n
}

func (g *Group) primID() uint64 { return g.wg.primID() }

func (g *Group) primKind() Kind { return KindGroup }

func (g *Group) primName() string { return g.wg.primName() }

func (g *Group) primClass() string { g.init(); return g.wg.primClass() }

// Stats: Acquisitions counts Waits that returned.
func (g *Group) Stats() Stats { return g.wg.Stats() }

func (g *Group) holders() []uint64 { return g.wg.holders() }

// String shows the name and the active count: <Group "fetch" counter=3>.
func (g *Group) String() string { g.init(); return g.wg.String() }

func (g *Group) setExt(e *ext) { g.wg.x.Store(e) }
