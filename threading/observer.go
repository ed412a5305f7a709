package threading

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// WaitEvent is delivered to observers once a slow-path wait has ended.
type WaitEvent struct {
	Primitive Primitive
	Kind      WaitKind
	Waiter    *Thread
	// Holder is the thread that held the primitive when the wait began, or
	// nil (no single holder, or a goroutine never seen by this package).
	Holder      *Thread
	HolderIdent uint64
	Start       time.Time
	Duration    time.Duration
	Outcome     Outcome
	// Ctx is the caller's context (AcquireContext, WaitContext, JoinContext),
	// else the waiting Thread's context; never nil.
	Ctx context.Context
}

// HoldEvent is a sampled hold: how long a lock was held (see SetHoldSampling).
type HoldEvent struct {
	Primitive Primitive
	Thread    uint64 // ident of the goroutine that acquired it
	Duration  time.Duration
}

// ThreadEventKind says what happened to a thread.
type ThreadEventKind uint8

// The thread lifecycle events.
const (
	ThreadStarted ThreadEventKind = iota + 1
	ThreadEnded
)

func (k ThreadEventKind) String() string {
	switch k {
	case ThreadStarted:
		return "started"
	case ThreadEnded:
		return "ended"
	}
	return "unknown"
}

// ThreadEvent is a thread's start or end. Err and Panicked say how it ended.
type ThreadEvent struct {
	Thread   *Thread
	Kind     ThreadEventKind
	Err      error
	Panicked bool
}

// MisuseEvent is an error returned for misuse (releasing what you don't hold,
// joining yourself, ...), reported before the call returns it.
type MisuseEvent struct {
	Primitive Primitive // nil for misuse of a Thread
	Thread    *Thread   // the caller
	Op        string
	Err       error
}

// ReportKind classifies a Report.
type ReportKind uint8

// The kinds of report.
const (
	ReportDeadlock     ReportKind = iota + 1 // a cycle in the wait-for graph
	ReportLockOrder                          // a cycle in the lock-order graph
	ReportSelfDeadlock                       // a thread re-acquiring a Lock it holds
	ReportHeldAtExit                         // a thread that ended holding a lock
	ReportLongWait                           // a wait past the long-wait threshold
	ReportOrphan                             // waiters on a lock held by a thread that has ended
	ReportLeak                               // goroutines Go's goroutineleak profile finds stuck for good
)

var reportKindNames = [...]string{"", "deadlock", "lock_order", "self_deadlock", "held_at_exit", "long_wait", "orphan", "goroutine_leak"}

func (k ReportKind) String() string {
	if int(k) < len(reportKindNames) && k != 0 {
		return reportKindNames[k]
	}
	return "unknown"
}

// Report is a finding about the program's locking: a deadlock, a lock-order
// inversion, or a smell. Package threading makes the smells it can see on its
// own; package contention makes the rest.
type Report struct {
	Kind       ReportKind
	Time       time.Time
	Threads    []*Thread
	Primitives []Primitive
	// Summary is one line; Detail the full text, like a JVM thread dump.
	Summary string
	Detail  string
	// Duration is how long the wait concerned had lasted (long waits,
	// deadlocks), or 0.
	Duration time.Duration
}

// Observer receives what the package sees. Methods are called synchronously,
// on the goroutine concerned, only off the fast path; they must not block and
// must not call back into blocking operations of this package. A panic in an
// observer is recovered and logged: observing never breaks the observed code.
// Embed NopObserver to implement only some methods.
type Observer interface {
	ObserveWait(*WaitEvent)
	ObserveHold(*HoldEvent)
	ObserveThread(*ThreadEvent)
	ObserveMisuse(*MisuseEvent)
	ObserveReport(*Report)
}

// NopObserver implements Observer with methods that do nothing.
type NopObserver struct{}

func (NopObserver) ObserveWait(*WaitEvent) {}

func (NopObserver) ObserveHold(*HoldEvent) {}

func (NopObserver) ObserveThread(*ThreadEvent) {}

func (NopObserver) ObserveMisuse(*MisuseEvent) {}

func (NopObserver) ObserveReport(*Report) {}

type observerSet struct{ list []*observerSlot }

type observerSlot struct{ o Observer }

var (
	observersMu sync.Mutex
	observers   atomic.Pointer[observerSet]
)

// AddObserver attaches o; the returned function detaches it.
func AddObserver(o Observer) (remove func()) {
	slot := &observerSlot{o: o}
	observersMu.Lock()
	defer observersMu.Unlock()
	var list []*observerSlot
	if s := observers.Load(); s != nil {
		list = append(list, s.list...)
	}
	observers.Store(&observerSet{list: append(list, slot)})
	var once sync.Once
	return func() {
		once.Do(func() {
			observersMu.Lock()
			defer observersMu.Unlock()
			s := observers.Load()
			var next []*observerSlot
			for _, x := range s.list {
				if x != slot {
					next = append(next, x)
				}
			}
			if len(next) == 0 {
				observers.Store(nil)
			} else {
				observers.Store(&observerSet{list: next})
			}
		})
	}
}

func hasObservers() bool { return observers.Load() != nil }

func notify(fn func(Observer)) {
	s := observers.Load()
	if s == nil {
		return
	}
	for _, slot := range s.list {
		callObserver(slot.o, fn)
	}
}

func callObserver(o Observer, fn func(Observer)) {
	defer func() {
		if r := recover(); r != nil {
			logPanic("threading: observer panicked", r, nil)
		}
	}()
	fn(o)
}

// publish delivers a report to the logger and to every observer; package
// contention's reports come through plumb.Publish.
func publish(r *Report) {
	if r.Time.IsZero() {
		r.Time = time.Now()
	}
	logCall(func(l Logger) { l.ObserveReport(r) })
	notify(func(o Observer) { o.ObserveReport(r) })
}

// misuse reports a misuse error to the logger (warning level) and the
// observers, then returns it.
func misuse(p Primitive, op string, err error) error {
	if !hasObservers() && logger.Load() == nil {
		return err
	}
	ev := &MisuseEvent{Primitive: p, Thread: CurrentThread(), Op: op, Err: err}
	logCall(func(l Logger) { l.ObserveMisuse(ev) })
	notify(func(o Observer) { o.ObserveMisuse(ev) })
	return err
}
