package threading

import (
	"fmt"
	"runtime"
	"sync/atomic"
	"time"
	"unsafe"
)

// mutexCore is the machinery shared by Lock and RLock (and the write side of
// RWLock): a state word and a slow-path extension, 16 bytes in all.
//
// The state word packs everything the fast path needs into one CAS:
//
//	bits 0..11  acquisitions, modulo 2^12 (see below)
//	bit 12      locked
//	bit 13      waiters: the ext's queue is not empty (set and cleared only
//	            with ext.mu held, and only while the lock is locked, so a
//	            release that sees it clear may simply clear the rest)
//	bit 14      starving (see below; set only with waiters, while locked)
//	bits 15..63 the holder's goroutine id (0 while unlocked), modulo 2^49:
//	            ids wrap only after a process has started 2^49 goroutines
//	            (17 years at a million a second)
//
// Acquisitions are counted in one of two places. Once the lock has an ext
// (a constructor, a first wait, or the 4096th acquisition made one), the
// holder counts in ext.cnt, a counter only the holder writes, and the fast
// path is a CAS from 0, as sync.Mutex's: the CAS does not wait for a load
// of the word (a load after the previous release's locked instruction would
// add its latency to every acquisition). Until then, the count rides in the
// state word's low bits, in the acquiring CAS, which must then load the
// word first. Slow-path acquisitions with an ext move what the word counted
// into ext.cnt (drain), under ext.mu; so does the acquisition that finds
// the word's count full, which makes the ext. stats reads both places
// under ext.mu, so a drain is never seen half done, and sums them: an
// acquirer that saw no ext just before one was made may still count in the
// word, and a later slow-path acquisition drains it.
//
// Normally acquisition is barging, as in sync.Mutex's normal mode: a woken
// waiter competes with newcomers and, if it loses, goes back to the front of
// the queue. This keeps throughput close to sync.Mutex; FIFO order holds
// among parked waiters.
//
// Starvation mode, as sync.Mutex has it: a woken waiter that loses the race
// after waiting more than starveAfter sets the starving bit. From then on a
// release hands the lock straight to the first waiter (the state goes from
// the releaser's id to the waiter's without ever being unlocked), so
// newcomers cannot barge and queue behind. The mode ends when the queue
// empties or a waiter that receives the lock had waited less than
// starveAfter. Tail latency is bounded as with sync.Mutex; throughput drops
// only while a waiter starves.
//
// A copy of a lock whose queue exists would share that queue with the
// original; ext remembers the address of the mutexCore it serves, and a
// copy that reaches the slow path panics, as a copied sync.Cond does.
type mutexCore struct {
	state atomic.Uint64
	x     atomic.Pointer[ext]
}

const (
	cntBits    = 12
	cntMask    = 1<<cntBits - 1
	mLocked    = 1 << cntBits
	mWaiters   = 2 << cntBits
	mStarving  = 4 << cntBits
	ownerShift = cntBits + 3
	spinTries  = 4

	// starveAfter is how long a waiter waits before the lock switches to
	// hand-offs (sync.Mutex's starvationThresholdNs).
	starveAfter = int64(time.Millisecond)
)

// canSpin is false on a single-CPU machine, where spinning only delays the
// holder.
var canSpin = runtime.NumCPU() > 1

func ownerOf(s uint64) uint64 { return s >> ownerShift }

// lockFast is the fast path: it takes the lock for g if it is free and
// nobody waits. With an ext, one CAS from 0 and the holder's count; without,
// a load and a CAS that also counts (if the count is not full).
func (m *mutexCore) lockFast(g uint64) bool {
	if e := m.x.Load(); e != nil {
		if m.state.CompareAndSwap(0, g<<ownerShift|mLocked) {
			e.cnt.inc()
			return true
		}
		return false
	}
	s := m.state.Load()
	return s < cntMask && m.state.CompareAndSwap(s, s+1|g<<ownerShift|mLocked)
}

