package threading

import (
	"context"
	"fmt"
	"time"
	"unsafe"

	"github.com/petermattis/goid"
)

// RLock is Python's threading.RLock: a reentrant lock. The thread that holds
// it may acquire it again; it is free once released as many times. Only the
// owner may release it. The zero value is an unlocked RLock.
type RLock struct {
	m     mutexCore
	count holderCount // recursion level; written by the owner only
}

// NewRLock returns an unlocked RLock. Options: WithName.
func NewRLock(opts ...Option) *RLock {
	o := buildOptions(opts)
	l := &RLock{}
	newPrimExt(l, KindRLock, o)
	return l
}

func (l *RLock) registerSelf(e *ext) {
	register(e, l)
}

// Acquire blocks until the calling thread holds the lock, and raises the
// recursion level by one.
func (l *RLock) Acquire() { fastRLockAcquire(l, 0, 0) }

// rlockAcquireFrom is Acquire in Go when g is 0, and where the assembly fast
// path jumps with the caller's id in g when it could not take the lock
// (held by another, or already by the caller: a recursion).
func rlockAcquireFrom(l *RLock, g uint64) {
	if raceEnabled {
		defer raceAcquire(unsafe.Pointer(l))
	}
	if g == 0 {
		g = uint64(goid.Get()) // curGoid, by hand: a call less on the fast path
		if !goidTrusted {
			g = stackGoid()
		}
		if l.m.lockFast(g) {
			l.count.store(1)
			if extra.Load() != 0 {
				l.acquired(g)
			}
			return
		}
	}
	l.acquireSlow(g, forever, WaitAcquire)
}

// acquired does the optional work after an outermost acquisition.
func (l *RLock) acquired(g uint64) { acquiredExtra(&l.m.x, g, uint64(KindRLock)|extraSample) }

// releasing does the optional work before the outermost release.
func (l *RLock) releasing(g uint64) { releasingExtra(l, &l.m, g, false, g) }

// acquireAnnotated is acquireSlow with the race annotations of an acquire.
func (l *RLock) acquireAnnotated(g uint64, d deadline, wk WaitKind) (ok bool, err error) {
	if raceEnabled {
		defer func() { raceAcquireIf(ok, unsafe.Pointer(l)) }()
	}
	return l.acquireSlow(g, d, wk)
}

func (l *RLock) acquireSlow(g uint64, d deadline, wk WaitKind) (bool, error) {
	if raceEnabled {
		raceDisable() // a look at the owner is no synchronisation
	}
	s := l.m.state.Load()
	if raceEnabled {
		raceEnable()
	}
	if s&mLocked != 0 && ownerOf(s) == g {
		l.count.inc()
		return true, nil
	}
	ok, err := l.m.lockSlow(l, KindRLock, wk, g, d)
	if ok {
		l.count.store(1)
		if extra.Load() != 0 {
			l.acquired(g)
		}
	}
	return ok, err
}

// Lock is Acquire, for sync.Locker.
func (l *RLock) Lock() { fastRLockAcquire(l, 0, 0) }

// TryAcquire takes the lock if it is free or already the caller's.
func (l *RLock) TryAcquire() bool {
	ok, _ := l.acquireAnnotated(curGoid(), within(0), WaitAcquire)
	return ok
}

// TryLock is TryAcquire.
func (l *RLock) TryLock() bool { return l.TryAcquire() }

// AcquireTimeout waits at most d (d < 0: no limit) and reports success.
func (l *RLock) AcquireTimeout(d time.Duration) bool {
	ok, _ := l.acquireAnnotated(curGoid(), within(d), WaitAcquire)
	return ok
}

// AcquireContext waits until the lock is held or ctx is done (ctx.Err()), or
// the deadlock detector chose this waiter (ErrDeadlock).
func (l *RLock) AcquireContext(ctx context.Context) error {
	_, err := l.acquireAnnotated(curGoid(), withCtx(ctx), WaitAcquire)
	return err
}

