package threading

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"
)

// baseLock is what BaseLockTests needs of Lock, RLock and Condition-as-lock.
type baseLock interface {
	sync.Locker
	Acquire()
	TryAcquire() bool
	AcquireTimeout(time.Duration) bool
	AcquireContext(context.Context) error
	Release() error
	Locked() bool
	String() string
}

var lockTypes = []struct {
	name string
	make func() baseLock
}{
	{"Lock", func() baseLock { return NewLock() }},
	{"RLock", func() baseLock { return NewRLock() }},
	{"Condition", func() baseLock { return NewCondition(nil) }},
}

func forEachLock(t *testing.T, f func(t *testing.T, newLock func() baseLock)) {
	for _, lt := range lockTypes {
		t.Run(lt.name, func(t *testing.T) { f(t, lt.make) })
	}
}

// BaseLockTests.test_constructor
func TestBaseLockConstructor(t *testing.T) {
	forEachLock(t, func(t *testing.T, newLock func() baseLock) {
		if l := newLock(); l.Locked() {
			t.Fatal("a new lock is locked")
		}
	})
	var l Lock // the zero value works too
	l.Acquire()
	if err := l.Release(); err != nil {
		t.Fatal(err)
	}
}

// BaseLockTests.test_constructor_noargs [A] and ThreadTests.test_lock_no_args,
// CRLockTests.test_signature: the constructors take only Options, so
// Lock(1) or RLock(a=1) do not compile; an option that does not apply is
// ignored, and nothing else can be passed.
func TestLockConstructorOptionsOnly(t *testing.T) {
	l := NewLock(WithName("db"), WithDaemon(true), nil)
	if l.primName() != "db" {
		t.Fatalf("name %q", l.primName())
	}
	r := NewRLock(WithName("cache"))
	if r.primName() != "cache" {
		t.Fatalf("name %q", r.primName())
	}
}

// BaseLockTests.test_repr and test_locked_repr [A]
func TestBaseLockRepr(t *testing.T) {
	forEachLock(t, func(t *testing.T, newLock func() baseLock) {
		l := newLock()
		if s := l.String(); !strings.Contains(s, "<unlocked") {
			t.Errorf("unlocked repr %q", s)
		}
		l.Acquire()
		if s := l.String(); !strings.Contains(s, "<locked") {
			t.Errorf("locked repr %q", s)
		}
		_ = l.Release()
	})
	l := NewLock(WithName("db"))
	th := NewThread(func(context.Context) error { l.Acquire(); return nil }, WithName("Thread-3"))
	_ = th.Start()
	_ = th.Join()
	if got, want := l.String(), `<locked Lock "db" owner=`; !strings.HasPrefix(got, want) {
		t.Errorf("repr %q, want prefix %q", got, want)
	}
	_ = l.Release()
}

// BaseLockTests.test_acquire_release
func TestBaseLockAcquireRelease(t *testing.T) {
	forEachLock(t, func(t *testing.T, newLock func() baseLock) {
		l := newLock()
		l.Acquire()
		if err := l.Release(); err != nil {
			t.Fatal(err)
		}
	})
}

// BaseLockTests.test_try_acquire
func TestBaseLockTryAcquire(t *testing.T) {
	forEachLock(t, func(t *testing.T, newLock func() baseLock) {
		l := newLock()
		if !l.TryAcquire() {
			t.Fatal("TryAcquire on a free lock failed")
		}
		_ = l.Release()
	})
}

// BaseLockTests.test_try_acquire_contended
func TestBaseLockTryAcquireContended(t *testing.T) {
	forEachLock(t, func(t *testing.T, newLock func() baseLock) {
		l := newLock()
		l.Acquire()
		var got bool
		b := newBunch(t, 1, func(int) { got = l.TryAcquire() }, false)
		b.wait(t)
		if got {
			t.Fatal("another thread's TryAcquire succeeded on a held lock")
		}
		_ = l.Release()
	})
}

// BaseLockTests.test_acquire_contended
func TestBaseLockAcquireContended(t *testing.T) {
	forEachLock(t, func(t *testing.T, newLock func() baseLock) {
		l := newLock()
		l.Acquire()
		const n = 5
		b := newBunch(t, n, func(int) { l.Acquire(); _ = l.Release() }, false)
		waitBlocked(5)
		if f := b.finished.Load(); f != 0 {
			t.Fatalf("%d threads finished while the lock was held", f)
		}
		_ = l.Release()
		b.wait(t)
		if f := b.finished.Load(); f != n {
			t.Fatalf("%d of %d finished", f, n)
		}
	})
}

