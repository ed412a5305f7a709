package threading

import (
	"context"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
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
	WaitGroupDone                     // a WaitGroup or Group to count down to zero
	WaitOnce                          // a Once's Do in progress
)

var waitKindNames = [...]string{"", "acquire", "read", "notify", "reacquire", "event", "barrier", "join", "waitgroup", "once"}

// Idle reports whether the wait is for a notification or an end, not to
// acquire something another thread holds (contention).
func (k WaitKind) Idle() bool {
	switch k {
	case WaitNotify, WaitSet, WaitBarrier, WaitJoin, WaitGroupDone:
		return true
	}
	return false
}

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
	// drain marks an RWLock writer's wait for the readers to leave (it
	// holds the writers' mutex already): it waits on the readers, not on
	// the writer.
	drain bool
}

var waitSeq atomic.Uint64

// waitStackEvery is 0 when no wait captures its stack, else 1 in
// waitStackEvery waits that block (and hand-offs to parked waiters) does.
var waitStackEvery atomic.Uint32

// DefaultWaitStackSampling is how often a wait that parks captures its stack
// (about a microsecond) unless SetWaitStackSampling says otherwise: 1 in 8.
const DefaultWaitStackSampling = 8

func init() { waitStackEvery.Store(DefaultWaitStackSampling) }

// SetWaitStackSampling makes 1 in n waits that block capture the stack
// where they blocked (and 1 in n hand-offs to parked waiters the releaser's
// stack): what package contention's waiter and releaser profiles are made
// of, each sample weighted by n so the totals stay unbiased. n = 1 captures
// every one (WaitInfo.Stack then says where each waiting thread blocked);
// n <= 0 turns capturing off.
func SetWaitStackSampling(n int) {
	switch {
	case n <= 0:
		waitStackEvery.Store(0)
	case n > 1<<20:
		waitStackEvery.Store(1 << 20)
	default:
		waitStackEvery.Store(uint32(n))
	}
}

// sampleStack reports whether this wait or hand-off captures its stack, and
// the weight of the sample.
func sampleStack() (uint64, bool) {
	n := waitStackEvery.Load()
	if n == 0 || n > 1 && rand.Uint32N(n) != 0 {
		return 0, false
	}
	return uint64(n), true
}

// Stack returns the frames where the thread blocked, for a wait whose stack
// was sampled (see SetWaitStackSampling).
func (w *WaitInfo) Stack() *runtime.Frames { return runtime.CallersFrames(w.pcs) }

// StackPCs returns the program counters where the thread blocked.
func (w *WaitInfo) StackPCs() []uintptr { return w.pcs }

// waitRecord is a wait that is visible in its thread's record: what the live
// graph and the deadlock detector read. A thread's record is made on its
// first wait that really blocks (see waitScope.publish) and reused by each
// later one, so that a wait allocates nothing; only the thread's own
// goroutine writes it, when a wait blocks. (A thread has two: a wait may
// block within another, see publish.)
//
// Other goroutines copy it in a seqlock: ver is odd while its goroutine
// writes it, and a copy taken between two loads of the same even ver is one
// wait's, whole. Every field is an atomic, so a copy that races with a write
// is thrown away, never torn, and the race detector sees no race.
//
// A record is reachable from the thread registry, a global, so it holds what
// the thread waits on only weakly: through the primitive's registry entry
// (its identity and a weak pointer) or, for a Join, a weak pointer to the
// Thread. A goroutine parked on a primitive that nothing runnable can reach
// is then unreachable too, and Go's goroutine-leak profile finds it.
type waitRecord struct {
	ver    atomic.Uint64
	thread *Thread // the record's thread, for good
	flags  atomic.Uint32
	holder atomic.Uint64
	start  atomic.Int64 // nanotime when the wait began
	seq    atomic.Uint64
	weight atomic.Uint64                        // how many waits the sampled stack stands for; 0: none sampled
	ent    atomic.Pointer[primEntry]            // the registered primitive waited on, or nil
	join   atomic.Pointer[weak.Pointer[Thread]] // the Thread a Join waits on, or nil
	stack  atomic.Pointer[waitStack]            // made on the thread's first sampled wait

	// inUse is true from a wait's publish to its end; only the record's
	// goroutine touches it.
	inUse bool
	// lastJoin is the weak pointer of the Thread last joined, reused while
	// its goroutine joins the same one (weak.Make takes a runtime lock);
	// only that goroutine touches it.
	lastJoin *weak.Pointer[Thread]
	// timer times the thread's timed waits on a channel (waitChan), reused
	// as a waiter's is; only the thread's goroutine touches it.
	timer *time.Timer
}

