package threading

import (
	"sync/atomic"
	"time"
	"weak"
)

// waiter is one parked caller. A waiter and its channel are made by the
// goroutine that waits and reused only by that goroutine: its Thread record
// keeps its spare waiter through a weak pointer (a Condition or Cond may
// keep it too, see waiterCache), so the waiter is reachable only from the
// primitive and the waiter's own stack, never from a global pool or
// registry. So a channel always belongs to the synctest bubble of the
// goroutine that parks on it, a goroutine parked on a primitive that
// nothing runnable can reach is reported by Go's goroutine-leak profile,
// and a wait allocates nothing while the spare survives (a GC may collect
// an idle spare; the next wait makes another).
type waiter struct {
	ch         chan uint8           // capacity 1: at most one wake is ever pending
	t          *Thread              // the waiting goroutine's record, which keeps the spare (nil in a waiterCache)
	self       weak.Pointer[waiter] // made once: weak.Make takes a runtime lock
	g          uint64
	since      int64 // nanotime when it first queued, for starvation mode
	next, prev *waiter
	queued     bool
	// parked is set once the waiter stops yielding and blocks: a wake that
	// finds it set is a hand-off worth a releaser stack sample.
	parked atomic.Bool
	// sig lets wake hand a reason over without the channel while the
	// waiter still yields: 0 until then, the reason once woken, or
	// sigParked once the waiter has committed to block on ch, after which
	// a wake must go through ch. A channel operation takes the channel's
	// lock on both sides; sig costs the waker one CAS and the yielding
	// waiter one load. Wakers that send on ch whatever the state (a lock's
	// release, a semaphore's, breakWait) work as well: park polls both.
	sig atomic.Uint32
	// breakable marks a wait through a Context that breakWait may end;
	// unqueue then fixes the primitive's state after breakWait took the
	// waiter out of its queue (clears a Lock's waiters bit, ...).
	breakable bool
	unqueue   func()
	// timer times the waits with a timeout (see resetTimer). It belongs
	// to the waiter's goroutine, as the channel does (and so to its
	// synctest bubble).
	timer *time.Timer
}

// sigParked is waiter.sig once the waiter blocks on its channel.
const sigParked = 0x100

// wake hands reason r to w, which its waker has taken out of its queue, and
// reports whether w had parked (a hand-off worth a releaser stack sample).
func (w *waiter) wake(r uint8) bool {
	if w.sig.CompareAndSwap(0, uint32(r)) {
		return false
	}
	w.ch <- r
	return true
}

// getWaiter returns goroutine g's spare waiter, or a new one.
func getWaiter(g uint64) *waiter {
	t := threadForGoid(g)
	if w := t.spare.Value(); w != nil {
		t.spare = weak.Pointer[waiter]{}
		w.reset(t)
		return w
	}
	w := &waiter{ch: make(chan uint8, 1), t: t, g: g}
	w.self = weak.Make(w)
	return w
}

// reset readies a reused waiter of its goroutine for another wait.
func (w *waiter) reset(t *Thread) {
	if w.parked.Load() { // a wake that raced with a timeout, counted then
		select {
		case <-w.ch:
		default:
		}
	}
	*w = waiter{ch: w.ch, t: t, g: w.g, self: w.self, timer: w.timer}
}

// putWaiter keeps w as its goroutine's spare once its wait is over: out of
// every queue, with no wake left to come but one already sent.
func putWaiter(w *waiter) {
	if !w.queued {
		w.unqueue = nil
		w.t.spare = w.self
	}
}

// waiterCache keeps the waiters of the first few goroutines that wait on a
// Condition or Cond, guarded by the primitive's queue lock, so that their
// waits skip getWaiter's registry look-up (a map behind a read lock, and a
// weak pointer): in a ping-pong between two goroutines that is a tenth of
// the round trip. A waiter is only ever used by the goroutine it was made
// for (w.g), so its channel stays in that goroutine's synctest bubble; the
// cache holds no Thread (w.t is nil here, and publish looks the record up),
// so what it keeps reachable is only what the primitive itself reaches.
// Goroutines past the first few, or after them, use their own spares, which
// allocate no more.
type waiterCache [4]*waiter

// get returns g's waiter, and whether it is cached (then the caller must
// not putWaiter it: it stays in its slot, used by g alone).
func (c *waiterCache) get(g uint64) (*waiter, bool) {
	free := -1
	for i, w := range c {
		if w == nil {
			if free < 0 {
				free = i
			}
		} else if w.g == g {
			w.reset(nil)
			return w, true
		}
	}
	w := getWaiter(g)
	if free < 0 {
		return w, false
	}
	c[free] = w
	w.t = nil
	return w, true
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

// wakeAll takes every waiter out of q, oldest first, and wakes it with r: a
// buffered send at most, so it never blocks. The caller holds q's lock.
func (q *waitQueue) wakeAll(r uint8) {
	for w := q.popFront(); w != nil; w = q.popFront() {
		w.wake(r)
	}
}
