package threading

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

const barrierN = 5

func newTestBarrier(t *testing.T, opts ...Option) *Barrier {
	b := must(NewBarrier(barrierN, append([]Option{WithTimeout(2 * time.Second)}, opts...)...))
	t.Cleanup(b.Abort) // CPython's tearDown
	return b
}

// runThreads runs f in barrierN threads and waits for them.
func runThreads(t *testing.T, f func(i int)) {
	newBunch(t, barrierN, f, false).wait(t)
}

// multipass is lock_tests' helper: n rounds in lockstep.
func multipass(t *testing.T, b *Barrier, n int) {
	var mu sync.Mutex
	var a, bb []int
	runThreads(t, func(i int) {
		for r := 0; r < n; r++ {
			mu.Lock()
			a = append(a, i)
			if len(bb) != r*barrierN {
				t.Errorf("round %d: B has %d entries", r, len(bb))
			}
			mu.Unlock()
			if _, err := b.Wait(); err != nil {
				t.Error(err)
			}
			mu.Lock()
			bb = append(bb, i)
			if len(a) != (r+1)*barrierN {
				t.Errorf("round %d: A has %d entries", r, len(a))
			}
			mu.Unlock()
			if _, err := b.Wait(); err != nil {
				t.Error(err)
			}
		}
	})
	if b.NWaiting() != 0 || b.Broken() {
		t.Fatalf("after multipass: waiting %d broken %v", b.NWaiting(), b.Broken())
	}
}

// BarrierTests.test_constructor
func TestBarrierConstructor(t *testing.T) {
	for _, p := range []int{0, -1} {
		if b, err := NewBarrier(p); !errors.Is(err, ErrValue) || b != nil {
			t.Fatalf("parties %d: %v", p, err)
		}
	}
}

// BarrierTests.test_barrier and test_barrier_10
func TestBarrierMultipass(t *testing.T) {
	multipass(t, newTestBarrier(t), 1)
	multipass(t, newTestBarrier(t), 10)
}

// BarrierTests.test_wait_return: each index 0..N-1 once.
func TestBarrierWaitReturn(t *testing.T) {
	b := newTestBarrier(t)
	var mu sync.Mutex
	seen := map[int]int{}
	runThreads(t, func(int) {
		i, err := b.Wait()
		if err != nil {
			t.Error(err)
		}
		mu.Lock()
		seen[i]++
		mu.Unlock()
	})
	for i := 0; i < barrierN; i++ {
		if seen[i] != 1 {
			t.Fatalf("indices %v", seen)
		}
	}
}

// BarrierTests.test_action: the action runs once, before anyone leaves.
func TestBarrierAction(t *testing.T) {
	var runs atomic.Int32
	b := newTestBarrier(t, WithAction(func() error { runs.Add(1); return nil }))
	runThreads(t, func(int) {
		if _, err := b.Wait(); err != nil {
			t.Error(err)
		}
		if runs.Load() != 1 {
			t.Errorf("action ran %d times when a thread left", runs.Load())
		}
	})
}

// BarrierTests.test_abort
func TestBarrierAbort(t *testing.T) {
	b := newTestBarrier(t)
	var passed, broken atomic.Int32
	runThreads(t, func(int) {
		i, err := b.Wait()
		if err != nil {
			t.Error(err)
			return
		}
		if i == barrierN/2 {
			b.Abort()
			return
		}
		if _, err := b.Wait(); errors.Is(err, ErrBrokenBarrier) {
			broken.Add(1)
		} else {
			passed.Add(1)
		}
	})
	if passed.Load() != 0 || broken.Load() != barrierN-1 || !b.Broken() {
		t.Fatalf("passed %d broken %d", passed.Load(), broken.Load())
	}
}

// BarrierTests.test_reset
func TestBarrierReset(t *testing.T) {
	b := newTestBarrier(t)
	var passed, broken, final atomic.Int32
	runThreads(t, func(int) {
		i, _ := b.Wait()
		if i == barrierN/2 {
			for b.NWaiting() < barrierN-1 {
				time.Sleep(time.Millisecond)
			}
			b.Reset()
		} else if _, err := b.Wait(); errors.Is(err, ErrBrokenBarrier) {
			broken.Add(1)
		} else {
			passed.Add(1)
		}
		if _, err := b.Wait(); err == nil {
			final.Add(1)
		}
	})
	if passed.Load() != 0 || broken.Load() != barrierN-1 || final.Load() != barrierN {
		t.Fatalf("passed %d broken %d final %d", passed.Load(), broken.Load(), final.Load())
	}
}