// registrant is implemented by every primitive type so that the slow path
// can put it in the registry the first time it is waited on.
type registrant interface {
	Primitive
	registerSelf(e *ext)
}

// tryLock takes the lock for g if it is free, without blocking.
func (m *mutexCore) tryLock(g uint64, kind Kind) bool {
	if raceEnabled {
		// A failed attempt is no synchronisation (as with sync.Mutex's
		// TryLock); a successful one is annotated by the caller.
		raceDisable()
	}
	got, counted, drain := m.tryLockWord(g)
	if raceEnabled {
		raceEnable()
	}
	if drain {
		return m.tryLockDrain(g, kind)
	}
	if got && !counted {
		// Loaded again with the race detector on: the load under
		// raceDisable was no acquire, and the count is reached through
		// the ext's meta.
		m.x.Load().cnt.inc()
	}
	return got
}

// tryLockWord is tryLock's CAS loop: counted is false when the holder must
// count in the ext; drain when the word's count must move there first.
func (m *mutexCore) tryLockWord(g uint64) (got, counted, drain bool) {
	for {
		s := m.state.Load()
		if s&mLocked != 0 {
			return false, false, false
		}
		e := m.x.Load()
		if e == nil && s&cntMask != cntMask {
			if m.state.CompareAndSwap(s, s+1|g<<ownerShift|mLocked) {
				return true, true, false
			}
			continue
		}
		if s&cntMask != 0 { // an ext with a count in the word to drain, or a full count
			return false, false, true
		}
		if m.state.CompareAndSwap(s, s|g<<ownerShift|mLocked) {
			return true, false, false
		}
	}
}

// tryLockDrain is tryLock when the word's count must move to ext.cnt (see
// mutexCore): under ext.mu, so that stats never sees it half moved. The ext
// is not claimed as this mutexCore's (a copy shares only its count).
func (m *mutexCore) tryLockDrain(g uint64, kind Kind) bool {
	e := getExt(&m.x, kind)
	e.mu.Lock()
	defer e.mu.Unlock()
	for {
		s := m.state.Load()
		if s&mLocked != 0 {
			return false
		}
		if m.state.CompareAndSwap(s, s&^cntMask|g<<ownerShift|mLocked) {
			e.cnt.store(e.cnt.load() + s&cntMask + 1)
			return true
		}
	}
}

// uncount takes back the acquisition the holder has just counted (for
// RWLock.TryLock, which gives the write lock back when readers hold it).
// With an ext, ext.cnt goes down by one even if the word counted it: stats
// sums the two modulo 2^64.
func (m *mutexCore) uncount() {
	if e := m.x.Load(); e != nil {
		e.cnt.dec()
		return
	}
	for { // only the word counts, and its count is at least this one
		s := m.state.Load()
		if m.state.CompareAndSwap(s, s-1) {
			return
		}
	}
}

