package threading

import (
	"fmt"
	"sync"
	"sync/atomic"
	"unsafe"
)

// Cond is sync.Cond's drop-in: a rendezvous point for goroutines waiting for
// an event, over any sync.Locker L (a threading lock, an RLocker, a plain
// sync.Mutex). Unlike Python's Condition, Signal and Broadcast are legal
// without holding L, and a signal with nobody waiting is lost, as with
// sync.Cond.
//
// Waits are instrumented as idle waiting, not contention; taking L back after
// a signal is L's own wait. A copied Cond panics, as sync.Cond's does.
type Cond struct {
	noCopy noCopy

	// L is held while observing or changing the condition.
	L sync.Locker

	checker copyChecker
	x       *ext        // its queue holds the waiters, oldest first
	spare   waiterCache // guarded by x.mu
	// acq counts the waits that Signal and Broadcast took out of the
	// queue, written under x.mu (see Condition.acq).
	acq holderCount
}

// NewCond returns a Cond over l. Options: WithName.
func NewCond(l sync.Locker, opts ...Option) *Cond {
	c := &Cond{L: l}
	newPrimExt(c, KindCond, buildOptions(opts))
	return c
}

// Wait unlocks c.L, waits for Signal or Broadcast, and locks c.L again; as
// with sync.Cond, the caller re-checks its condition in a loop.
func (c *Cond) Wait() {
	c.checker.check()
	e := c.ext()
	g := curGoid()
	// Queued before L is released: a Signal that comes between the Unlock
	// and the park finds the waiter and leaves its wake for it to find.
	e.mu.Lock()
	w, cached := c.spare.get(g)
	e.q.pushBack(w)
	e.mu.Unlock()
	c.L.Unlock()
	register(e, c)
	var rec waitScope
	rec.begin(c, e.meta, WaitNotify, g, 0, forever)
	rec.t = w.t
	park(w, forever, &rec)
	rec.end(OutcomeAcquired)
	if !cached {
		putWaiter(w)
	}
	c.L.Lock()
}

// Signal wakes the longest-waiting goroutine, if any. The caller need not
// hold c.L.
func (c *Cond) Signal() {
	c.checker.check()
	e := c.ext()
	e.mu.Lock()
	w := e.q.popFront()
	if w != nil {
		c.acq.inc()
	}
	e.mu.Unlock()
	if w != nil {
		recordReleaser(e, w.wake(wakeGranted))
	}
}

// Broadcast wakes every waiting goroutine. The caller need not hold c.L.
func (c *Cond) Broadcast() {
	c.checker.check()
	e := c.ext()
	e.mu.Lock()
	parked := false // one sample per Broadcast that wakes a parked waiter
	for w := e.q.popFront(); w != nil; w = e.q.popFront() {
		c.acq.inc()
		parked = w.wake(wakeGranted) || parked
	}
	e.mu.Unlock()
	recordReleaser(e, parked)
}

func (c *Cond) ext() *ext {
	if c.x == nil {
		panic("threading: Cond used without NewCond (its zero value has no L)")
	}
	return c.x
}

func (c *Cond) primID() uint64 { return c.x.id.Load() }

func (c *Cond) primKind() Kind { return KindCond }

func (c *Cond) primName() string { return c.x.name }

func (c *Cond) primClass() string { return c.x.classOf() }

// Stats: Acquisitions counts signalled waits.
func (c *Cond) Stats() Stats {
	s := Stats{Acquisitions: c.acq.load()}
	c.x.slowStats(&s)
	return s
}

func (c *Cond) holders() []uint64 { return nil }

// String shows the name and the number of waiters: <Cond "jobs" waiters=2>.
func (c *Cond) String() string {
	e := c.ext()
	e.mu.Lock()
	n := e.q.n
	e.mu.Unlock()
	return fmt.Sprintf("<Cond%s waiters=%d>", quotedName(e.meta), n)
}

// copyChecker holds its own address, to detect a copy, as sync.Cond's does.
type copyChecker uintptr

func (c *copyChecker) check() {
	self := uintptr(unsafe.Pointer(c))
	p := (*uintptr)(c)
	if atomic.LoadUintptr(p) != self && !atomic.CompareAndSwapUintptr(p, 0, self) && atomic.LoadUintptr(p) != self {
		panic("threading: Cond is copied")
	}
}

// noCopy makes go vet's copylocks check flag copies of the types that embed
// it.
type noCopy struct{}

func (*noCopy) Lock()   {}
func (*noCopy) Unlock() {}

func (c *Cond) setExt(e *ext) { c.x = e }
