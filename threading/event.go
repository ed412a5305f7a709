package threading

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// Event is Python's threading.Event: a flag that threads wait on. The zero
// value is an unset event. A waiter blocked before Set returns true even when
// Clear follows at once (CPython's gh-57711).
type Event struct {
	mu   sync.Mutex
	flag atomic.Bool
	q    waitQueue // the waits parked until Set, guarded by mu
	acq  atomic.Uint64
	x    atomic.Pointer[ext]
}

// NewEvent returns an unset Event. Options: WithName.
func NewEvent(opts ...Option) *Event {
	o := buildOptions(opts)
	ev := &Event{}
	newPrimExt(ev, KindEvent, o)
	return ev
}

func (ev *Event) registerSelf(e *ext) {
	register(e, ev)
}

// IsSet reports the flag (Python's is_set()).
func (ev *Event) IsSet() bool { return ev.flag.Load() }

// Set sets the flag and wakes every waiter.
func (ev *Event) Set() {
	ev.mu.Lock()
	if !ev.flag.Load() {
		ev.flag.Store(true)
		ev.q.wakeAll(wakeGranted)
	}
	ev.mu.Unlock()
}

// Clear resets the flag.
func (ev *Event) Clear() {
	ev.mu.Lock()
	ev.flag.Store(false)
	ev.mu.Unlock()
}

// Wait blocks until the flag is set.
func (ev *Event) Wait() { ev.wait(forever) }

// WaitTimeout waits at most d (d < 0: no limit) and returns the flag, or true
// when the event was set while it waited.
func (ev *Event) WaitTimeout(d time.Duration) bool {
	ok, _ := ev.wait(within(d))
	return ok
}

// WaitContext waits until the flag is set or ctx is done (ctx.Err()).
func (ev *Event) WaitContext(ctx context.Context) error {
	_, err := ev.wait(withCtx(ctx))
	return err
}

func (ev *Event) wait(d deadline) (bool, error) {
	if ev.flag.Load() {
		ev.acq.Add(1)
		return true, nil
	}
	if d.tryOnly() {
		return false, nil
	}
	ev.mu.Lock()
	if ev.flag.Load() {
		ev.mu.Unlock()
		ev.acq.Add(1)
		return true, nil
	}
	// Each waiter parks on its own goroutine's reused waiter, which Set
	// wakes: a wait allocates nothing once its goroutine has waited before,
	// where a channel per unset period did.
	g := curGoid()
	w := getWaiter(g)
	ev.q.pushBack(w)
	ev.mu.Unlock()
	defer putWaiter(w)
	e := getExt(&ev.x, KindEvent)
	ev.registerSelf(e)
	rec := beginWait(ev, e.meta, WaitSet, g, 0, d)
	rec.t = w.t
	r, out := park(w, d, &rec)
	if r == 0 { // the deadline won; settle under the lock
		if withdrawFrom(&ev.mu, &ev.q, w, nil) {
			rec.end(out)
			return false, gaveUp(out, d)
		}
		// Set took it out just as the deadline passed: its wake is in the
		// channel (the waiter had parked), and the wait saw the event set.
		<-w.ch
	}
	rec.end(OutcomeAcquired)
	ev.acq.Add(1)
	return true, nil
}

func (ev *Event) primID() uint64 { return extID(&ev.x) }

func (ev *Event) primKind() Kind { return KindEvent }

func (ev *Event) primName() string { return extName(&ev.x) }

func (ev *Event) primClass() string { return extClass(&ev.x, KindEvent) }

// Stats: Acquisitions counts waits that saw the event set.
func (ev *Event) Stats() Stats {
	s := Stats{Acquisitions: ev.acq.Load()}
	if e := ev.x.Load(); e != nil {
		e.slowStats(&s)
	}
	return s
}

func (ev *Event) holders() []uint64 { return nil }

// String is Python's repr: <Event "ready": set>.
func (ev *Event) String() string {
	state := "unset"
	if ev.flag.Load() {
		state = "set"
	}
	return fmt.Sprintf("<%s: %s>", describe(KindEvent, &ev.x), state)
}

func (ev *Event) setExt(e *ext) { ev.x.Store(e) }
