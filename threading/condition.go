package threading

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// Lockable is a lock a Condition can be built on: *Lock or *RLock.
type Lockable interface {
	sync.Locker
	Acquire()
	TryAcquire() bool
	AcquireTimeout(d time.Duration) bool
	AcquireContext(ctx context.Context) error
	Release() error
	TryLock() bool
	Locked() bool
	Owned() bool

	// releaseSave and acquireRestore are given the caller's goroutine id,
	// which Condition.wait has already read.
	releaseSave(g uint64) (int, error)
	acquireRestore(g uint64, saved int)
	primitive() Primitive
}

// Condition is Python's threading.Condition: a lock plus a FIFO of waiters.
// Wait releases the lock (fully, for a recursively held RLock), parks until
// notified, and takes the lock back at the level it had. The waiter list is
// guarded by the lock itself, as in CPython.
type Condition struct {
	// Lockable is the lock (set by NewCondition; do not change it): its
	// methods (Acquire, Release, Lock, Unlock, Owned, ...) are the
	// Condition's, as Python's Condition has its lock's.
	Lockable

	x     *ext
	q     waitQueue   // guarded by lock
	spare waiterCache // guarded by lock
	// waiters mirrors q.n for String, which cannot take the lock; acq
	// counts the waits that notify took out of q. Only the lock's holder
	// writes them, so they are holderCounts: a plain store or increment,
	// where an atomic one (a locked instruction on amd64) would stall
	// until the cache line the other side of a ping-pong last wrote
	// arrives.
	waiters holderCount
	acq     holderCount
}

// NewCondition returns a Condition over lock; nil makes a new RLock.
// Options: WithName.
func NewCondition(lock Lockable, opts ...Option) *Condition {
	o := buildOptions(opts)
	if lock == nil {
		lock = NewRLock()
	}
	c := &Condition{Lockable: lock}
	newPrimExt(c, KindCondition, o)
	return c
}

func (c *Condition) registerSelf(e *ext) {
	register(e, c)
}

// RecursionCount is the caller's recursion level on an RLock (1 or 0 for a
// Lock).
func (c *Condition) RecursionCount() int {
	switch l := c.Lockable.(type) {
	case *RLock:
		return l.RecursionCount()
	default:
		if l.Owned() {
			return 1
		}
		return 0
	}
}

// Wait releases the lock, waits for a notify, and takes the lock back.
// ErrNotOwner when the caller does not hold the lock.
func (c *Condition) Wait() error {
	_, err := c.wait(forever)
	return err
}

// WaitTimeout is Wait for at most d (d < 0: no limit); notified is false when
// the timeout passed first (Python's wait(timeout) return value).
func (c *Condition) WaitTimeout(d time.Duration) (notified bool, err error) {
	return c.wait(within(d))
}

// WaitContext is Wait until ctx is done; it returns ctx.Err() then, with the
// lock held again.
func (c *Condition) WaitContext(ctx context.Context) error {
	_, err := c.wait(withCtx(ctx))
	return err
}

func (c *Condition) wait(d deadline) (bool, error) {
	g := curGoid()
	if !c.ownedBy(g) {
		return false, misuse(c, "wait", ErrNotOwner)
	}
	w, cached := c.spare.get(g)
	c.q.pushBack(w)
	c.waiters.store(uint64(c.q.n))
	saved, err := c.Lockable.releaseSave(g)
	if err != nil { // cannot happen: we checked ownership
		c.q.remove(w)
		c.waiters.store(uint64(c.q.n))
		if !cached {
			putWaiter(w)
		}
		return false, misuse(c, "wait", err)
	}
	c.registerSelf(c.x)
	var rec waitScope
	rec.begin(c, c.x.meta, WaitNotify, g, 0, d)
	rec.t = w.t
	r, out := park(w, d, &rec)
	c.Lockable.acquireRestore(g, saved)
	if w.queued { // the deadline passed first
		c.q.remove(w)
		c.waiters.store(uint64(c.q.n))
	} else if r == 0 {
		// Notified just as the deadline passed: the notify counts, or it
		// would be lost for everybody.
		r, out = wakeGranted, OutcomeAcquired
	}
	if !cached {
		putWaiter(w)
	}
	rec.end(out)
	if r != 0 {
		return true, nil
	}
	if out == OutcomeCancelled {
		return false, d.ctx.Err()
	}
	return false, nil
}

// ownedBy is Owned for the caller, goroutine g, without reading its id
// again.
func (c *Condition) ownedBy(g uint64) bool {
	switch l := c.Lockable.(type) {
	case *Lock:
		return l.Owner() == g
	case *RLock:
		return l.Owner() == g
	}
	return c.Owned()
}

// WaitFor is Python's wait_for: it waits until pred() is true, for at most
// timeout in total across wake-ups (timeout < 0: no limit), and returns the
// last value of pred.
func (c *Condition) WaitFor(pred func() bool, timeout time.Duration) (bool, error) {
	result := pred()
	if result {
		return true, nil
	}
	var end time.Time
	if timeout >= 0 {
		end = time.Now().Add(timeout)
	}
	for !result {
		wait := time.Duration(-1)
		if timeout >= 0 {
			wait = time.Until(end)
			if wait <= 0 {
				break
			}
		}
		if _, err := c.WaitTimeout(wait); err != nil {
			return result, err
		}
		result = pred()
	}
	return result, nil
}

// Notify wakes at most n waiters, oldest first. ErrNotOwner when the caller
// does not hold the lock, ErrValue for n < 0.
func (c *Condition) Notify(n int) error {
	if !c.ownedBy(curGoid()) {
		return misuse(c, "notify", ErrNotOwner)
	}
	if n < 0 {
		return misuse(c, "notify", valuef("notify(n) needs n >= 0, got %d", n))
	}
	woke := false
	for ; n > 0; n-- {
		w := c.q.popFront()
		if w == nil {
			break
		}
		c.acq.inc()
		w.wake(wakeGranted)
		woke = true
	}
	if woke {
		c.waiters.store(uint64(c.q.n))
	}
	return nil
}

// NotifyAll wakes every waiter (Python's notify_all()).
func (c *Condition) NotifyAll() error {
	if !c.ownedBy(curGoid()) {
		return misuse(c, "notify_all", ErrNotOwner)
	}
	if c.q.n == 0 {
		return nil
	}
	for w := c.q.popFront(); w != nil; w = c.q.popFront() {
		c.acq.inc()
		w.wake(wakeGranted)
	}
	c.waiters.store(0)
	return nil
}

func (c *Condition) primID() uint64 { return c.x.id.Load() }

func (c *Condition) primKind() Kind { return KindCondition }

func (c *Condition) primName() string { return c.x.name }

func (c *Condition) primClass() string { return c.x.classOf() }

// Stats: Acquisitions counts notified waits.
func (c *Condition) Stats() Stats {
	s := Stats{Acquisitions: c.acq.load()}
	c.x.slowStats(&s)
	return s
}

func (c *Condition) holders() []uint64 { return c.Lockable.primitive().holders() }

// String is Python's repr: <Condition(<locked RLock ...>, 2)>, the second
// field the number of waiters.
func (c *Condition) String() string {
	name := quotedName(c.x.meta)
	return fmt.Sprintf("<Condition%s(%s, %d)>", name, c.Lockable, c.waiters.load())
}

func (c *Condition) setExt(e *ext) { c.x = e }