// waitRecord.flags: the WaitKind in the low byte, and these.
const (
	recCancellable = 1 << 8
	recDrain       = 1 << 9
)

// waitStackDepth is how many frames a blocked wait's sampled stack keeps.
const waitStackDepth = 32

// waitStack is where a blocked wait's sampled stack is kept, in its record.
type waitStack struct {
	n  atomic.Int32
	pc [waitStackDepth]atomic.Uintptr
}

// store keeps pcs (at most len(st.pc) of them).
func (st *waitStack) store(pcs []uintptr) {
	n := min(len(pcs), len(st.pc))
	for i := range n {
		st.pc[i].Store(pcs[i])
	}
	st.n.Store(int32(n))
}

// load copies the stack into dst and returns the part of dst it filled.
func (st *waitStack) load(dst []uintptr) []uintptr {
	n := min(int(st.n.Load()), len(st.pc), len(dst))
	for i := range n {
		dst[i] = st.pc[i].Load()
	}
	return dst[:n]
}

// recCopy is a consistent copy of a waitRecord.
type recCopy struct {
	flags       uint32
	holder, seq uint64
	start       int64
	weight      uint64
	ent         *primEntry
	join        *weak.Pointer[Thread]
	pcs         []uintptr
}

// read copies the record; false when its goroutine rewrote it during every
// try (a new wait blocking each time).
func (r *waitRecord) read() (c recCopy, ok bool) {
	for try := 0; try < 16; try++ {
		v := r.ver.Load()
		if v&1 == 0 {
			c = recCopy{flags: r.flags.Load(), holder: r.holder.Load(), seq: r.seq.Load(),
				start: r.start.Load(), weight: r.weight.Load(), ent: r.ent.Load(), join: r.join.Load()}
			if st := r.stack.Load(); st != nil && c.weight != 0 {
				c.pcs = st.load(make([]uintptr, waitStackDepth))
			}
			if r.ver.Load() == v {
				return c, true
			}
		}
		runtime.Gosched()
	}
	return recCopy{}, false
}

func (c *recCopy) primitive() Primitive {
	if c.ent != nil {
		return c.ent.resolve()
	}
	if c.join != nil {
		if t := c.join.Value(); t != nil {
			return t
		}
	}
	return nil
}

// snapshot is the record's WaitInfo with its primitive resolved; false once
// the primitive is gone (its waiter has left too, then).
func (r *waitRecord) snapshot() (WaitInfo, bool) {
	c, ok := r.read()
	if !ok {
		return WaitInfo{}, false
	}
	info := WaitInfo{Kind: WaitKind(c.flags), Holder: c.holder, Since: timeAt(c.start), Seq: c.seq,
		Cancellable: c.flags&recCancellable != 0, drain: c.flags&recDrain != 0, pcs: c.pcs}
	info.Primitive = c.primitive()
	return info, info.Primitive != nil
}

// waitScope is the bookkeeping of one slow-path wait, kept on the waiter's
// stack: two atomic adds to begin, and publish, just before the waiter
// parks, to make the wait visible in its thread's record.
//
// The clock is read when the wait parks (publish) and when it ends, or from
// the start when an observer is attached; Stats.Waiters counts the waits
// that parked. A wait that ends before it parks (a hand-off that completes
// while the waiter yields, within a microsecond or so) costs one atomic add
// (Contentions) and no clock read, and adds nothing to WaitTotal unless an
// observer wants its exact duration: on a machine where reading the clock
// costs ~35 ns, the four reads were a quarter of a Condition round trip.
type waitScope struct {
	t      *Thread // the waiter's record, if already looked up
	p      Primitive
	m      *meta
	kind   WaitKind
	g      uint64
	holder uint64
	hth    *Thread // the holder's thread when the wait began, if known
	ctx    context.Context
	start  int64 // nanotime
	rec    *waitRecord
	drain  bool // see WaitInfo.drain
}

// beginWait starts the bookkeeping of goroutine g waiting on p, whose meta is
// m (nil for waits with no statistics).
func beginWait(p Primitive, m *meta, kind WaitKind, g, holder uint64, d deadline) waitScope {
	var sc waitScope
	sc.begin(p, m, kind, g, holder, d)
	return sc
}