// BarrierTests.test_abort_and_reset
func TestBarrierAbortAndReset(t *testing.T) {
	b := newTestBarrier(t)
	b2 := newTestBarrier(t)
	var passed, broken, final atomic.Int32
	runThreads(t, func(int) {
		i, _ := b.Wait()
		if i == barrierN/2 {
			for b.NWaiting() < barrierN-1 {
				time.Sleep(time.Millisecond)
			}
			b.Abort()
		} else if _, err := b.Wait(); errors.Is(err, ErrBrokenBarrier) {
			broken.Add(1)
		} else {
			passed.Add(1)
		}
		if i, _ := b2.Wait(); i == barrierN/2 {
			b.Reset()
		}
		_, _ = b2.Wait()
		if _, err := b.Wait(); err == nil {
			final.Add(1)
		}
	})
	if passed.Load() != 0 || broken.Load() != barrierN-1 || final.Load() != barrierN {
		t.Fatalf("passed %d broken %d final %d", passed.Load(), broken.Load(), final.Load())
	}
}

// BarrierTests.test_timeout: an explicit timeout shorter than the late
// thread breaks the barrier for all.
func TestBarrierTimeout(t *testing.T) {
	b := newTestBarrier(t)
	var broken atomic.Int32
	runThreads(t, func(int) {
		i, _ := b.Wait()
		if i == barrierN/2 {
			time.Sleep(300 * time.Millisecond)
		}
		if _, err := b.WaitTimeout(100 * time.Millisecond); errors.Is(err, ErrBrokenBarrier) {
			broken.Add(1)
		}
	})
	if broken.Load() != barrierN {
		t.Fatalf("%d of %d broken", broken.Load(), barrierN)
	}
}

// BarrierTests.test_default_timeout
func TestBarrierDefaultTimeout(t *testing.T) {
	b := must(NewBarrier(2, WithTimeout(100*time.Millisecond)))
	start := time.Now()
	if _, err := b.Wait(); !errors.Is(err, ErrBrokenBarrier) {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 60*time.Millisecond {
		t.Fatalf("broke after %v", d)
	}
}

// BarrierTests.test_single_thread
func TestBarrierSingleThread(t *testing.T) {
	b := must(NewBarrier(1))
	for i := 0; i < 2; i++ {
		if idx, err := b.Wait(); idx != 0 || err != nil {
			t.Fatal(idx, err)
		}
	}
}

// BarrierTests.test_repr [A], with Parties and NWaiting (a gap).
func TestBarrierRepr(t *testing.T) {
	b := must(NewBarrier(3))
	if got := b.String(); got != "<Barrier: waiters=0/3>" {
		t.Fatal(got)
	}
	w := newBunch(t, 2, func(int) { _, _ = b.Wait() }, false)
	waitWaiters(t, b, 2)
	if got := b.String(); got != "<Barrier: waiters=2/3>" || b.NWaiting() != 2 || b.Parties() != 3 {
		t.Fatal(got)
	}
	_, _ = b.Wait()
	w.wait(t)
	if got := b.String(); got != "<Barrier: waiters=0/3>" {
		t.Fatal(got)
	}
	b.Abort()
	if got := b.String(); got != "<Barrier: broken>" {
		t.Fatal(got)
	}
}

// Gaps: an action that fails breaks the barrier and its caller gets the
// error; a wait on a broken barrier fails at once; a panicking action too.
func TestBarrierActionFails(t *testing.T) {
	boom := errors.New("boom")
	for _, action := range []func() error{
		func() error { return boom },
		func() error { panic(boom) },
	} {
		b := must(NewBarrier(3, WithAction(action)))
		var brokenOnly, withCause atomic.Int32
		newBunch(t, 3, func(int) {
			_, err := b.Wait()
			switch {
			case errors.Is(err, boom) && errors.Is(err, ErrBrokenBarrier):
				withCause.Add(1)
			case errors.Is(err, ErrBrokenBarrier):
				brokenOnly.Add(1)
			default:
				t.Errorf("err %v", err)
			}
		}, false).wait(t)
		if withCause.Load() != 1 || brokenOnly.Load() != 2 || !b.Broken() {
			t.Fatalf("with cause %d, broken %d", withCause.Load(), brokenOnly.Load())
		}
		start := time.Now()
		if _, err := b.Wait(); !errors.Is(err, ErrBrokenBarrier) || time.Since(start) > time.Second {
			t.Fatal("a wait on a broken barrier did not fail at once")
		}
	}
}

// A cancelled WaitContext breaks the barrier; the error matches both.
func TestBarrierWaitContext(t *testing.T) {
	b := must(NewBarrier(2))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_, err := b.WaitContext(ctx)
	if !errors.Is(err, ErrBrokenBarrier) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatal(err)
	}
	if !b.Broken() {
		t.Fatal("not broken")
	}
}
