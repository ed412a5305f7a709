package threading

import (
	"context"
	"fmt"
	"time"
	"unsafe"

	"github.com/petermattis/goid"
)

// Lock is Python's threading.Lock: a non-reentrant lock that any thread may
// release. The zero value is an unlocked lock, and Lock/Unlock make it a
// sync.Locker, so it replaces a sync.Mutex by changing the type alone.
type Lock struct {
	m mutexCore
}

// NewLock returns an unlocked Lock. Options: WithName.
func NewLock(opts ...Option) *Lock {
	o := buildOptions(opts)
	l := &Lock{}
	newPrimExt(l, KindLock, o)
	return l
}

func (l *Lock) registerSelf(e *ext) {
	register(e, l)
}

// Acquire blocks until the lock is taken (Python's acquire()).
func (l *Lock) Acquire() { fastLockAcquire(l, 0, 0) }

// lockAcquireFrom is Acquire in Go when g is 0. Where the assembly fast
// path is built (fastpath_amd64.s), that path jumps here with the caller's
// id in g when it could not take the lock; this is then acquireSlow.
func lockAcquireFrom(l *Lock, g uint64) {
	if raceEnabled {
		defer raceAcquire(unsafe.Pointer(l))
	}
	if g == 0 {
		g = uint64(goid.Get()) // curGoid, by hand: a call less on the fast path
		if !goidTrusted {
			g = stackGoid()
		}
		if l.m.lockFast(g) {
			if extra.Load() != 0 {
				l.acquired(g) // inlined: one call to the optional work
			}
			return
		}
	}
	l.acquireSlow(g)
}

// acquireSlow is Acquire after the fast path failed: the wait, and the
// optional work.
func (l *Lock) acquireSlow(g uint64) {
	l.m.lockSlow(l, KindLock, WaitAcquire, g, forever)
	if extra.Load() != 0 {
		l.acquired(g)
	}
}

// acquired does the optional work after an acquisition: hold sampling and the
// lock tracker.
func (l *Lock) acquired(g uint64) { acquiredExtra(&l.m.x, g, uint64(KindLock)|extraSample) }

// releasing does the optional work before a release by any thread (self,
// or 0 when the caller's id has not been read).
func (l *Lock) releasing(self uint64) { releasingExtra(l, &l.m, 0, false, self) }

// Lock is Acquire, for sync.Locker.
func (l *Lock) Lock() { fastLockAcquire(l, 0, 0) }

// TryAcquire takes the lock if it is free (Python's acquire(False)).
func (l *Lock) TryAcquire() (ok bool) {
	if raceEnabled {
		defer func() { raceAcquireIf(ok, unsafe.Pointer(l)) }()
	}
	g := curGoid()
	if l.m.tryLock(g, KindLock) {
		if extra.Load() != 0 {
			l.acquired(g)
		}
		return true
	}
	return false
}

// TryLock is TryAcquire, as sync.Mutex has it.
func (l *Lock) TryLock() bool { return l.TryAcquire() }

// AcquireTimeout waits at most d (d < 0: no limit, d == 0: no wait) and
// reports whether the lock was taken (Python's acquire(timeout=d)).
func (l *Lock) AcquireTimeout(d time.Duration) bool {
	ok, _ := l.acquire(within(d), WaitAcquire)
	return ok
}

// AcquireContext waits until the lock is taken or ctx is done (ctx.Err()),
// or the deadlock detector chose this waiter (ErrDeadlock).
func (l *Lock) AcquireContext(ctx context.Context) error {
	_, err := l.acquire(withCtx(ctx), WaitAcquire)
	return err
}

func (l *Lock) acquire(d deadline, wk WaitKind) (ok bool, err error) {
	if raceEnabled {
		defer func() { raceAcquireIf(ok, unsafe.Pointer(l)) }()
	}
	g := curGoid()
	if !l.m.lockFast(g) {
		if ok, err := l.m.lockSlow(l, KindLock, wk, g, d); !ok {
			return false, err
		}
	}
	if extra.Load() != 0 {
		l.acquired(g)
	}
	return true, nil
}

