package threading

import (
	"fmt"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/petermattis/goid"
)

// RWLock is a reader/writer lock and a drop-in for sync.RWMutex (a Go
// addition; Python has none), instrumented like the other locks. The zero
// value is unlocked.
type RWLock struct {
	// It follows sync.RWMutex's algorithm: readerCount counts readers and
	// drops by rwMaxReaders while a writer is pending, so readers that arrive
	// then wait; readerWait counts the readers the pending writer still waits
	// for. Writers exclude each other with an instrumented mutexCore.
	w           mutexCore
	readerCount atomic.Int32
	readerWait  atomic.Int32
	readers     holderSlots
	// The semaphores that readers and a writer wait on are in the ext
	// (ext.rw), made on first contention: 64 bytes in all, one cache line.
}

const rwMaxReaders = 1 << 30

// errRUnlock and errUnlock are what RUnlock and Unlock panic with on misuse.
var (
	errRUnlock = runtimeErr("RUnlock of unlocked RWLock")
	errUnlock  = runtimeErr("Unlock of unlocked RWLock")
)

// NewRWLock returns an unlocked RWLock. Options: WithName.
func NewRWLock(opts ...Option) *RWLock {
	o := buildOptions(opts)
	rw := &RWLock{}
	newPrimExt(rw, KindRWLock, o)
	return rw
}

func (rw *RWLock) registerSelf(e *ext) {
	register(e, rw)
}

// RLock locks for reading.
func (rw *RWLock) RLock() { fastRWRLock(rw, 0) }

// rwRLockFrom is RLock in Go, and the assembly fast path's fallback: all of
// it when r is 0, or what follows the reader count's add when that add
// returned r (never 0: a count of 0 after adding a reader is impossible).
func rwRLockFrom(rw *RWLock, r int32) {
	if raceEnabled {
		// Readers touch shared atomics (the count, the holder slots) that
		// would make each synchronise with the others; as with
		// sync.RWMutex, they must not.
		raceDisable()
	}
	// The id first: from the count's add to the slot's store, the lock's
	// cache line should stay in this core's cache. It is curGoid inlined
	// by hand (its fallback's call puts curGoid over the inliner's budget).
	g := uint64(goid.Get())
	if !goidTrusted {
		g = stackGoid()
	}
	if r == 0 {
		r = rw.readerCount.Add(1)
	}
	if r == 1 {
		rw.readers.addFirst(g, &rw.w.x)
	} else if r > 1 {
		rw.readers.add(g, &rw.w.x)
	} else {
		if raceEnabled {
			raceEnable()
		}
		rw.rlockSlow()
		if raceEnabled {
			raceDisable()
		}
		rw.readers.add(g, &rw.w.x)
	}
	if raceEnabled {
		raceEnable()
		raceAcquire(rw.raceReaders())
	}
	// The tracker runs with the race detector on: its own locks must
	// synchronise.
	if extra.Load()&trackBit != 0 {
		trackAcquired(&rw.w.x, KindRWLock, g, true)
	}
}

// rwRLockTracked is the end of RLock when lock-order checking is on; the
// assembly fast path jumps to it once the reader is in its slot.
func rwRLockTracked(rw *RWLock, _ int32) {
	trackAcquired(&rw.w.x, KindRWLock, curGoid(), true)
}

func (rw *RWLock) rlockSlow() {
	e := getExt(&rw.w.x, KindRWLock)
	rw.registerSelf(e)
	g := curGoid()
	w := rw.writer()
	switch {
	case w == g:
		selfDeadlock(rw, g, "read-locks %[2]s, which it holds for writing: the write lock is never released while it waits")
	case rw.readers.contains(g):
		selfDeadlock(rw, g, "read-locks %[2]s again, which it already holds for reading, while a writer waits: the writer waits for it to read-unlock, and it waits behind the writer (read locks are not reentrant once a writer queues)")
	}
	if extra.Load()&trackBit != 0 {
		trackAttempt(&rw.w.x, KindRWLock, g, true)
	}
	rec := beginWait(rw, e.meta, WaitRead, g, w, forever)
	rw.semas().reader.acquire(g, &rec)
	rec.end(OutcomeAcquired)
}

// TryRLock locks for reading if no writer holds or waits for the lock.
func (rw *RWLock) TryRLock() bool {
	if raceEnabled {
		raceDisable()
	}
	for {
		c := rw.readerCount.Load()
		if c < 0 {
			if raceEnabled {
				raceEnable()
			}
			return false
		}
		if rw.readerCount.CompareAndSwap(c, c+1) {
			if c == 0 {
				rw.readers.addFirst(curGoid(), &rw.w.x)
			} else {
				rw.readers.add(curGoid(), &rw.w.x)
			}
			if raceEnabled {
				raceEnable()
				raceAcquire(rw.raceReaders())
			}
			if extra.Load()&trackBit != 0 {
				trackAcquired(&rw.w.x, KindRWLock, curGoid(), true)
			}
			return true
		}
	}
}

// RUnlock undoes one RLock; it panics when there is no reader.
func (rw *RWLock) RUnlock() { fastRWRUnlock(rw, 0) }

