package threading

import (
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

type semLike interface {
	Primitive
	Acquire()
	TryAcquire() bool
	AcquireTimeout(time.Duration) bool
	Release() error
	ReleaseN(int) error
	Lock()
	Unlock()
	Value() int
}

var semTypes = []struct {
	name string
	make func(int) (semLike, error)
}{
	{"Semaphore", func(v int) (semLike, error) { s, err := NewSemaphore(v); return nilSem(s, err) }},
	{"BoundedSemaphore", func(v int) (semLike, error) { s, err := NewBoundedSemaphore(v); return nilSem(s, err) }},
}

func nilSem[T semLike](s T, err error) (semLike, error) {
	if err != nil {
		return nil, err
	}
	return s, nil
}

func forEachSem(t *testing.T, f func(t *testing.T, newSem func(int) semLike)) {
	for _, st := range semTypes {
		t.Run(st.name, func(t *testing.T) {
			f(t, func(v int) semLike { return must(st.make(v)) })
		})
	}
}

// BaseSemaphoreTests.test_constructor
func TestSemaphoreConstructor(t *testing.T) {
	for _, st := range semTypes {
		for _, v := range []int{-1, -int(^uint(0) >> 1)} {
			s, err := st.make(v)
			if !errors.Is(err, ErrValue) || s != nil {
				t.Errorf("%s(%d): %v", st.name, v, err)
			}
		}
	}
}

// BaseSemaphoreTests.test_acquire
func TestSemaphoreAcquire(t *testing.T) {
	forEachSem(t, func(t *testing.T, newSem func(int) semLike) {
		s := newSem(1)
		s.Acquire()
		_ = s.Release()
		s = newSem(2)
		s.Acquire()
		s.Acquire()
		_ = s.Release()
		_ = s.Release()
	})
}

// BaseSemaphoreTests.test_acquire_contended and test_multirelease
func TestSemaphoreAcquireContended(t *testing.T) {
	for _, multi := range []bool{false, true} {
		forEachSem(t, func(t *testing.T, newSem func(int) semLike) {
			s := newSem(7)
			s.Acquire()
			var got atomic.Int32
			var allTrue atomic.Bool
			allTrue.Store(true)
			b := newBunch(t, 10, func(int) {
				for i := 0; i < 2; i++ {
					if !s.AcquireTimeout(-1) {
						allTrue.Store(false)
					}
					got.Add(1)
				}
			}, false)
			release := func(n int) {
				if multi {
					_ = s.ReleaseN(n)
					return
				}
				for i := 0; i < n; i++ {
					_ = s.Release()
				}
			}
			// every worker is either done or parked
			settled := func() bool { return s.Stats().Waiters+int(b.finished.Load()) == 10 }
			eventually(t, "6 acquired", func() bool { return got.Load() == 6 && settled() })
			if got.Load() != 6 {
				t.Fatalf("phase 0: %d", got.Load())
			}
			release(7)
			eventually(t, "13 acquired", func() bool { return got.Load() == 13 && settled() })
			release(6)
			eventually(t, "19 acquired", func() bool { return got.Load() == 19 && settled() })
			if s.TryAcquire() {
				t.Fatal("TryAcquire succeeded with none left")
			}
			release(1)
			b.wait(t)
			if got.Load() != 20 || !allTrue.Load() {
				t.Fatalf("got %d, all true %v", got.Load(), allTrue.Load())
			}
		})
	}
}

// BaseSemaphoreTests.test_try_acquire
func TestSemaphoreTryAcquire(t *testing.T) {
	forEachSem(t, func(t *testing.T, newSem func(int) semLike) {
		s := newSem(2)
		if !s.TryAcquire() || !s.TryAcquire() || s.TryAcquire() {
			t.Fatal("want true, true, false")
		}
		_ = s.Release()
		if !s.TryAcquire() {
			t.Fatal("want true after a release")
		}
	})
}

// BaseSemaphoreTests.test_try_acquire_contended
func TestSemaphoreTryAcquireContended(t *testing.T) {
	forEachSem(t, func(t *testing.T, newSem func(int) semLike) {
		s := newSem(4)
		s.Acquire()
		var yes, no atomic.Int32
		b := newBunch(t, 5, func(int) {
			for i := 0; i < 2; i++ {
				if s.TryAcquire() {
					yes.Add(1)
				} else {
					no.Add(1)
				}
			}
		}, false)
		b.wait(t)
		if yes.Load() != 3 || no.Load() != 7 {
			t.Fatalf("true %d false %d", yes.Load(), no.Load())
		}
	})
}

// BaseSemaphoreTests.test_acquire_timeout
func TestSemaphoreAcquireTimeout(t *testing.T) {
	forEachSem(t, func(t *testing.T, newSem func(int) semLike) {
		s := newSem(2)
		if !s.AcquireTimeout(5*time.Millisecond) || !s.AcquireTimeout(5*time.Millisecond) {
			t.Fatal("want two successes")
		}
		if s.AcquireTimeout(5 * time.Millisecond) {
			t.Fatal("want a failure")
		}
		_ = s.Release()
		if !s.AcquireTimeout(5 * time.Millisecond) {
			t.Fatal("want success after release")
		}
		start := time.Now()
		if s.AcquireTimeout(500 * time.Millisecond) {
			t.Fatal("acquired with no permit")
		}
		assertTimeout(t, time.Since(start), 500*time.Millisecond)
		if s.Value() != 0 {
			t.Fatalf("value %d after a timeout", s.Value())
		}
	})
}

// BaseSemaphoreTests.test_default_value [A]: Go has no default argument;
// NewSemaphore(1) is Python's Semaphore().
func TestSemaphoreDefaultValue(t *testing.T) {
	forEachSem(t, func(t *testing.T, newSem func(int) semLike) {
		s := newSem(1)
		s.Acquire()
		b := newBunch(t, 1, func(int) { s.Acquire(); _ = s.Release() }, false)
		waitWaiters(t, s, 1)
		if b.finished.Load() != 0 {
			t.Fatal("worker finished while the permit was held")
		}
		_ = s.Release()
		b.wait(t)
	})
}

// BaseSemaphoreTests.test_with
func TestSemaphoreWith(t *testing.T) {
	forEachSem(t, func(t *testing.T, newSem func(int) semLike) {
		s := newSem(2)
		with := func(body func()) {
			s.Lock()
			defer s.Unlock()
			body()
		}
		func() {
			defer func() {
				if r := recover(); r != "TypeError" {
					t.Errorf("recovered %v", r)
				}
			}()
			with(func() {
				if !s.TryAcquire() {
					t.Error("inner TryAcquire failed")
				}
				_ = s.Release()
				with(func() {
					if s.TryAcquire() {
						t.Error("TryAcquire succeeded with none left")
					}
					panic("TypeError")
				})
			})
		}()
		if !s.TryAcquire() {
			t.Fatal("not released after the panic")
		}
	})
}

// SemaphoreTests.test_release_unacquired
func TestSemaphoreReleaseUnacquired(t *testing.T) {
	s := must(NewSemaphore(1))
	if err := s.Release(); err != nil {
		t.Fatal(err)
	}
	if !s.TryAcquire() || !s.TryAcquire() {
		t.Fatal("want 2 permits")
	}
}

// SemaphoreTests.test_repr [A]
func TestSemaphoreRepr(t *testing.T) {
	s := must(NewSemaphore(3))
	check := func(want string) {
		t.Helper()
		if got := s.String(); !strings.Contains(got, want) || !strings.HasPrefix(got, "<Semaphore") {
			t.Fatalf("repr %q, want %q", got, want)
		}
	}
	check("value=3")
	s.Acquire()
	check("value=2")
	_ = s.ReleaseN(2)
	check("value=4")
}

// BoundedSemaphoreTests.test_release_unacquired
func TestBoundedSemaphoreReleaseUnacquired(t *testing.T) {
	s := must(NewBoundedSemaphore(1))
	if err := s.Release(); !errors.Is(err, ErrTooManyReleases) || !errors.Is(err, ErrValue) {
		t.Fatalf("err %v", err)
	}
	s.Acquire()
	_ = s.Release()
	if err := s.Release(); !errors.Is(err, ErrValue) {
		t.Fatalf("err %v", err)
	}
	if s.Value() != 1 {
		t.Fatalf("value %d", s.Value())
	}
}

// BoundedSemaphoreTests.test_repr [A]
func TestBoundedSemaphoreRepr(t *testing.T) {
	s := must(NewBoundedSemaphore(3))
	if got := s.String(); got != "<BoundedSemaphore: value=3/3>" {
		t.Fatalf("repr %q", got)
	}
	s.Acquire()
	if got := s.String(); got != "<BoundedSemaphore: value=2/3>" {
		t.Fatalf("repr %q", got)
	}
}

// Gaps: ReleaseN(n < 1) is ErrValue; a bounded ReleaseN that would pass the
// bound is refused and changes nothing.
func TestSemaphoreReleaseNErrors(t *testing.T) {
	forEachSem(t, func(t *testing.T, newSem func(int) semLike) {
		s := newSem(3)
		for _, n := range []int{0, -1} {
			if err := s.ReleaseN(n); !errors.Is(err, ErrValue) {
				t.Fatalf("ReleaseN(%d): %v", n, err)
			}
		}
		if s.Value() != 3 {
			t.Fatalf("value %d", s.Value())
		}
	})
	b := must(NewBoundedSemaphore(3))
	b.Acquire()
	b.Acquire()
	if err := b.ReleaseN(3); !errors.Is(err, ErrTooManyReleases) {
		t.Fatalf("err %v", err)
	}
	if b.Value() != 1 {
		t.Fatalf("value %d after a refused release", b.Value())
	}
	if err := b.ReleaseN(2); err != nil {
		t.Fatal(err)
	}
}

// ThreadTests.test_BoundedSemaphore_limit: releases from other threads count.
func TestBoundedSemaphoreLimit(t *testing.T) {
	for limit := 1; limit < 10; limit++ {
		s := must(NewBoundedSemaphore(limit))
		var wg sync.WaitGroup
		for i := 0; i < limit; i++ {
			th := NewThread(func(ctx ctxT) error { s.Acquire(); return nil })
			_ = th.Start()
			_ = th.Join()
		}
		for i := 0; i < limit; i++ {
			wg.Add(1)
			th := NewThread(func(ctx ctxT) error { defer wg.Done(); return s.Release() })
			_ = th.Start()
			_ = th.Join()
			if th.Err() != nil {
				t.Fatal(th.Err())
			}
		}
		wg.Wait()
		if err := s.Release(); !errors.Is(err, ErrValue) {
			t.Fatalf("limit %d: extra release: %v", limit, err)
		}
	}
}
