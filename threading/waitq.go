package threading

import (
	"sync/atomic"
	"weak"
)

// waiter is one parked caller. A waiter and its channel are made by the
// goroutine that waits and reused only by that goroutine: its Thread record
// keeps its spare waiter through a weak pointer, so the waiter is reachable
// only from the primitive's queue and the waiter's own stack, never from a
// global pool or registry. So a channel always belongs to the synctest
// bubble of the goroutine that parks on it, a goroutine parked on a
// primitive that nothing runnable can reach is reported by Go's
// goroutine-leak profile, and a wait allocates nothing while the spare
// survives (a GC may collect an idle spare; the next wait makes another).
type waiter struct {
	ch         chan uint8           // capacity 1: at most one wake is ever pending
	t          *Thread              // the waiting goroutine's record, which keeps the spare
	self       weak.Pointer[waiter] // made once: weak.Make takes a runtime lock
	g          uint64
	since      int64 // nanotime when it first queued, for starvation mode
	next, prev *waiter
	queued     bool
	// parked is set once the waiter stops yielding and blocks: a wake that
	// finds it set is a hand-off worth a releaser stack sample.
	parked atomic.Bool
	// breakable marks a wait through a Context that breakWait may end;
	// unqueue then fixes the primitive's state after breakWait took the
	// waiter out of its queue (clears a Lock's waiters bit, ...).
	breakable bool
	unqueue   func()
}

// getWaiter returns goroutine g's spare waiter, or a new one.
func getWaiter(g uint64) *waiter {
	t := threadForGoid(g)
	if w := t.spare.Value(); w != nil {
		t.spare = weak.Pointer[waiter]{}
		select { // a wake that raced with a timeout and was counted then
		case <-w.ch:
		default:
		}
		*w = waiter{ch: w.ch, t: t, g: g, self: w.self}
		return w
	}
	w := &waiter{ch: make(chan uint8, 1), t: t, g: g}
	w.self = weak.Make(w)
	return w
}

// putWaiter keeps w as its goroutine's spare once its wait is over: out of
// every queue, with no wake left to come but one already sent.
func putWaiter(w *waiter) {
	if !w.queued {
		w.unqueue = nil
		w.t.spare = w.self
	}
}

// waitQueue is a FIFO of waiters, guarded by its owner's mutex.
type waitQueue struct {
	head, tail *waiter
	n          int
}

func (q *waitQueue) pushBack(w *waiter) {
	w.prev, w.next, w.queued = q.tail, nil, true
	if q.tail != nil {
		q.tail.next = w
	} else {
		q.head = w
	}
	q.tail = w
	q.n++
}

func (q *waitQueue) pushFront(w *waiter) {
	w.prev, w.next, w.queued = nil, q.head, true
	if q.head != nil {
		q.head.prev = w
	} else {
		q.tail = w
	}
	q.head = w
	q.n++
}

func (q *waitQueue) remove(w *waiter) {
	if !w.queued {
		return
	}
	if w.prev != nil {
		w.prev.next = w.next
	} else {
		q.head = w.next
	}
	if w.next != nil {
		w.next.prev = w.prev
	} else {
		q.tail = w.prev
	}
	w.next, w.prev, w.queued = nil, nil, false
	q.n--
}

func (q *waitQueue) popFront() *waiter {
	w := q.head
	if w != nil {
		q.remove(w)
	}
	return w
}