// rwRUnlockFrom is RUnlock in Go, and the assembly fast path's fallback:
// all of it when r is 0, or, when r is negative, what follows the reader
// count's add that returned r (a writer waits, or there was no reader).
func rwRUnlockFrom(rw *RWLock, r int32) {
	if r < 0 {
		rw.runlockSlow(r)
		return
	}
	g := uint64(goid.Get()) // curGoid, before the lock's line is touched, as in RLock
	if !goidTrusted {
		g = stackGoid()
	}
	if extra.Load()&trackBit != 0 {
		trackReleased(&rw.w, g, true)
	}
	if raceEnabled {
		raceReleaseMerge(rw.raceWriter())
		raceDisable()
	}
	if h := &rw.readers; !h.unpaired.Load() {
		h.remove(g)
	}
	r = rw.readerCount.Add(-1)
	if raceEnabled {
		raceEnable()
	}
	if r < 0 {
		rw.runlockSlow(r)
	}
}

func (rw *RWLock) runlockSlow(r int32) {
	if r+1 == 0 || r+1 == -rwMaxReaders {
		rw.readerCount.Add(1) // change nothing
		panic(misuse(rw, "runlock", errRUnlock))
	}
	if rw.readerWait.Add(-1) == 0 {
		rw.semas().writer.release(1) // the last departing reader lets the writer in
	}
}

// Lock locks for writing, waiting for other writers and for readers.
func (rw *RWLock) Lock() { fastRWLock(rw, -1) }

// rwLockFrom is Lock in Go, and the assembly fast path's fallback: all of it
// when r is negative, or, with the write lock taken by the fast path, what
// follows the reader count's add, which found r readers (r > 0).
func rwLockFrom(rw *RWLock, r int32) {
	if raceEnabled {
		defer rw.raceLocked()
	}
	g := curGoid()
	slow := false
	if r < 0 {
		slow = !rw.w.lockFast(g)
		if slow {
			rw.w.lockSlow(rw, KindRWLock, WaitAcquire, g, forever)
		}
		r = rw.readerCount.Add(-rwMaxReaders) + rwMaxReaders
	}
	if r != 0 && rw.readerWait.Add(r) != 0 {
		if extra.Load() != 0 && !slow {
			trackAttempt(&rw.w.x, KindRWLock, g, false)
		}
		e := getExt(&rw.w.x, KindRWLock)
		rw.registerSelf(e)
		if rw.readers.contains(g) {
			selfDeadlock(rw, g, "write-locks %[2]s, which it holds for reading: the write lock waits for every reader to leave, itself included")
		}
		rec := beginWait(rw, e.meta, WaitAcquire, g, 0, forever)
		rec.drain = true // waits on the readers, not on a writer
		rw.semas().writer.acquire(g, &rec)
		rec.end(OutcomeAcquired)
	}
	if extra.Load() != 0 {
		acquiredExtra(&rw.w.x, g, uint64(KindRWLock)|extraSample)
	}
}

// TryLock locks for writing if the lock is free.
func (rw *RWLock) TryLock() (ok bool) {
	if raceEnabled {
		defer func() {
			if ok {
				rw.raceLocked()
			}
		}()
	}
	if !rw.w.tryLock(curGoid(), KindRWLock) {
		return false
	}
	if !rw.readerCount.CompareAndSwap(0, -rwMaxReaders) {
		rw.w.uncount()
		rw.w.unlock()
		return false
	}
	if extra.Load() != 0 {
		trackAcquired(&rw.w.x, KindRWLock, curGoid(), false)
	}
	return true
}

// Unlock undoes Lock; it panics when the lock is not locked for writing.
func (rw *RWLock) Unlock() { fastRWUnlock(rw, -1) }

// rwUnlockFrom is Unlock in Go, and the assembly fast path's fallback: all
// of it when r is negative, or what follows the reader count's add, which
// returned r (readers queued behind the writer, a misuse, or, with r 0, the
// write lock's release found a waiter).
func rwUnlockFrom(rw *RWLock, r int32) {
	if r < 0 {
		if raceEnabled {
			raceRelease(rw.raceReaders())
		}
		r = rw.readerCount.Add(rwMaxReaders)
	}
	if r >= rwMaxReaders {
		rw.readerCount.Add(-rwMaxReaders) // change nothing
		panic(misuse(rw, "unlock", errUnlock))
	}
	if extra.Load() != 0 {
		releasingExtra(rw, &rw.w, 0, false, 0) // the writer, still holding w
	}
	if r > 0 {
		rw.semas().reader.release(int(r)) // the readers that queued behind this writer
	}
	rw.w.unlock()
}

// The race annotations of readers and writers need addresses that no lock
// or atomic uses as a synchronisation object. sync.RWMutex uses its
// semaphores'; ours are in the ext, which a zero RWLock has not made yet.
// So they are addresses inside readerCount, one and two bytes in: the race
// detector keys a synchronisation object by its exact address, and the
// atomics on readerCount use the address of its first byte. A writer's
// unlock releases to later readers at raceReaders; every reader's unlock
// merges into raceWriter, which the next writer acquires.
func (rw *RWLock) raceReaders() unsafe.Pointer {
	return unsafe.Add(unsafe.Pointer(&rw.readerCount), 1)
}

