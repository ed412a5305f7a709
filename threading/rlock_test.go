package threading

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// rlockLike is the RLock surface that RLockTests use, which Condition (over
// an RLock) also has.
type rlockLike interface {
	baseLock
	Owned() bool
	RecursionCount() int
	releaseSave(g uint64) (int, error)
}

var rlockTypes = []struct {
	name string
	make func() rlockLike
}{
	{"RLock", func() rlockLike { return NewRLock() }},
	{"Condition", func() rlockLike { return condAsRLock{NewCondition(nil)} }},
}

type condAsRLock struct{ *Condition }

func (c condAsRLock) releaseSave(g uint64) (int, error) { return c.Lockable.releaseSave(g) }

func forEachRLock(t *testing.T, f func(t *testing.T, newLock func() rlockLike)) {
	for _, lt := range rlockTypes {
		t.Run(lt.name, func(t *testing.T) { f(t, lt.make) })
	}
}

// RLockTests.test_repr_count [A]: the count shown is the owner's, from any
// thread.
func TestRLockReprCount(t *testing.T) {
	forEachRLock(t, func(t *testing.T, newLock func() rlockLike) {
		l := newLock()
		s := l.String()
		if !strings.Contains(s, "count=0") || !strings.Contains(s, "<unlocked") {
			t.Fatalf("fresh repr %q", s)
		}
		l.Acquire()
		l.Acquire()
		s = l.String()
		if !strings.Contains(s, "count=2") || !strings.Contains(s, "<locked") {
			t.Fatalf("repr %q", s)
		}
		b := newBunch(t, 1, func(int) { s = l.String() }, false)
		b.wait(t)
		if !strings.Contains(s, "count=2") || !strings.Contains(s, "<locked") {
			t.Fatalf("repr from another thread %q", s)
		}
		_ = l.Release()
		_ = l.Release()
	})
}

// RLockTests.test_reacquire
func TestRLockReacquire(t *testing.T) {
	forEachRLock(t, func(t *testing.T, newLock func() rlockLike) {
		l := newLock()
		l.Acquire()
		l.Acquire()
		for _, err := range []error{l.Release(), func() error { l.Acquire(); return nil }(), l.Release(), l.Release()} {
			if err != nil {
				t.Fatal(err)
			}
		}
	})
}

// RLockTests.test_release_unacquired
func TestRLockReleaseUnacquired(t *testing.T) {
	forEachRLock(t, func(t *testing.T, newLock func() rlockLike) {
		l := newLock()
		if err := l.Release(); !errors.Is(err, ErrRuntime) {
			t.Fatalf("err %v", err)
		}
		l.Acquire()
		l.Acquire()
		_ = l.Release()
		l.Acquire()
		_ = l.Release()
		_ = l.Release()
		if err := l.Release(); !errors.Is(err, ErrNotOwner) {
			t.Fatalf("err %v", err)
		}
	})
}

// RLockTests.test_locked
func TestRLockLocked(t *testing.T) {
	forEachRLock(t, func(t *testing.T, newLock func() rlockLike) {
		l := newLock()
		want := []bool{false}
		got := []bool{l.Locked()}
		l.Acquire()
		got = append(got, l.Locked())
		l.Acquire()
		got = append(got, l.Locked())
		_ = l.Release()
		got = append(got, l.Locked())
		_ = l.Release()
		got = append(got, l.Locked())
		want = append(want, true, true, true, false)
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("locked() sequence %v, want %v", got, want)
			}
		}
	})
}

// RLockTests.test_locked_with_2threads: a worker that exits holding the lock
// leaves it locked for everybody.
func TestRLockLockedWith2Threads(t *testing.T) {
	forEachRLock(t, func(t *testing.T, newLock func() rlockLike) {
		l := newLock()
		var before, after bool
		b := newBunch(t, 1, func(int) {
			before = l.Locked()
			l.Acquire()
			after = l.Locked()
		}, false)
		b.wait(t)
		if before || !after {
			t.Fatalf("worker saw %v then %v", before, after)
		}
		if !l.Locked() {
			t.Fatal("main sees it unlocked")
		}
	})
}