// begin is beginWait on a zero scope that stays where it is: built field by
// field in place, it is not copied out of a result, a copy whose wide loads
// each wait for several narrow stores still in flight (a stall that was a
// twentieth of a Condition ping-pong).
func (s *waitScope) begin(p Primitive, m *meta, kind WaitKind, g, holder uint64, d deadline) {
	if m != nil {
		m.contentions.Add(1)
	}
	s.p, s.m, s.kind, s.g, s.holder, s.ctx = p, m, kind, g, holder, d.ctx
	if hasObservers() {
		s.start = nanotime()
		if holder != 0 {
			s.hth = lookupThread(holder)
		}
	}
}

// publish makes the wait visible in the thread's record, with the stack.
func (s *waitScope) publish() {
	if s.rec != nil {
		return
	}
	if s.start == 0 {
		s.start = nanotime()
	}
	if s.m != nil {
		s.m.waiters.Add(1)
	}
	t := s.t
	if t == nil {
		t = threadForGoid(s.g)
	}
	// A wait can block inside another that has not ended (a Condition's,
	// taking its lock back once notified): the inner one takes the other
	// record, so that the outer one keeps its sampled stack.
	var r *waitRecord
	for i, ri := range t.recs {
		if ri == nil {
			ri = &waitRecord{thread: t}
			t.recs[i] = ri
		}
		if !ri.inUse {
			r = ri
			break
		}
	}
	if r == nil { // deeper than any wait nests: a record of its own
		r = &waitRecord{thread: t}
	}
	r.inUse = true
	var ent *primEntry
	var join *weak.Pointer[Thread]
	if jt, ok := s.p.(*Thread); ok {
		if r.lastJoin == nil || r.lastJoin.Value() != jt {
			wp := weak.Make(jt)
			r.lastJoin = &wp
		}
		join = r.lastJoin
	} else if s.m != nil {
		ent = s.m.ent.Load()
	}
	flags := uint32(s.kind)
	if s.ctx != nil {
		flags |= recCancellable
	}
	if s.drain {
		flags |= recDrain
	}
	var pcs [waitStackDepth]uintptr
	n := 0
	w, sampled := sampleStack()
	if sampled {
		n = runtime.Callers(3, pcs[:])
	}
	st := r.stack.Load()
	if sampled && st == nil {
		st = new(waitStack)
		r.stack.Store(st)
	}
	r.ver.Add(1) // odd: being written
	r.flags.Store(flags)
	r.holder.Store(s.holder)
	r.start.Store(s.start)
	r.seq.Store(waitSeq.Add(1))
	r.ent.Store(ent)
	r.join.Store(join)
	if sampled {
		st.store(pcs[:n])
		r.weight.Store(w)
	} else {
		r.weight.Store(0)
	}
	r.ver.Add(1)
	s.rec = r
	t.waiting.Store(r)
}

