package threading

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"
	"unsafe"
)

// Semaphore is Python's threading.Semaphore: a counter of permits; Acquire
// takes one, waiting while there is none; Release returns them.
type Semaphore struct {
	// value counts free permits. A release that finds parked waiters hands its
	// permits to them in FIFO order, decrementing value on their behalf, under
	// the queue lock; nwait tells a release whether to look. A waiter publishes
	// itself in nwait before re-checking value, and a release adds to value
	// before reading nwait, so (with sequentially consistent atomics) either the
	// waiter sees the permit or the release sees the waiter.
	value   atomic.Int64
	nwait   atomic.Int32
	acq     atomic.Uint64
	bound   int64 // the initial value, for a bounded semaphore
	bounded bool

	// A semaphore created with one permit is usually a mutex: owner names
	// the goroutine holding that permit, for the wait-for graph. It is
	// written only by the acquirer, and needs no locked instruction (see
	// holderCount). The first release by another goroutine (a semaphore used
	// as a signal) sets unpaired, and the owner is never named again: such
	// holders are not owners, and naming them could make the deadlock
	// detector report a cycle that the next release would break.
	binary   bool
	owner    holderCount
	unpaired atomic.Bool
	x        *ext
}

// BoundedSemaphore is Python's threading.BoundedSemaphore: a Semaphore whose
// releases may not pass the initial value (ErrTooManyReleases), through
// either type. Primitives and wait events carry the *BoundedSemaphore.
type BoundedSemaphore struct{ Semaphore }

// NewSemaphore returns a Semaphore with value permits; ErrValue for a
// negative value. Options: WithName.
func NewSemaphore(value int, opts ...Option) (*Semaphore, error) {
	s := &Semaphore{}
	if err := s.init(KindSemaphore, value, false, opts); err != nil {
		return nil, err
	}
	return s, nil
}

// NewBoundedSemaphore returns a BoundedSemaphore with value permits, at most
// value; ErrValue for a negative value.
func NewBoundedSemaphore(value int, opts ...Option) (*BoundedSemaphore, error) {
	s := &BoundedSemaphore{}
	if err := s.init(KindBoundedSemaphore, value, true, opts); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Semaphore) init(kind Kind, value int, bounded bool, opts []Option) error {
	if value < 0 {
		return valuef("semaphore initial value must be >= 0, got %d", value)
	}
	o := buildOptions(opts)
	s.value.Store(int64(value))
	s.bounded, s.bound = bounded, int64(value)
	s.binary = value == 1
	s.x = newExt(kind, o.name)
	if o.name != "" {
		s.registerSelf(s.x)
	}
	return nil
}

// self is the Semaphore or BoundedSemaphore that s is the whole of: what
// the registry, wait events and misuse reports carry, so that a type switch
// on *Semaphore or *BoundedSemaphore matches. Both types are exactly a
// semaphore (the only field, at any depth), so the addresses are the same.
func (s *Semaphore) self() Primitive {
	if s.bounded {
		return (*BoundedSemaphore)(unsafe.Pointer(s))
	}
	return (*Semaphore)(unsafe.Pointer(s))
}

func (s *Semaphore) registerSelf(e *ext) {
	if s.bounded {
		register(e, (*BoundedSemaphore)(unsafe.Pointer(s)))
	} else {
		register(e, (*Semaphore)(unsafe.Pointer(s)))
	}
}

func (s *Semaphore) tryTake() bool {
	for {
		v := s.value.Load()
		if v <= 0 {
			return false
		}
		if s.value.CompareAndSwap(v, v-1) {
			return true
		}
	}
}

// Acquire takes a permit, waiting while there is none.
func (s *Semaphore) Acquire() {
	if v := s.value.Load(); v > 0 && s.value.CompareAndSwap(v, v-1) {
		s.acq.Add(1)
		s.noteOwner(curGoid())
		return
	}
	s.acquireSlow(forever)
}

// TryAcquire takes a permit if one is free (Python's acquire(False)).
func (s *Semaphore) TryAcquire() bool {
	if s.tryTake() {
		s.acq.Add(1)
		s.noteOwner(curGoid())
		return true
	}
	return false
}

// TryLock is TryAcquire.
func (s *Semaphore) TryLock() bool { return s.TryAcquire() }

// AcquireTimeout waits at most d (d < 0: no limit) for a permit.
func (s *Semaphore) AcquireTimeout(d time.Duration) bool {
	ok, _ := s.acquireSlow(within(d))
	return ok
}

// AcquireContext waits for a permit until ctx is done (ctx.Err()).
func (s *Semaphore) AcquireContext(ctx context.Context) error {
	_, err := s.acquireSlow(withCtx(ctx))
	return err
}

// Lock is Acquire (sync.Locker), for a semaphore used as a mutex.
func (s *Semaphore) Lock() { s.Acquire() }