// RLockTests.test_release_save_unacquired [A]
func TestRLockReleaseSaveUnacquired(t *testing.T) {
	forEachRLock(t, func(t *testing.T, newLock func() rlockLike) {
		l := newLock()
		if _, err := l.releaseSave(curGoid()); !errors.Is(err, ErrRuntime) {
			t.Fatalf("err %v", err)
		}
		l.Acquire()
		l.Acquire()
		_ = l.Release()
		_ = l.Release()
		if _, err := l.releaseSave(curGoid()); !errors.Is(err, ErrRuntime) {
			t.Fatalf("err %v", err)
		}
	})
}

// RLockTests.test_recursion_count [A] (RLock only, as in CPython).
func TestRLockRecursionCount(t *testing.T) {
	l := NewRLock()
	var seq []int
	seq = append(seq, l.RecursionCount())
	l.Acquire()
	seq = append(seq, l.RecursionCount())
	l.Acquire()
	l.Acquire()
	seq = append(seq, l.RecursionCount())
	_ = l.Release()
	seq = append(seq, l.RecursionCount())
	_ = l.Release()
	_ = l.Release()
	seq = append(seq, l.RecursionCount())
	want := []int{0, 1, 3, 2, 0}
	for i := range want {
		if seq[i] != want[i] {
			t.Fatalf("counts %v, want %v", seq, want)
		}
	}
	b := newBunch(t, 1, func(int) { l.Acquire() }, true)
	eventually(t, "worker holds it", l.Locked)
	if c := l.RecursionCount(); c != 0 {
		t.Fatalf("non-owner sees count %d", c)
	}
	b.wait(t)
}

// RLockTests.test_different_thread: a non-owner cannot release.
func TestRLockDifferentThread(t *testing.T) {
	forEachRLock(t, func(t *testing.T, newLock func() rlockLike) {
		l := newLock()
		b := newBunch(t, 1, func(int) { l.Acquire() }, true)
		eventually(t, "worker holds it", l.Locked)
		if err := l.Release(); !errors.Is(err, ErrNotOwner) {
			t.Fatalf("err %v", err)
		}
		if !l.Locked() {
			t.Fatal("state changed")
		}
		b.wait(t)
	})
}

// RLockTests.test__is_owned [A]
func TestRLockIsOwned(t *testing.T) {
	forEachRLock(t, func(t *testing.T, newLock func() rlockLike) {
		l := newLock()
		if l.Owned() {
			t.Fatal("owned initially")
		}
		l.Acquire()
		if !l.Owned() {
			t.Fatal("not owned after acquire")
		}
		l.Acquire()
		if !l.Owned() {
			t.Fatal("not owned after 2 acquires")
		}
		var other bool
		b := newBunch(t, 1, func(int) { other = l.Owned() }, false)
		b.wait(t)
		if other {
			t.Fatal("owned from another thread")
		}
		_ = l.Release()
		if !l.Owned() {
			t.Fatal("not owned after 1 of 2 releases")
		}
		_ = l.Release()
		if l.Owned() {
			t.Fatal("owned after the last release")
		}
	})
}

// RLock acquire(timeout) contended (a gap in CPython's tests).
func TestRLockTimeoutContended(t *testing.T) {
	l := NewRLock()
	b := newBunch(t, 1, func(int) { l.Acquire() }, true)
	eventually(t, "worker holds it", l.Locked)
	start := time.Now()
	if l.AcquireTimeout(100 * time.Millisecond) {
		t.Fatal("acquired an RLock another thread holds")
	}
	assertTimeout(t, time.Since(start), 100*time.Millisecond)
	b.wait(t)
}