// end closes the wait with its outcome and delivers the WaitEvent.
func (s *waitScope) end(out Outcome) {
	var d time.Duration
	if s.start != 0 {
		d = time.Duration(nanotime() - s.start)
	} else if hasObservers() { // attached during the wait
		s.start = nanotime()
	}
	var t *Thread
	if s.rec != nil {
		t = s.rec.thread
		t.waiting.CompareAndSwap(s.rec, nil)
	}
	if e := s.m; e != nil {
		if s.rec != nil && e.kind != KindThread {
			if w := s.rec.weight.Load(); w != 0 { // only this goroutine writes its record
				var pcs [waitStackDepth]uintptr
				waiterStacks.add(e.kind, entryLabel(e), s.rec.stack.Load().load(pcs[:]), d, w)
			}
		}
		if s.rec != nil {
			e.waiters.Add(-1)
		}
		if d > 0 {
			e.waitNanos.Add(int64(d))
		}
		switch out {
		case OutcomeTimeout:
			e.timeouts.Add(1)
		case OutcomeCancelled, OutcomeDeadlock:
			e.cancels.Add(1)
		}
	}
	if s.rec != nil {
		s.rec.inUse = false // its sampled stack is read: a later wait may take it
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

// breakWait ends a thread's wait with ErrDeadlock, as a database aborts one
// transaction to break a deadlock: the deadlock detector's "break" policy.
// Only a wait through a Context (AcquireContext on a Lock, RLock or
// semaphore) whose sequence number is seq can be broken; breakWait reports
// whether it was.
func breakWait(t *Thread, seq uint64) bool {
	r := t.waiting.Load()
	if r == nil {
		return false
	}
	c, ok := r.read()
	if !ok || c.seq != seq || c.flags&recCancellable == 0 || c.ent == nil {
		return false
	}
	e := c.ent.ext()
	if e == nil {
		return false
	}
	g := t.Ident()
	e.mu.Lock()
	defer e.mu.Unlock()
	// Under the queue lock: if the record still shows this wait and its
	// goroutine is queued, this very wait is parked in e's queue (a
	// goroutine is in at most one queue, its record is cleared before it
	// waits again, and each wait that blocks has a new seq).
	if t.waiting.Load() != r || r.seq.Load() != seq {
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

// Why a parked waiter was woken.
const (
	wakeGranted  uint8 = iota + 1 // the resource was handed over, or may be retried
	wakeDeadlock                  // the deadlock breaker chose this waiter
	wakeHandoff                   // a starving lock was handed over: the waiter holds it
)

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

// park blocks until a wake arrives (through w.sig or w.ch, see waiter.wake)
// or the deadline passes. It returns the wake reason, or 0 with the outcome
// when the deadline won. A wake that arrives after the deadline is left in
// the channel for the caller to settle under its queue lock.
func park(w *waiter, d deadline, sc *waitScope) (uint8, Outcome) {
	// A hand-off (a Condition ping-pong) usually completes within a yield or
	// two; parking costs more than yielding.
	for i := 0; i < yieldTries; i++ {
		runtime.Gosched()
		if r := w.sig.Load(); r != 0 {
			return uint8(r), OutcomeAcquired
		}
		select {
		case r := <-w.ch:
			return r, OutcomeAcquired
		default:
		}
	}
	if !w.sig.CompareAndSwap(0, sigParked) {
		return uint8(w.sig.Load()), OutcomeAcquired
	}
	sc.publish()
	w.parked.Store(true)
	r, out := block(w, d)
	if r != 0 {
		// Back to yielding: a lock waiter that loses the race for the lock
		// queues and parks again within the same wait.
		w.sig.Store(0)
	}
	return r, out
}

// block is park's blocking part: it receives from w.ch, or gives up when the
// deadline passes.
func block(w *waiter, d deadline) (uint8, Outcome) {
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
	t := resetTimer(&w.timer, d.timeout)
	select {
	case r := <-w.ch:
		t.Stop()
		return r, OutcomeAcquired
	case <-t.C:
		return 0, OutcomeTimeout
	}
}

// resetTimer returns the timer *tp (a waiter's, or a thread's wait
// record's) set to fire in d, made on first use: so a timed wait allocates
// nothing once its goroutine has waited before. That rests on Go 1.23's
// timers, whose channel is unbuffered and sends nothing stale after Stop or
// Reset; under asynctimerchan=1 (a main module older than Go 1.23, whose
// timer channels have a buffer of one), a timer that fired as its wait
// ended may still put its value in the channel after Stop, so each timed
// wait gets a new timer there, as before.
func resetTimer(tp **time.Timer, d time.Duration) *time.Timer {
	if t := *tp; t != nil && cap(t.C) == 0 {
		t.Reset(d)
		return t
	}
	*tp = time.NewTimer(d)
	return *tp
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
	t := resetTimer(&sc.rec.timer, d.timeout) // publish made the record
	select {
	case <-ch:
		t.Stop()
		return OutcomeAcquired
	case <-t.C:
		return OutcomeTimeout
	}
}

// withdraw takes w out of e's queue once its deadline has passed, running
// onRemove under the queue lock. It reports false when a wake took w out
// first: that wake is then in w.ch, and the caller must settle it.
func (e *ext) withdraw(w *waiter, onRemove func()) bool {
	return withdrawFrom(&e.mu, &e.q, w, onRemove)
}

// withdrawFrom is withdraw for a queue q guarded by mu; onRemove may be nil.
func withdrawFrom(mu *sync.Mutex, q *waitQueue, w *waiter, onRemove func()) bool {
	mu.Lock()
	defer mu.Unlock()
	if !w.queued {
		return false
	}
	q.remove(w)
	if onRemove != nil {
		onRemove()
	}
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