// Unlock is Release; it panics where Release fails.
func (s *Semaphore) Unlock() {
	if err := s.Release(); err != nil {
		panic(err)
	}
}

func (s *Semaphore) acquireSlow(d deadline) (bool, error) {
	g := curGoid()
	if s.tryTake() {
		s.acq.Add(1)
		s.noteOwner(g)
		return true, nil
	}
	if d.tryOnly() {
		return false, nil
	}
	if d.ctx != nil && d.ctx.Err() != nil {
		return false, d.ctx.Err()
	}
	e := s.x
	s.registerSelf(e)
	w := getWaiter(g)
	defer putWaiter(w)
	if d.ctx != nil {
		w.breakable = true
		w.unqueue = func() { s.nwait.Add(-1) }
	}
	e.mu.Lock()
	s.nwait.Add(1)
	if s.tryTake() {
		s.nwait.Add(-1)
		e.mu.Unlock()
		s.acq.Add(1)
		s.noteOwner(g)
		return true, nil
	}
	e.q.pushBack(w)
	e.mu.Unlock()
	rec := beginWait(s.self(), e.meta, WaitAcquire, g, 0, d)
	rec.t = w.t
	r, out := park(w, d, &rec)
	if r == 0 {
		if e.withdraw(w, func() { s.nwait.Add(-1) }) {
			rec.end(out)
			return false, gaveUp(out, d)
		}
		r = <-w.ch // a permit was handed over as the deadline passed
	}
	if r == wakeDeadlock {
		rec.end(OutcomeDeadlock)
		return false, ErrDeadlock
	}
	rec.end(OutcomeAcquired)
	s.acq.Add(1)
	s.noteOwner(g)
	return true, nil
}

// Release returns one permit.
func (s *Semaphore) Release() error { return s.ReleaseN(1) }

// ReleaseN returns n permits (Python's release(n)); ErrValue for n < 1,
// ErrTooManyReleases when a BoundedSemaphore would pass its initial value.
// Nothing changes when it fails.
func (s *Semaphore) ReleaseN(n int) error {
	if n < 1 {
		return misuse(s.self(), "release", valuef("release(n) needs n >= 1, got %d", n))
	}
	if s.bounded {
		for {
			v := s.value.Load()
			if v+int64(n) > s.bound {
				return misuse(s.self(), "release", ErrTooManyReleases)
			}
			if s.value.CompareAndSwap(v, v+int64(n)) {
				break
			}
		}
	} else {
		s.value.Add(int64(n))
	}
	if s.binary && !s.unpaired.Load() {
		if g := curGoid(); s.owner.load() == g {
			s.owner.store(0)
		} else {
			s.unpaired.Store(true)
		}
	}
	if s.nwait.Load() > 0 {
		s.handOff()
	}
	return nil
}

// handOff gives free permits to parked waiters, oldest first.
func (s *Semaphore) handOff() {
	e := s.x
	parked := false // a waiter handed a permit had parked (read before its wake)
	e.mu.Lock()
	for e.q.head != nil && s.tryTake() {
		w := e.q.popFront()
		s.nwait.Add(-1)
		parked = parked || w.parked.Load()
		w.ch <- wakeGranted
	}
	e.mu.Unlock()
	recordReleaser(e, parked)
}

// Value is the number of free permits.
func (s *Semaphore) Value() int { return int(s.value.Load()) }

func (s *Semaphore) primID() uint64 { return s.x.id.Load() }

func (s *Semaphore) primKind() Kind { return s.x.kind }

func (s *Semaphore) primName() string { return s.x.name }

func (s *Semaphore) primClass() string { return s.x.classOf() }

// Stats returns the semaphore's counters.
func (s *Semaphore) Stats() Stats {
	st := Stats{Acquisitions: s.acq.Load()}
	s.x.slowStats(&st)
	return st
}

// noteOwner records the acquirer of a binary semaphore's permit.
func (s *Semaphore) noteOwner(g uint64) {
	if s.binary {
		s.owner.store(g)
	}
}

func (s *Semaphore) holders() []uint64 {
	if !s.binary || s.unpaired.Load() {
		return nil
	}
	if g := s.owner.load(); g != 0 && s.value.Load() <= 0 {
		return []uint64{g}
	}
	return nil
}

// String is Python's repr: <Semaphore: value=3>, <BoundedSemaphore: value=2/3>.
func (s *Semaphore) String() string {
	name := quotedName(s.x.meta)
	if s.x.kind == KindBoundedSemaphore {
		return fmt.Sprintf("<%s%s: value=%d/%d>", s.x.kind, name, s.value.Load(), s.bound)
	}
	return fmt.Sprintf("<%s%s: value=%d>", s.x.kind, name, s.value.Load())
}
