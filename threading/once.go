package threading

import (
	"fmt"
	"sync/atomic"
)

// Once is sync.Once's drop-in: Do calls f only the first time it is called.
// A Do that finds another Do running waits for it, and that wait is
// instrumented and in the wait-for graph (it waits on the thread running f),
// so a Do that calls Do on the same Once is reported as a self-deadlock
// instead of hanging silently. The zero value is ready; NewOnce names it.
type Once struct {
	noCopy noCopy

	done atomic.Uint32
	m    mutexCore
}

// NewOnce returns a named Once. Options: WithName.
func NewOnce(opts ...Option) *Once {
	o := &Once{}
	newPrimExt(o, KindOnce, buildOptions(opts))
	return o
}

func (o *Once) registerSelf(e *ext) { register(e, o) }

// Do calls f if this is the Once's first Do; every Do returns after f has
// (a panic in f counts as returning), as sync.Once's does.
func (o *Once) Do(f func()) {
	if o.done.Load() == 0 {
		o.doSlow(f)
	}
}

func (o *Once) doSlow(f func()) {
	g := curGoid()
	if !o.m.tryLock(g, KindOnce) {
		o.m.lockSlow(o, KindOnce, WaitOnce, g, forever)
	}
	defer o.m.unlock()
	if o.done.Load() == 0 {
		defer o.done.Store(1)
		f()
	}
}

// Done reports whether f has been called (and returned).
func (o *Once) Done() bool { return o.done.Load() != 0 }

func (o *Once) primID() uint64 { return extID(&o.m.x) }

func (o *Once) primKind() Kind { return KindOnce }

func (o *Once) primName() string { return extName(&o.m.x) }

func (o *Once) primClass() string { return extClass(&o.m.x, KindOnce) }

// Stats: Acquisitions counts the Do calls that went past the done check.
func (o *Once) Stats() Stats { return o.m.stats() }

func (o *Once) holders() []uint64 { return o.m.holders() }

// String shows the state: <Once "cfg" done>.
func (o *Once) String() string {
	state := "not done"
	if o.Done() {
		state = "done"
	} else if s := o.m.state.Load(); s&mLocked != 0 {
		state = "running in " + threadName(ownerOf(s))
	}
	return fmt.Sprintf("<%s %s>", describe(KindOnce, &o.m.x), state)
}

// OnceFunc returns a function that calls f only once, as sync.OnceFunc does:
// a panic in f is raised again by every call. Options name the Once.
func OnceFunc(f func(), opts ...Option) func() {
	o := NewOnce(opts...)
	var (
		valid bool
		p     any
	)
	g := func() {
		defer func() {
			p = recover()
			if !valid {
				panic(p)
			}
		}()
		f()
		f = nil
		valid = true
	}
	return func() {
		o.Do(g)
		if !valid {
			panic(p)
		}
	}
}

// OnceValue returns a function that calls f only once and returns its
// value, as sync.OnceValue does.
func OnceValue[T any](f func() T, opts ...Option) func() T {
	var result T
	call := OnceFunc(func() { result = f() }, opts...)
	return func() T {
		call()
		return result
	}
}

// OnceValues returns a function that calls f only once and returns its
// values, as sync.OnceValues does.
func OnceValues[T1, T2 any](f func() (T1, T2), opts ...Option) func() (T1, T2) {
	var (
		r1 T1
		r2 T2
	)
	call := OnceFunc(func() { r1, r2 = f() }, opts...)
	return func() (T1, T2) {
		call()
		return r1, r2
	}
}

func (o *Once) setExt(e *ext) { o.m.x.Store(e) }
