package threading

import (
	"context"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
	_ "unsafe" // for go:linkname
	"weak"
)

// WaitKind says what a waiting thread waits for.
type WaitKind uint8

// The kinds of wait.
const (
	WaitAcquire   WaitKind = iota + 1 // a Lock, RLock, Semaphore, or an RWLock's write side
	WaitRead                          // an RWLock's read side
	WaitNotify                        // a Condition's notify
	WaitReacquire                     // a Condition's lock, after a notify or a timeout
	WaitSet                           // an Event to be set
	WaitBarrier                       // a Barrier to fill
	WaitJoin                          // a Thread to end
)

var waitKindNames = [...]string{"", "acquire", "read", "notify", "reacquire", "event", "barrier", "join"}

func (k WaitKind) String() string {
	if int(k) < len(waitKindNames) && k != 0 {
		return waitKindNames[k]
	}
	return "unknown"
}

// WaitInfo describes a wait in progress: what a thread waits on, since when,
// and where (the stack is captured on the slow path only).
type WaitInfo struct {
	Primitive Primitive
	Kind      WaitKind
	Since     time.Time
	// Holder is the goroutine ident that held the primitive when the wait
	// began (0 when it has no single holder).
	Holder uint64
	// Seq identifies this wait: unique in the process, so a reader can tell
	// a wait that went on from a new one on the same primitive.
	Seq uint64
	// Cancellable is true for the Context forms (AcquireContext,
	// WaitContext, JoinContext).
	Cancellable bool
	pcs         []uintptr
}

var waitSeq atomic.Uint64

// waitStacks makes every published wait capture its call stack.
var waitStacks atomic.Bool

// SetWaitStacks turns on capturing the call stack of every wait that blocks
// (about a microsecond a wait): WaitInfo.Stack then says where each waiting
// thread blocked. Off by default; package contention reads the stacks of the
// threads it reports from a goroutine dump instead.
func SetWaitStacks(on bool) { waitStacks.Store(on) }

// Stack returns the frames where the thread blocked, when SetWaitStacks is on.
func (w *WaitInfo) Stack() *runtime.Frames { return runtime.CallersFrames(w.pcs) }

// StackPCs returns the program counters where the thread blocked.
func (w *WaitInfo) StackPCs() []uintptr { return w.pcs }

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
)

var reportKindNames = [...]string{"", "deadlock", "lock_order", "self_deadlock", "held_at_exit", "long_wait"}

func (k ReportKind) String() string {
	if int(k) < len(reportKindNames) && k != 0 {
		return reportKindNames[k]
	}
	return "unknown"
}

// Report is a finding about the program's locking: a deadlock, a lock-order
// inversion, or a smell. Package threading makes the smells it can see on its
// own; package contention makes the rest and publishes them with Publish.
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

func (NopObserver) ObserveWait(*WaitEvent)     {}
func (NopObserver) ObserveHold(*HoldEvent)     {}
func (NopObserver) ObserveThread(*ThreadEvent) {}
func (NopObserver) ObserveMisuse(*MisuseEvent) {}
func (NopObserver) ObserveReport(*Report)      {}

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