// lockSlow spins briefly, then parks until the lock is taken or d passes.
func (m *mutexCore) lockSlow(p registrant, kind Kind, wk WaitKind, g uint64, d deadline) (bool, error) {
	if m.tryLock(g, kind) {
		return true, nil
	}
	if d.tryOnly() {
		return false, nil
	}
	if extra.Load()&trackBit != 0 && kind != KindOnce {
		trackAttempt(&m.x, kind, g, false)
	}
	if canSpin {
		// Spin a little, as sync.Mutex does: on a multi-core machine the
		// holder is likely to release within a few hundred cycles.
		for i := 0; i < spinTries; i++ {
			procyield(30)
			if m.state.Load()&mLocked == 0 && m.tryLock(g, kind) {
				return true, nil
			}
		}
	}
	if d.ctx != nil && d.ctx.Err() != nil {
		return false, d.ctx.Err()
	}
	e := m.ext(kind)
	p.registerSelf(e)
	w := getWaiter(g)
	defer putWaiter(w)
	w.since = nanotime()
	if d.ctx != nil {
		w.breakable = true
		w.unqueue = func() { m.clearWaitersIfEmpty(e) }
	}
	e.mu.Lock()
	holder, got := m.enqueueLocked(e, w, g, false, false)
	e.mu.Unlock()
	if got {
		return true, nil
	}
	if holder == g {
		switch kind {
		case KindLock, KindOnce:
			selfDeadlock(p, g, "re-acquires %[2]s, which it already holds; a Lock is not reentrant, so this waits for another thread to release it")
		case KindRWLock:
			selfDeadlock(p, g, "write-locks %[2]s again, which it already holds for writing; an RWLock is not reentrant, so this waits for another thread to unlock it")
		}
	}
	rec := beginWait(p, e.meta, wk, g, holder, d)
	rec.t = w.t
	for {
		r, out := park(w, d, &rec)
		if r == 0 { // the deadline won; settle under the queue lock
			if e.withdraw(w, func() { m.clearWaitersIfEmpty(e) }) {
				rec.end(out)
				return false, gaveUp(out, d)
			}
			// Dequeued by a release (or the breaker) just as the deadline
			// passed: its wake is in the channel.
			r = <-w.ch
			if r == wakeHandoff || r == wakeGranted && m.tryLock(g, kind) {
				if r == wakeHandoff {
					e.cnt.inc()
				}
				rec.end(OutcomeAcquired)
				return true, nil
			}
			if r == wakeDeadlock {
				rec.end(OutcomeDeadlock)
				return false, ErrDeadlock
			}
			rec.end(out)
			return false, gaveUp(out, d)
		}
		if r == wakeDeadlock {
			rec.end(OutcomeDeadlock)
			return false, ErrDeadlock
		}
		if r == wakeHandoff { // the releaser made this waiter the holder
			e.cnt.inc()
			rec.end(OutcomeAcquired)
			return true, nil
		}
		e.mu.Lock()
		_, got := m.enqueueLocked(e, w, g, true, nanotime()-w.since > starveAfter)
		e.mu.Unlock()
		if got {
			rec.end(OutcomeAcquired)
			return true, nil
		}
	}
}

// enqueueLocked takes the lock if it is free, else queues w (at the front for
// a waiter that was woken and lost the race; starve then turns starvation
// mode on). Called with e.mu held.
func (m *mutexCore) enqueueLocked(e *ext, w *waiter, g uint64, front, starve bool) (holder uint64, got bool) {
	want := uint64(mWaiters)
	if starve {
		want |= mStarving
	}
	for {
		s := m.state.Load()
		if s&mLocked == 0 {
			if m.state.CompareAndSwap(s, s&^cntMask|g<<ownerShift|mLocked) {
				e.cnt.store(e.cnt.load() + s&cntMask + 1) // drains the word's count
				return 0, true
			}
			continue
		}
		if s&want == want || m.state.CompareAndSwap(s, s|want) {
			if front {
				e.q.pushFront(w)
			} else {
				e.q.pushBack(w)
			}
			return ownerOf(s), false
		}
	}
}

func (m *mutexCore) clearWaitersIfEmpty(e *ext) {
	if e.q.n != 0 {
		return
	}
	for {
		s := m.state.Load()
		if s&(mWaiters|mStarving) == 0 || m.state.CompareAndSwap(s, s&^(mWaiters|mStarving)) {
			return
		}
	}
}

// ext returns the lock's slow-path extension, making it on first use, and
// panics if this mutexCore is a copy of one whose queue exists: the copy
// would share the original's waiters and wake them, or wait forever.
func (m *mutexCore) ext(kind Kind) *ext { return m.own(getExt(&m.x, kind)) }

// own returns e after checking that it serves this mutexCore (see ext).
func (m *mutexCore) own(e *ext) *ext {
	home := uintptr(unsafe.Pointer(m))
	if h := e.home.Load(); h != home && !(h == 0 && e.home.CompareAndSwap(0, home)) && e.home.Load() != home {
		panic(misuse(nil, "copy", runtimeErr(e.kind.String()+" copied after first use: it would share its original's wait queue; pass a pointer (go vet's copylocks check finds copies)")))
	}
	return e
}

