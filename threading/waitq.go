package threading

import (
	"context"
	"runtime"
	"time"
)

// Why a parked waiter was woken.
const (
	wakeGranted  uint8 = iota + 1 // the resource was handed over, or may be retried
	wakeDeadlock                  // the deadlock breaker chose this waiter
)

// waiter is one parked caller. A waiter and its channel are made by the
// goroutine that waits, for that wait only, and are reachable only from the
// primitive's queue and the waiter's own stack: never from a global pool or
// registry. So a channel always belongs to the synctest bubble of the
// goroutine that parks on it, and a goroutine parked on a primitive that
// nothing runnable can reach is reported by Go's goroutine-leak profile.
type waiter struct {
	ch         chan uint8 // capacity 1: at most one wake is ever pending
	g          uint64
	next, prev *waiter
	queued     bool
	// breakable marks a wait through a Context that BreakWait may end;
	// unqueue then fixes the primitive's state after BreakWait took the
	// waiter out of its queue (clears a Lock's waiters bit, ...).
	breakable bool
	unqueue   func()
}

func getWaiter(g uint64) *waiter {
	return &waiter{ch: make(chan uint8, 1), g: g}
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

// deadline describes how long a blocking call may wait: forever, until a
// timer fires, or until a context is done. Exactly one of the three forms of
// each blocking method builds one.
type deadline struct {
	ctx     context.Context // nil for the plain and timeout forms
	timeout time.Duration   // < 0: no limit; used when ctx is nil
}

var forever = deadline{timeout: -1}

func within(d time.Duration) deadline { return deadline{timeout: d} }

func withCtx(ctx context.Context) deadline {
	if ctx == nil {
		ctx = context.Background()
	}
	return deadline{ctx: ctx, timeout: -1}
}

// tryOnly reports whether the call must not block at all.
func (d deadline) tryOnly() bool { return d.ctx == nil && d.timeout == 0 }

// Outcome is how a wait ended.
type Outcome uint8

// The outcomes of a wait.
const (
	OutcomeAcquired  Outcome = iota + 1 // got what it waited for
	OutcomeTimeout                      // the timeout passed
	OutcomeCancelled                    // the context was done
	OutcomeBroken                       // a barrier broke
	OutcomeDeadlock                     // the deadlock breaker chose this waiter
)

var outcomeNames = [...]string{"", "acquired", "timeout", "cancelled", "broken", "deadlock"}

func (o Outcome) String() string {
	if int(o) < len(outcomeNames) && o != 0 {
		return outcomeNames[o]
	}
	return "unknown"
}

// yieldTries is how many times a queued waiter yields before it parks.
const yieldTries = 2

// park blocks on w.ch until a wake arrives or the deadline passes. It returns
// the wake reason, or 0 with the outcome when the deadline won. A wake that
// arrives after the deadline is left in the channel for the caller to settle
// under its queue lock.
func park(w *waiter, d deadline, sc *waitScope) (uint8, Outcome) {
	// A hand-off (a Condition ping-pong) usually completes within a yield or
	// two; parking costs more than yielding.
	for i := 0; i < yieldTries; i++ {
		runtime.Gosched()
		select {
		case r := <-w.ch:
			return r, OutcomeAcquired
		default:
		}
	}
	sc.publish()
	if d.ctx != nil {
		select {
		case r := <-w.ch:
			return r, OutcomeAcquired
		case <-d.ctx.Done():
			return 0, OutcomeCancelled
		}
	}
	if d.timeout < 0 {
		return <-w.ch, OutcomeAcquired
	}
	t := time.NewTimer(d.timeout)
	defer t.Stop()
	select {
	case r := <-w.ch:
		return r, OutcomeAcquired
	case <-t.C:
		return 0, OutcomeTimeout
	}
}

// waitChan blocks until ch is closed or the deadline passes.
func waitChan(ch <-chan struct{}, d deadline, sc *waitScope) Outcome {
	sc.publish()
	if d.ctx != nil {
		select {
		case <-ch:
			return OutcomeAcquired
		case <-d.ctx.Done():
			return OutcomeCancelled
		}
	}
	if d.timeout < 0 {
		<-ch
		return OutcomeAcquired
	}
	if d.timeout == 0 {
		return OutcomeTimeout
	}
	t := time.NewTimer(d.timeout)
	defer t.Stop()
	select {
	case <-ch:
		return OutcomeAcquired
	case <-t.C:
		return OutcomeTimeout
	}
}

// withdraw takes w out of e's queue once its deadline has passed, running
// onRemove under the queue lock. It reports false when a wake took w out
// first: that wake is then in w.ch, and the caller must settle it.
func (e *ext) withdraw(w *waiter, onRemove func()) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !w.queued {
		return false
	}
	e.q.remove(w)
	onRemove()
	return true
}

// gaveUp is the error of a wait that ended without its resource: ctx.Err()
// for a cancelled context, nil for a timeout (the bool result says it).
func gaveUp(out Outcome, d deadline) error {
	if out == OutcomeCancelled {
		return d.ctx.Err()
	}
	return nil
}