func (rw *RWLock) raceWriter() unsafe.Pointer {
	return unsafe.Add(unsafe.Pointer(&rw.readerCount), 2)
}

// raceLocked annotates a write lock: the writer sees what every earlier
// writer (raceReaders) and reader (raceWriter) did.
func (rw *RWLock) raceLocked() {
	raceAcquire(rw.raceReaders())
	raceAcquire(rw.raceWriter())
}

// RLocker returns a sync.Locker whose Lock and Unlock are RLock and RUnlock.
func (rw *RWLock) RLocker() sync.Locker { return (*rlocker)(rw) }

type rlocker RWLock

func (r *rlocker) Lock()   { (*RWLock)(r).RLock() }
func (r *rlocker) Unlock() { (*RWLock)(r).RUnlock() }

// writer is the ident of the writer holding or waiting for the lock, or 0.
func (rw *RWLock) writer() uint64 {
	if s := rw.w.state.Load(); s&mLocked != 0 {
		return ownerOf(s)
	}
	return 0
}

// Readers is the number of readers holding the lock now.
func (rw *RWLock) Readers() int {
	c := rw.readerCount.Load()
	if c < 0 {
		c += rwMaxReaders
	}
	return int(c)
}

func (rw *RWLock) primID() uint64 { return extID(&rw.w.x) }

func (rw *RWLock) primKind() Kind { return KindRWLock }

func (rw *RWLock) primName() string { return extName(&rw.w.x) }

func (rw *RWLock) primClass() string { return extClass(&rw.w.x, KindRWLock) }

// Stats: Acquisitions counts read and write locks.
func (rw *RWLock) Stats() Stats {
	s := rw.w.stats()
	s.Acquisitions += rw.readers.acquisitions()
	if e := rw.w.x.Load(); e != nil {
		s.Acquisitions += e.acq.Load()
	}
	return s
}

func (rw *RWLock) holders() []uint64 {
	if rw.readerCount.Load() < 0 && rw.readerWait.Load() <= 0 {
		if g := rw.writer(); g != 0 {
			return []uint64{g}
		}
	}
	named, _ := rw.readerState()
	return named
}

// readerState returns the readers named now and how many more hold the lock
// for reading unnamed (-1: unknown, naming is off for this lock). Names
// that do not fit the count (a read lock released by another goroutine
// just now) are dropped: the graph may miss a reader, it never names a
// wrong one.
func (rw *RWLock) readerState() (named []uint64, unnamed int) {
	named, unnamed = rw.readers.list()
	n := rw.Readers()
	if unnamed < 0 {
		if n == 0 {
			return nil, 0
		}
		return nil, -1
	}
	if len(named) > n {
		return nil, n
	}
	return named, n - len(named)
}

// rwState is plumb.RWState: the writer holding or waiting for the lock (0
// if none), the readers named, and how many more readers hold it unnamed
// (-1 if unknown).
func rwState(p any) (writer uint64, readers []uint64, unnamed int, ok bool) {
	rw, ok := p.(*RWLock)
	if !ok {
		return 0, nil, 0, false
	}
	readers, unnamed = rw.readerState()
	return rw.writer(), readers, unnamed, true
}

// String shows the state: <RWLock "cfg": readers=2 writer=none>.
func (rw *RWLock) String() string {
	w := "none"
	if g := rw.writer(); g != 0 {
		w = threadName(g)
	}
	return fmt.Sprintf("<%s: readers=%d writer=%s>", describe(KindRWLock, &rw.w.x), rw.Readers(), w)
}

// rwSemas are an RWLock's hand-offs: to the readers that queued behind a
// writer, and to the writer from the last reader it waited for.
type rwSemas struct{ reader, writer sema }

// semas returns the lock's hand-offs, making them (and its ext) on first
// use; after that, a wait allocates nothing.
func (rw *RWLock) semas() *rwSemas {
	e := getExt(&rw.w.x, KindRWLock)
	if s := e.rw.Load(); s != nil {
		return s
	}
	e.rw.CompareAndSwap(nil, new(rwSemas))
	return e.rw.Load()
}

// sema is a plain counting semaphore for RWLock's internal hand-offs.
type sema struct {
	mu sync.Mutex
	n  int
	q  waitQueue
}

func (s *sema) acquire(g uint64, sc *waitScope) {
	s.mu.Lock()
	if s.n > 0 {
		s.n--
		s.mu.Unlock()
		return
	}
	w := getWaiter(g)
	s.q.pushBack(w)
	s.mu.Unlock()
	sc.t = w.t
	park(w, forever, sc)
	putWaiter(w)
}

func (s *sema) release(k int) {
	s.mu.Lock()
	for ; k > 0; k-- {
		w := s.q.popFront()
		if w == nil {
			break
		}
		w.ch <- wakeGranted
	}
	s.n += k
	s.mu.Unlock()
}

func (rw *RWLock) setExt(e *ext) { rw.w.x.Store(e) }