// Release unlocks the lock; any thread may release it. ErrReleaseUnlocked
// when it is not locked, and nothing changes then.
func (l *Lock) Release() error { return fastLockRelease(l, 0) }

// lockReleaseSlow is Release when its fast path (fastLockRelease: nothing
// optional on, and a CAS that finds nobody waiting) did not apply. self is
// the caller's id, or 0 when it has not been read.
func lockReleaseSlow(l *Lock, self uint64) error {
	if raceEnabled {
		raceRelease(unsafe.Pointer(l))
	}
	if extra.Load() != 0 {
		l.releasing(self)
	}
	// unlock, inlined: a call less with checking on.
	if !l.m.unlockFast() && !l.m.unlockSlow() {
		return misuse(l, "release", ErrReleaseUnlocked)
	}
	return nil
}

// Unlock is Release for sync.Locker; it panics with ErrReleaseUnlocked on an
// unlocked lock, as sync.Mutex fails.
func (l *Lock) Unlock() { fastLockUnlock(l, 0) }

// lockUnlockSlow is Unlock when its fast path did not apply: lockReleaseSlow,
// written out again (the assembly jumps here, and a call less counts when
// lock-order checking is on).
func lockUnlockSlow(l *Lock, self uint64) {
	if raceEnabled {
		raceRelease(unsafe.Pointer(l))
	}
	if extra.Load() != 0 {
		l.releasing(self)
	}
	if !l.m.unlockFast() && !l.m.unlockSlow() {
		panic(misuse(l, "release", ErrReleaseUnlocked))
	}
}

// Locked reports whether the lock is held by anyone (Python's locked()).
func (l *Lock) Locked() bool { return l.m.state.Load()&mLocked != 0 }

// Owned reports whether the calling thread is the one that acquired it.
func (l *Lock) Owned() bool {
	s := l.m.state.Load()
	return s&mLocked != 0 && ownerOf(s) == curGoid()
}

// Owner is the ident of the goroutine that acquired the lock, or 0.
func (l *Lock) Owner() uint64 {
	if s := l.m.state.Load(); s&mLocked != 0 {
		return ownerOf(s)
	}
	return 0
}

func (l *Lock) primID() uint64 { return extID(&l.m.x) }

func (l *Lock) primKind() Kind { return KindLock }

func (l *Lock) primName() string { return extName(&l.m.x) }

func (l *Lock) primClass() string { return extClass(&l.m.x, KindLock) }

// Stats returns the lock's counters.
func (l *Lock) Stats() Stats { return l.m.stats() }

func (l *Lock) holders() []uint64 { return l.m.holders() }

// String shows the state, as Python's repr: <locked Lock "db" owner=Thread-3>.
func (l *Lock) String() string {
	s := l.m.state.Load()
	if s&mLocked == 0 {
		return fmt.Sprintf("<unlocked %s>", describe(KindLock, &l.m.x))
	}
	return fmt.Sprintf("<locked %s owner=%s>", describe(KindLock, &l.m.x), threadName(ownerOf(s)))
}

// lockable implementation for Condition.
func (l *Lock) releaseSave(g uint64) (int, error) {
	if raceEnabled {
		raceRelease(unsafe.Pointer(l))
	}
	if l.Owner() != g {
		return 0, ErrNotOwner
	}
	if extra.Load() != 0 {
		l.releasing(g)
	}
	if !l.m.unlock() {
		return 0, ErrNotOwner
	}
	return 1, nil
}

func (l *Lock) acquireRestore(g uint64, _ int) {
	if raceEnabled {
		defer raceAcquire(unsafe.Pointer(l))
	}
	if !l.m.tryLock(g, KindLock) {
		l.m.lockSlow(l, KindLock, WaitReacquire, g, forever)
	}
	if extra.Load() != 0 {
		l.acquired(g)
	}
}

func (l *Lock) primitive() Primitive { return l }

func (l *Lock) setExt(e *ext) { l.m.x.Store(e) }
