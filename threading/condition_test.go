package threading

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// ConditionTests.test_acquire
func TestConditionAcquire(t *testing.T) {
	c := NewCondition(nil)
	c.Acquire()
	c.Acquire()
	_ = c.Release()
	_ = c.Release()
	l := NewLock()
	c = NewCondition(l)
	c.Acquire()
	if l.TryAcquire() {
		t.Fatal("lock free while the condition holds it")
	}
	_ = c.Release()
	if !l.TryAcquire() {
		t.Fatal("lock held after the condition released it")
	}
	if c.TryAcquire() {
		t.Fatal("condition acquired a held lock")
	}
	_ = l.Release()
	func() {
		c.Lock()
		defer c.Unlock()
		if !l.Locked() {
			t.Fatal("not held inside with")
		}
	}()
}

// ConditionTests.test_unacquired_wait and test_unacquired_notify
func TestConditionUnacquired(t *testing.T) {
	c := NewCondition(nil)
	if err := c.Wait(); !errors.Is(err, ErrNotOwner) || !errors.Is(err, ErrRuntime) {
		t.Fatalf("Wait: %v", err)
	}
	if err := c.Notify(1); !errors.Is(err, ErrNotOwner) {
		t.Fatalf("Notify: %v", err)
	}
	if err := c.NotifyAll(); !errors.Is(err, ErrNotOwner) {
		t.Fatalf("NotifyAll: %v", err)
	}
}

type result struct {
	ok    bool
	phase int
}

// ConditionTests.test_notify, run twice on the same Condition, for a
// Condition over an RLock and over a Lock (the latter a gap in CPython).
func TestConditionNotify(t *testing.T) {
	for _, tc := range []struct {
		name string
		c    *Condition
	}{{"RLock", NewCondition(nil)}, {"Lock", NewCondition(NewLock())}} {
		t.Run(tc.name, func(t *testing.T) {
			checkNotify(t, tc.c)
			checkNotify(t, tc.c)
		})
	}
}

func checkNotify(t *testing.T, c *Condition) {
	var mu sync.Mutex
	var phase int
	var ready int
	var first, second []result
	get := func() int { mu.Lock(); defer mu.Unlock(); return phase }
	b := newBunch(t, 5, func(int) {
		for cycle := 0; cycle < 2; cycle++ {
			c.Acquire()
			mu.Lock()
			ready++
			mu.Unlock()
			ok, err := c.WaitTimeout(-1)
			if err != nil {
				t.Error(err)
			}
			p := get()
			_ = c.Release()
			mu.Lock()
			if cycle == 0 {
				first = append(first, result{ok, p})
			} else {
				second = append(second, result{ok, p})
			}
			mu.Unlock()
		}
	}, false)
	count := func(s *[]result) int { mu.Lock(); defer mu.Unlock(); return len(*s) }
	readyN := func() int { mu.Lock(); defer mu.Unlock(); return ready }
	eventually(t, "5 waiting", func() bool { return readyN() == 5 && c.Stats().Waiters == 5 })
	c.Acquire()
	_ = c.Notify(3)
	time.Sleep(20 * time.Millisecond)
	mu.Lock()
	phase = 1
	mu.Unlock()
	_ = c.Release()
	eventually(t, "3 woke", func() bool { return count(&first) == 3 })
	eventually(t, "3 back waiting", func() bool { return readyN() == 8 && c.Stats().Waiters == 5 })
	if count(&second) != 0 {
		t.Fatal("a second wait returned early")
	}
	c.Acquire()
	_ = c.Notify(5)
	mu.Lock()
	phase = 2
	mu.Unlock()
	_ = c.Release()
	eventually(t, "5 more woke", func() bool { return count(&first)+count(&second) == 8 })
	eventually(t, "2 back waiting", func() bool { return readyN() == 10 && c.Stats().Waiters == 2 })
	c.Acquire()
	_ = c.NotifyAll()
	mu.Lock()
	phase = 3
	mu.Unlock()
	_ = c.Release()
	b.wait(t)
	want1 := []result{{true, 1}, {true, 1}, {true, 1}, {true, 2}, {true, 2}}
	want2 := []result{{true, 2}, {true, 2}, {true, 2}, {true, 3}, {true, 3}}
	for i := range want1 {
		if first[i] != want1[i] || second[i] != want2[i] {
			t.Fatalf("first %v second %v", first, second)
		}
	}
}

// ConditionTests.test_timeout
func TestConditionTimeout(t *testing.T) {
	c := NewCondition(nil)
	var mu sync.Mutex
	var results []bool
	b := newBunch(t, 5, func(int) {
		c.Acquire()
		start := time.Now()
		ok, err := c.WaitTimeout(500 * time.Millisecond)
		took := time.Since(start)
		_ = c.Release()
		if err != nil {
			t.Error(err)
		}
		assertTimeout(t, took, 500*time.Millisecond)
		mu.Lock()
		results = append(results, ok)
		mu.Unlock()
	}, false)
	b.wait(t)
	for _, ok := range results {
		if ok {
			t.Fatal("a timed-out wait returned true")
		}
	}
	if len(results) != 5 {
		t.Fatal(len(results))
	}
}