// BaseLockTests.test_with: the lock is released on normal exit and when the
// body panics, and the panic propagates.
func TestBaseLockWith(t *testing.T) {
	forEachLock(t, func(t *testing.T, newLock func() baseLock) {
		l := newLock()
		checkFree := func() {
			b := newBunch(t, 1, func(int) { l.Acquire(); _ = l.Release() }, false)
			b.wait(t)
		}
		with := func(body func()) {
			l.Lock()
			defer l.Unlock()
			body()
		}
		with(func() {})
		checkFree()
		func() {
			defer func() {
				if r := recover(); r != "TypeError" {
					t.Errorf("recovered %v", r)
				}
			}()
			with(func() { panic("TypeError") })
		}()
		checkFree()
	})
}

// BaseLockTests.test_thread_leak [A]: goroutines that never registered leave
// no entries in Enumerate.
func TestBaseLockThreadLeak(t *testing.T) {
	forEachLock(t, func(t *testing.T, newLock func() baseLock) {
		before := len(Enumerate())
		l := newLock()
		b := newBunch(t, 15, func(int) { l.Acquire(); _ = l.Release() }, false)
		b.wait(t)
		eventually(t, "enumerate back to its length", func() bool {
			lastPrune.Store(0) // allow a prune now
			return len(Enumerate()) <= before
		})
	})
}

// BaseLockTests.test_timeout: TimeoutMax is accepted; a free lock is taken at
// once; a held lock times out after about the timeout. (Python's ValueError
// for acquire(False, 1) and its OverflowError cannot be written in Go:
// TryAcquire takes no timeout and TimeoutMax is the largest Duration.)
func TestBaseLockTimeout(t *testing.T) {
	forEachLock(t, func(t *testing.T, newLock func() baseLock) {
		l := newLock()
		if !l.AcquireTimeout(TimeoutMax) {
			t.Fatal("AcquireTimeout(TimeoutMax) failed on a free lock")
		}
		_ = l.Release()
		start := time.Now()
		if !l.AcquireTimeout(5 * time.Second) {
			t.Fatal("AcquireTimeout failed on a free lock")
		}
		if d := time.Since(start); d > time.Second {
			t.Fatalf("took %v on a free lock", d)
		}
		var took time.Duration
		var got bool
		b := newBunch(t, 1, func(int) {
			s := time.Now()
			got = l.AcquireTimeout(500 * time.Millisecond)
			took = time.Since(s)
		}, false)
		b.wait(t)
		if got {
			t.Fatal("a held lock was acquired")
		}
		assertTimeout(t, took, 500*time.Millisecond)
		_ = l.Release()
	})
}

// Lock.acquire(timeout=-1) means forever (a gap in CPython's tests).
func TestLockNegativeTimeoutWaits(t *testing.T) {
	forEachLock(t, func(t *testing.T, newLock func() baseLock) {
		l := newLock()
		l.Acquire()
		var got bool
		b := newBunch(t, 1, func(int) { got = l.AcquireTimeout(-1); _ = l.Release() }, false)
		time.Sleep(50 * time.Millisecond)
		if b.finished.Load() != 0 {
			t.Fatal("AcquireTimeout(-1) returned while the lock was held")
		}
		_ = l.Release()
		b.wait(t)
		if !got {
			t.Fatal("AcquireTimeout(-1) returned false")
		}
	})
}

// AcquireContext returns ctx.Err() when the context ends first, and changes
// nothing.
func TestLockAcquireContext(t *testing.T) {
	forEachLock(t, func(t *testing.T, newLock func() baseLock) {
		l := newLock()
		l.Acquire()
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		defer cancel()
		var err error
		b := newBunch(t, 1, func(int) { err = l.AcquireContext(ctx) }, false)
		b.wait(t)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err %v", err)
		}
		if !l.Locked() {
			t.Fatal("lock state changed")
		}
		_ = l.Release()
		if err := l.AcquireContext(context.Background()); err != nil {
			t.Fatal(err)
		}
		_ = l.Release()
	})
}

// LockTests.test_reacquire: a plain Lock is not reentrant; a second acquire
// by its holder blocks until another thread releases it.
func TestLockReacquire(t *testing.T) {
	l := NewLock()
	var phase atomicInt
	b := newBunch(t, 1, func(int) {
		l.Acquire()
		phase.add(1)
		l.Acquire()
		phase.add(1)
	}, false)
	eventually(t, "first acquire", func() bool { return phase.get() == 1 })
	waitWaiters(t, l, 1)
	if phase.get() != 1 {
		t.Fatal("the second acquire did not block")
	}
	_ = l.Release()
	b.wait(t)
	if phase.get() != 2 {
		t.Fatal("the second acquire did not complete")
	}
	_ = l.Release()
}