// unlock releases the lock whoever holds it; false if it was not locked.
func (m *mutexCore) unlock() bool {
	return m.unlockFast() || m.unlockSlow()
}

// unlockFast releases the lock if it is locked and nobody waits: the common
// case, which inlines where unlock's slow path would not.
func (m *mutexCore) unlockFast() bool {
	s := m.state.Load()
	return s&(mLocked|mWaiters) == mLocked && m.state.CompareAndSwap(s, s&cntMask)
}

func (m *mutexCore) unlockSlow() bool {
	for {
		s := m.state.Load()
		if s&mLocked == 0 {
			return false
		}
		if s&mWaiters == 0 {
			if m.state.CompareAndSwap(s, s&cntMask) {
				return true
			}
			continue
		}
		e := m.own(m.x.Load()) // the waiters bit says it exists
		e.mu.Lock()
		s = m.state.Load()
		if s&mLocked == 0 {
			e.mu.Unlock()
			return false
		}
		w := e.q.popFront()
		ns := s & cntMask
		wake := wakeGranted
		if w != nil && s&mStarving != 0 {
			// Starving: the first waiter becomes the holder at once (and
			// counts itself).
			ns |= w.g<<ownerShift | mLocked
			if e.q.n > 0 {
				ns |= mWaiters
				if nanotime()-w.since > starveAfter {
					ns |= mStarving
				}
			}
			wake = wakeHandoff
		} else if e.q.n > 0 {
			ns |= mWaiters
		}
		if !m.state.CompareAndSwap(s, ns) {
			if w != nil {
				e.q.pushFront(w)
			}
			e.mu.Unlock()
			continue
		}
		e.mu.Unlock()
		if w != nil {
			recordReleaser(e, w.parked.Load())
			w.ch <- wake
		}
		return true
	}
}

func (m *mutexCore) holders() []uint64 {
	if s := m.state.Load(); s&mLocked != 0 {
		return []uint64{ownerOf(s)}
	}
	return nil
}

// stats reads the two counts together, under ext.mu (see mutexCore).
// Without an ext nothing has been drained yet: a drain stores the ext
// before it changes the state word.
func (m *mutexCore) stats() Stats {
	st := Stats{Acquisitions: m.state.Load() & cntMask}
	if e := m.x.Load(); e != nil {
		e.mu.Lock()
		st.Acquisitions = e.cnt.load() + m.state.Load()&cntMask
		e.mu.Unlock()
		e.slowStats(&st)
	}
	return st
}

func extName(x *atomic.Pointer[ext]) string {
	if e := x.Load(); e != nil {
		return e.name
	}
	return ""
}

func extClass(x *atomic.Pointer[ext], kind Kind) string {
	return getExt(x, kind).classOf()
}

func extID(x *atomic.Pointer[ext]) uint64 {
	if e := x.Load(); e != nil {
		return e.id.Load()
	}
	return 0
}

// threadName names a goroutine for String and reports.
func threadName(g uint64) string {
	if t := lookupThread(g); t != nil {
		return t.Name()
	}
	if g == mainGoid.Load() {
		return MainThread().Name()
	}
	return fmt.Sprintf("goroutine %d", g)
}

// describe is the shared middle of the String methods: kind, then the name
// in quotes, if any.
func describe(kind Kind, x *atomic.Pointer[ext]) string {
	if n := extName(x); n != "" {
		return fmt.Sprintf("%s %q", kind, n)
	}
	return kind.String()
}

// selfDeadlock reports goroutine g waiting on p, which it holds itself;
// format has the thread's name as %[1]s and p as %[2]s.
func selfDeadlock(p Primitive, g uint64, format string) {
	t := threadForGoid(g)
	publish(&Report{
		Kind:       ReportSelfDeadlock,
		Threads:    []*Thread{t},
		Primitives: []Primitive{p},
		Summary:    "threading: " + fmt.Sprintf("%[1]s "+format, t.Name(), p),
		Detail:     string(debugStack()),
	})
}