// Publish delivers a report to the logger and to every observer. Package
// contention uses it for deadlocks and lock-order reports.
func Publish(r *Report) {
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

// Hold-time sampling. holdEvery is 0 when off, else 1 in holdEvery
// acquisitions of a Lock, RLock or RWLock (writer) is timed.
var holdEvery atomic.Uint32

// SetHoldSampling times one in every n acquisitions of Locks, RLocks and
// RWLocks (write side) and reports how long each was held as a HoldEvent;
// n <= 0 turns it off. Timing costs two clock reads per sampled hold.
func SetHoldSampling(n int) {
	if n <= 0 {
		holdEvery.Store(0)
	} else {
		if n > 1<<31 {
			n = 1 << 31
		}
		holdEvery.Store(uint32(n))
	}
	updateExtra()
}

// extra is non-zero when the lock fast paths have more to do than take the
// lock: hold sampling or a LockTracker. One load of it is all the fast path
// pays for either being possible.
var extra atomic.Uint32

func updateExtra() {
	var v uint32
	if holdEvery.Load() != 0 {
		v |= 1
	}
	if tracker.Load() != nil {
		v |= 2
	}
	extra.Store(v)
}

// LockTracker sees every acquisition and release of a Lock, of an RLock (the
// outermost level) and of an RWLock's write side, when installed with
// SetLockTracker: what lock-order checking (package contention) needs. It
// runs on the fast path, so it must be quick; g is the goroutine that
// acquired the lock (for a Lock released by another thread, still the
// acquirer).
type LockTracker interface {
	Acquired(p Primitive, c *Class, g uint64)
	Released(p Primitive, c *Class, g uint64)
}

type trackerBox struct{ t LockTracker }

var tracker atomic.Pointer[trackerBox]

// SetLockTracker installs t (nil removes it). Locks already held when it is
// installed are not known to it.
func SetLockTracker(t LockTracker) {
	if t == nil {
		tracker.Store(nil)
	} else {
		tracker.Store(&trackerBox{t})
	}
	updateExtra()
}

func trackAcquired(p Primitive, x *atomic.Pointer[ext], kind Kind, g uint64) {
	if b := tracker.Load(); b != nil {
		b.t.Acquired(p, classInfo(getExt(x, kind).meta), g)
	}
}

func trackReleased(p Primitive, x *atomic.Pointer[ext], kind Kind, g uint64) {
	if b := tracker.Load(); b != nil {
		b.t.Released(p, classInfo(getExt(x, kind).meta), g)
	}
}

// Class is a lock class: the primitives of one kind and one label (name, or
// creation site), as Linux lockdep groups locks. ID is small and dense.
type Class struct {
	ID    uint32
	Kind  Kind
	Label string
	// Overflow marks the one class per kind that stands for every class
	// past the table's bound (maxClasses): it mixes unrelated locks, so
	// lock-order checking must not draw edges through it.
	Overflow bool
}

// maxClasses bounds the lock-class table, as lockdep bounds its keys: a
// service that names a lock per connection would otherwise grow it forever.
const maxClasses = 1 << 14

var classTable struct {
	mu sync.Mutex
	m  map[classKey]*Class
}

// classInfo returns the interned Class of a primitive's ext.
func classInfo(e *meta) *Class {
	if c := e.cls.Load(); c != nil {
		return c
	}
	k := classKey{e.kind, entryLabel(e)}
	classTable.mu.Lock()
	if classTable.m == nil {
		classTable.m = make(map[classKey]*Class)
	}
	c := classTable.m[k]
	if c == nil && len(classTable.m) >= maxClasses {
		k.label = OverflowLabel
		if c = classTable.m[k]; c == nil {
			c = &Class{ID: uint32(len(classTable.m) + 1), Kind: k.kind, Label: k.label, Overflow: true}
			classTable.m[k] = c
		}
	}
	if c == nil {
		c = &Class{ID: uint32(len(classTable.m) + 1), Kind: k.kind, Label: k.label}
		classTable.m[k] = c
	}
	classTable.mu.Unlock()
	e.cls.Store(c)
	return c
}

func sampleHold() bool {
	n := holdEvery.Load()
	return n != 0 && (n == 1 || rand.Uint32N(n) == 0)
}

func startHold(e *ext) { e.holdStart.Store(nanotime()) }

func endHold(p Primitive, e *ext, g uint64) {
	if e == nil {
		return
	}
	start := e.holdStart.Swap(0)
	if start == 0 || !hasObservers() {
		return
	}
	ev := &HoldEvent{Primitive: p, Thread: g, Duration: time.Duration(nanotime() - start)}
	notify(func(o Observer) { o.ObserveHold(ev) })
}

// runtimeNano is the runtime's monotonic clock: half the cost of time.Now,
// which also reads the wall clock. It is one of the runtime functions kept
// reachable for linkname on purpose.
//
//go:linkname runtimeNano runtime.nanotime
func runtimeNano() int64

var (
	clockBase     = time.Now()
	clockBaseNano = runtimeNano()
)

// nanotime is a monotonic clock reading in nanoseconds, never 0.
func nanotime() int64 { return runtimeNano() - clockBaseNano + 1 }

// timeAt turns a nanotime reading back into a time.Time (with its monotonic
// reading, so Sub and Since stay exact).
func timeAt(n int64) time.Time { return clockBase.Add(time.Duration(n - 1)) }

// waitRecord is a wait that is visible in its thread's record: what the live
// graph and the deadlock detector read. It is made only once a wait really
// blocks (see waitScope.publish), and never changes after.
//
// A record is reachable from the thread registry, a global, so it holds what
// the thread waits on only weakly: through the primitive's registry entry
// (its identity and a weak pointer) or, for a Join, a weak pointer to the
// Thread. A goroutine parked on a primitive that nothing runnable can reach
// is then unreachable too, and Go's goroutine-leak profile finds it.
type waitRecord struct {
	info   WaitInfo // Primitive is nil here: see snapshot
	thread *Thread
	ent    *primEntry           // the registered primitive waited on, or nil
	join   weak.Pointer[Thread] // the Thread a Join waits on
}

func (r *waitRecord) primitive() Primitive {
	if r.ent != nil {
		return r.ent.resolve()
	}
	if t := r.join.Value(); t != nil {
		return t
	}
	return nil
}

// snapshot is the record's WaitInfo with its primitive resolved; false once
// the primitive is gone (its waiter has left too, then).
func (r *waitRecord) snapshot() (WaitInfo, bool) {
	info := r.info
	info.Primitive = r.primitive()
	return info, info.Primitive != nil
}

// waitScope is the bookkeeping of one slow-path wait, kept on the waiter's
// stack: two atomic adds and a clock read to begin, and publish, just before
// the waiter parks, to make the wait visible in its thread's record.
type waitScope struct {
	p      Primitive
	m      *meta
	kind   WaitKind
	g      uint64
	holder uint64
	hth    *Thread // the holder's thread when the wait began, if known
	ctx    context.Context
	start  int64 // nanotime
	rec    *waitRecord
}

// beginWait starts the bookkeeping of goroutine g waiting on p, whose meta is
// m (nil for waits with no statistics).
func beginWait(p Primitive, m *meta, kind WaitKind, g, holder uint64, d deadline) waitScope {
	if m != nil {
		m.contentions.Add(1)
		m.waiters.Add(1)
	}
	sc := waitScope{p: p, m: m, kind: kind, g: g, holder: holder, ctx: d.ctx, start: nanotime()}
	if holder != 0 && hasObservers() {
		sc.hth = lookupThread(holder)
	}
	return sc
}

// publish makes the wait visible in the thread's record, with the stack.
func (s *waitScope) publish() {
	if s.rec != nil {
		return
	}
	t := threadForGoid(s.g)
	r := &waitRecord{thread: t}
	if jt, ok := s.p.(*Thread); ok {
		r.join = weak.Make(jt)
	} else if s.m != nil {
		r.ent = s.m.ent.Load()
	}
	r.info = WaitInfo{Kind: s.kind, Holder: s.holder, Since: timeAt(s.start),
		Seq: waitSeq.Add(1), Cancellable: s.ctx != nil}
	if waitStacks.Load() {
		var pcs [32]uintptr
		n := runtime.Callers(3, pcs[:])
		r.info.pcs = append([]uintptr(nil), pcs[:n]...)
	}
	s.rec = r
	t.waiting.Store(r)
}

// end closes the wait with its outcome and delivers the WaitEvent.
func (s *waitScope) end(out Outcome) {
	d := time.Duration(nanotime() - s.start)
	var t *Thread
	if s.rec != nil {
		t = s.rec.thread
		t.waiting.CompareAndSwap(s.rec, nil)
	}
	if e := s.m; e != nil {
		if s.rec != nil && len(s.rec.info.pcs) > 0 && e.kind != KindThread {
			waiterStacks.add(e.kind, entryLabel(e), s.rec.info.pcs, d)
		}
		e.waiters.Add(-1)
		e.waitNanos.Add(int64(d))
		switch out {
		case OutcomeTimeout:
			e.timeouts.Add(1)
		case OutcomeCancelled, OutcomeDeadlock:
			e.cancels.Add(1)
		}
	}
	if !hasObservers() {
		return
	}
	if t == nil {
		t = threadForGoid(s.g)
	}
	ctx := s.ctx
	if ctx == nil {
		ctx = t.Context()
	}
	ev := &WaitEvent{
		Primitive: s.p, Kind: s.kind, Waiter: t,
		Holder: s.hth, HolderIdent: s.holder, Start: timeAt(s.start), Duration: d, Outcome: out, Ctx: ctx,
	}
	notify(func(o Observer) { o.ObserveWait(ev) })
}

// BreakWait ends a thread's wait with ErrDeadlock, as a database aborts one
// transaction to break a deadlock: the deadlock detector's "break" policy.
// Only a wait through a Context (AcquireContext on a Lock, RLock or
// semaphore) whose sequence number is seq can be broken; BreakWait reports
// whether it was.
func BreakWait(t *Thread, seq uint64) bool {
	r := t.waiting.Load()
	if r == nil || r.info.Seq != seq || !r.info.Cancellable || r.ent == nil {
		return false
	}
	e := r.ent.ext()
	if e == nil {
		return false
	}
	g := t.Ident()
	e.mu.Lock()
	defer e.mu.Unlock()
	// Under the queue lock: if the record is still the thread's and its
	// goroutine is queued, this very wait is parked in e's queue (a
	// goroutine is in at most one queue, and its record is cleared before
	// it waits again).
	if t.waiting.Load() != r {
		return false
	}
	for w := e.q.head; w != nil; w = w.next {
		if w.g == g && w.breakable {
			e.q.remove(w)
			if w.unqueue != nil {
				w.unqueue()
			}
			w.ch <- wakeDeadlock
			return true
		}
	}
	return false
}