// LockTests.test_different_thread: a Lock may be released by another thread.
func TestLockDifferentThread(t *testing.T) {
	l := NewLock()
	l.Acquire()
	var err error
	b := newBunch(t, 1, func(int) { err = l.Release() }, false)
	b.wait(t)
	if err != nil {
		t.Fatal(err)
	}
	l.Acquire()
	_ = l.Release()
}

// LockTests.test_state_after_timeout
func TestLockStateAfterTimeout(t *testing.T) {
	l := NewLock()
	l.Acquire()
	var got bool
	b := newBunch(t, 1, func(int) { got = l.AcquireTimeout(10 * time.Millisecond) }, false)
	b.wait(t)
	if got {
		t.Fatal("acquired a held lock")
	}
	_ = l.Release()
	if l.Locked() {
		t.Fatal("locked after release")
	}
	if !l.TryAcquire() {
		t.Fatal("TryAcquire failed after a timed-out waiter")
	}
	_ = l.Release()
}

// ThreadingExceptionTests.test_releasing_unacquired_lock
func TestLockReleaseUnlocked(t *testing.T) {
	var l Lock
	err := l.Release()
	if !errors.Is(err, ErrReleaseUnlocked) || !errors.Is(err, ErrRuntime) {
		t.Fatalf("err %v", err)
	}
	if l.Locked() {
		t.Fatal("state changed")
	}
	defer func() {
		if r := recover(); r != ErrReleaseUnlocked {
			t.Fatalf("Unlock panicked with %v", r)
		}
	}()
	l.Unlock()
}

type atomicInt struct {
	mu sync.Mutex
	n  int
}

func (a *atomicInt) add(d int) { a.mu.Lock(); a.n += d; a.mu.Unlock() }
func (a *atomicInt) get() int  { a.mu.Lock(); defer a.mu.Unlock(); return a.n }

// The budgets in DESIGN.md: a Lock fits in 16 bytes, an RWLock in one
// cache line, with or without the race detector.
func TestSizes(t *testing.T) {
	if n := unsafe.Sizeof(Lock{}); n > 16 {
		t.Errorf("Lock is %d bytes, budget 16", n)
	}
	if n := unsafe.Sizeof(RWLock{}); n > 64 {
		t.Errorf("RWLock is %d bytes, budget 64", n)
	}
}

// The inline acquisition count carries into the ext without losing any,
// through every way of taking a lock, and a failed RWLock.TryLock takes its
// count back, also across a carry.
func TestAcquisitionsCarry(t *testing.T) {
	var l Lock
	const n = 3*(cntMask+1) + 5
	for i := 0; i < n; i++ {
		if i%3 == 0 {
			if !l.TryAcquire() {
				t.Fatal("TryAcquire failed")
			}
		} else {
			l.Lock()
		}
		l.Unlock()
	}
	if a := l.Stats().Acquisitions; a != n {
		t.Fatalf("%d acquisitions, want %d", a, n)
	}
	// A zero Lock that counted in its word gets its ext on its first wait.
	var z Lock
	for i := 0; i < 10; i++ {
		z.Lock()
		z.Unlock()
	}
	z.Lock()
	done := make(chan struct{})
	go func() { z.Lock(); z.Unlock(); close(done) }()
	for z.Stats().Waiters == 0 {
		time.Sleep(time.Millisecond)
	}
	z.Unlock()
	<-done
	if a := z.Stats().Acquisitions; a != 12 {
		t.Fatalf("after a wait: %d acquisitions, want 12", a)
	}
	var r RLock
	for i := 0; i < n; i++ {
		r.Acquire()
		r.Acquire()
		_ = r.Release()
		_ = r.Release()
	}
	if a := r.Stats().Acquisitions; a != n {
		t.Fatalf("RLock: %d acquisitions, want %d", a, n)
	}
	var rw RWLock
	rw.w.state.Store(cntMask) // the next write lock carries
	before := rw.Stats().Acquisitions
	rw.RLock()
	if rw.TryLock() {
		t.Fatal("TryLock with a reader succeeded")
	}
	rw.RUnlock()
	if a := rw.Stats().Acquisitions; a != before+1 {
		t.Fatalf("RWLock: %d acquisitions, want %d", a, before+1)
	}
	rw.Lock()
	rw.Unlock()
	if a := rw.Stats().Acquisitions; a != before+2 {
		t.Fatalf("RWLock: %d acquisitions, want %d", a, before+2)
	}
}