// Release lowers the recursion level, and unlocks at zero. ErrNotOwner when
// the caller does not hold it; nothing changes then.
func (l *RLock) Release() error { return fastRLockRelease(l) }

// rlockRelease is Release in Go, and where the assembly fast path jumps
// when it does not apply.
func rlockRelease(l *RLock) error {
	if raceEnabled {
		raceRelease(unsafe.Pointer(l))
	}
	g := uint64(goid.Get()) // curGoid, by hand, as in Acquire
	if !goidTrusted {
		g = stackGoid()
	}
	s := l.m.state.Load()
	if s&mLocked == 0 || ownerOf(s) != g {
		return misuse(l, "release", ErrNotOwner)
	}
	if c := l.count.load(); c > 1 {
		l.count.store(c - 1)
		return nil
	}
	if extra.Load() != 0 {
		l.releasing(g)
	}
	l.count.store(0)
	// Nobody waits (the common case): the word just loaded is still the
	// one to replace, and unlock would only load it again.
	if s&mWaiters != 0 || !l.m.state.CompareAndSwap(s, s&cntMask) {
		l.m.unlock()
	}
	return nil
}

// Unlock is Release; it panics with ErrNotOwner where Release fails.
func (l *RLock) Unlock() {
	if err := fastRLockRelease(l); err != nil {
		panic(err)
	}
}

// Locked reports whether anyone holds the lock.
func (l *RLock) Locked() bool { return l.m.state.Load()&mLocked != 0 }

// Owned reports whether the caller holds it (Python's _is_owned()).
func (l *RLock) Owned() bool {
	s := l.m.state.Load()
	return s&mLocked != 0 && ownerOf(s) == curGoid()
}

// RecursionCount is the caller's recursion level: 0 unless it owns the lock
// (Python's _recursion_count()).
func (l *RLock) RecursionCount() int {
	if !l.Owned() {
		return 0
	}
	return int(l.count.load())
}

// Owner is the ident of the holding goroutine, or 0.
func (l *RLock) Owner() uint64 {
	if s := l.m.state.Load(); s&mLocked != 0 {
		return ownerOf(s)
	}
	return 0
}

func (l *RLock) primID() uint64 { return extID(&l.m.x) }

func (l *RLock) primKind() Kind { return KindRLock }

func (l *RLock) primName() string { return extName(&l.m.x) }

func (l *RLock) primClass() string { return extClass(&l.m.x, KindRLock) }

// Stats returns the lock's counters.
func (l *RLock) Stats() Stats { return l.m.stats() }

func (l *RLock) holders() []uint64 { return l.m.holders() }

// String shows the state and the owner's recursion level, from any thread:
// <locked RLock "cache" owner=Thread-2 count=2>.
func (l *RLock) String() string {
	s := l.m.state.Load()
	if s&mLocked == 0 {
		return fmt.Sprintf("<unlocked %s count=0>", describe(KindRLock, &l.m.x))
	}
	return fmt.Sprintf("<locked %s owner=%s count=%d>", describe(KindRLock, &l.m.x), threadName(ownerOf(s)), l.count.load())
}

// releaseSave releases the lock fully and returns the level to restore
// (Python's _release_save()).
func (l *RLock) releaseSave(g uint64) (int, error) {
	if raceEnabled {
		raceRelease(unsafe.Pointer(l))
	}
	if l.Owner() != g {
		return 0, ErrNotOwner
	}
	if extra.Load() != 0 {
		l.releasing(g)
	}
	c := l.count.load()
	l.count.store(0)
	l.m.unlock()
	return int(c), nil
}

func (l *RLock) acquireRestore(g uint64, c int) {
	if raceEnabled {
		defer raceAcquire(unsafe.Pointer(l))
	}
	if !l.m.tryLock(g, KindRLock) {
		l.m.lockSlow(l, KindRLock, WaitReacquire, g, forever)
	}
	l.count.store(uint64(c))
	if extra.Load() != 0 {
		l.acquired(g)
	}
}

func (l *RLock) primitive() Primitive { return l }

func (l *RLock) setExt(e *ext) { l.m.x.Store(e) }