// ConditionTests.test_waitfor
func TestConditionWaitFor(t *testing.T) {
	c := NewCondition(nil)
	state := 0
	var got bool
	var seen int
	b := newBunch(t, 1, func(int) {
		c.Acquire()
		ok, err := c.WaitFor(func() bool { return state == 4 }, -1)
		got, seen = ok, state
		_ = c.Release()
		if err != nil {
			t.Error(err)
		}
	}, false)
	for i := 0; i < 4; i++ {
		time.Sleep(10 * time.Millisecond)
		c.Acquire()
		state++
		_ = c.Notify(1)
		_ = c.Release()
	}
	b.wait(t)
	if !got || seen != 4 {
		t.Fatalf("got %v state %d", got, seen)
	}
}

// ConditionTests.test_waitfor_timeout: the timeout is a total across wake-ups.
func TestConditionWaitForTimeout(t *testing.T) {
	c := NewCondition(nil)
	state := 0
	success := false
	b := newBunch(t, 1, func(int) {
		c.Acquire()
		start := time.Now()
		ok, err := c.WaitFor(func() bool { return state == 4 }, 100*time.Millisecond)
		took := time.Since(start)
		_ = c.Release()
		if err != nil || ok {
			t.Errorf("WaitFor = %v, %v", ok, err)
		}
		assertTimeout(t, took, 100*time.Millisecond)
		success = true
	}, false)
	for i := 0; i < 3; i++ {
		time.Sleep(10 * time.Millisecond)
		c.Acquire()
		state++
		_ = c.Notify(1)
		_ = c.Release()
	}
	b.wait(t)
	if !success {
		t.Fatal("worker did not finish")
	}
}

// Wait releases a recursively held RLock fully and restores its level.
func TestConditionWaitRestoresRecursion(t *testing.T) {
	l := NewRLock()
	c := NewCondition(l)
	var level int
	var freeWhileWaiting bool
	b := newBunch(t, 1, func(int) {
		c.Acquire()
		c.Acquire()
		c.Acquire()
		_ = c.Wait()
		level = l.RecursionCount()
		for i := 0; i < 3; i++ {
			_ = c.Release()
		}
	}, false)
	waitWaiters(t, c, 1)
	freeWhileWaiting = l.TryAcquire()
	_ = c.Notify(1)
	_ = l.Release()
	b.wait(t)
	if !freeWhileWaiting || level != 3 {
		t.Fatalf("free while waiting %v, level after %d", freeWhileWaiting, level)
	}
}

// Gaps: notify(0) wakes none; notify(n) with fewer waiters wakes them all;
// waiters wake oldest first; notify(-1) is ErrValue.
func TestConditionNotifyCounts(t *testing.T) {
	c := NewCondition(NewLock())
	var mu sync.Mutex
	var order []int
	woke := 0
	b := newBunch(t, 3, func(i int) {
		// stagger so the queue order is known: worker i waits i-th
		eventually(t, "turn", func() bool { return c.Stats().Waiters == i })
		c.Acquire()
		if err := c.Wait(); err != nil {
			t.Error(err)
		}
		mu.Lock()
		order = append(order, i)
		woke++
		mu.Unlock()
		_ = c.Release()
	}, false)
	waitWaiters(t, c, 3)
	c.Acquire()
	if err := c.Notify(0); err != nil {
		t.Fatal(err)
	}
	if err := c.Notify(-1); !errors.Is(err, ErrValue) {
		t.Fatalf("Notify(-1): %v", err)
	}
	_ = c.Release()
	time.Sleep(20 * time.Millisecond)
	mu.Lock()
	if woke != 0 {
		t.Fatalf("Notify(0) woke %d", woke)
	}
	mu.Unlock()
	for n := 1; n <= 2; n++ {
		c.Acquire()
		_ = c.Notify(1)
		_ = c.Release()
		eventually(t, "one woke", func() bool { mu.Lock(); defer mu.Unlock(); return woke == n })
	}
	c.Acquire()
	_ = c.Notify(10) // more than there are waiters
	_ = c.Release()
	b.wait(t)
	if order[0] != 0 || order[1] != 1 || order[2] != 2 {
		t.Fatalf("wake order %v, want FIFO", order)
	}
}

// WaitContext returns ctx.Err() with the lock held again.
func TestConditionWaitContext(t *testing.T) {
	c := NewCondition(nil)
	c.Acquire()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := c.WaitContext(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatal(err)
	}
	if !c.Owned() {
		t.Fatal("lock not held after WaitContext")
	}
	_ = c.Release()
}

// A notify that takes a waiter out of the queue after its timeout passed,
// but before it has the lock back, counts (the wait returns true), and the
// wake it leaves behind does not end the waiter's next wait early.
func TestConditionNotifyAfterTimeout(t *testing.T) {
	c := NewCondition(NewLock())
	results := make(chan bool, 2)
	took := make(chan time.Duration, 1)
	go func() {
		c.Acquire()
		defer func() { _ = c.Release() }()
		ok, _ := c.WaitTimeout(30 * time.Millisecond)
		results <- ok
		start := time.Now()
		ok, _ = c.WaitTimeout(50 * time.Millisecond)
		took <- time.Since(start)
		results <- ok
	}()
	waitWaiters(t, c, 1) // parked
	c.Acquire()
	time.Sleep(100 * time.Millisecond) // its timeout passes; it waits for the lock
	if c.q.n != 1 {
		t.Fatalf("%d queued, want the timed-out waiter still queued", c.q.n)
	}
	_ = c.Notify(1)
	_ = c.Release()
	if !<-results {
		t.Fatal("a wait notified before it had the lock back returned false")
	}
	assertTimeout(t, <-took, 50*time.Millisecond)
	if <-results {
		t.Fatal("the next wait returned true without a notify")
	}
}
