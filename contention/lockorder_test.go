package contention

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/threadmon/threadmon/threading"
)

func enableOrder(t *testing.T) func() []*OrderReport {
	t.Helper()
	var mu sync.Mutex
	var got []*OrderReport
	EnableLockOrder(func(r *OrderReport) { mu.Lock(); got = append(got, r); mu.Unlock() })
	t.Cleanup(DisableLockOrder)
	return func() []*OrderReport { mu.Lock(); defer mu.Unlock(); return append([]*OrderReport(nil), got...) }
}

func inThread(name string, fn func()) {
	th := threading.NewThread(func(context.Context) error { fn(); return nil }, threading.WithName(name))
	_ = th.Start()
	_ = th.Join()
}

func uniqName(s string) string { return fmt.Sprintf("%s-%d", s, time.Now().UnixNano()) }

// A then B in one thread, B then A in another: reported at once, though
// nothing hangs, with both acquisitions' stacks.
func TestLockOrderABBA(t *testing.T) {
	reports := enableOrder(t)
	a := threading.NewLock(threading.WithName(uniqName("order-a")))
	b := threading.NewLock(threading.WithName(uniqName("order-b")))
	inThread("first", func() { a.Lock(); b.Lock(); b.Unlock(); a.Unlock() })
	if n := len(reports()); n != 0 {
		t.Fatalf("%d reports for a consistent order", n)
	}
	inThread("second", func() { b.Lock(); a.Lock(); a.Unlock(); b.Unlock() })
	rs := reports()
	if len(rs) != 1 {
		t.Fatalf("%d reports", len(rs))
	}
	r := rs[0]
	if len(r.Cycle) != 2 || len(r.Edges) != 2 || !strings.Contains(r.Text, "Lock order inversion") {
		t.Fatalf("%+v", r)
	}
	threads := map[string]bool{}
	for _, e := range r.Edges {
		threads[e.Thread] = true
		if !strings.Contains(e.Stack, "TestLockOrderABBA") {
			t.Fatalf("edge stack lacks the test:\n%s", e.Stack)
		}
	}
	if !threads["first"] || !threads["second"] {
		t.Fatalf("edges by %v", threads)
	}
	// The same inversion again is not reported twice.
	inThread("third", func() { b.Lock(); a.Lock(); a.Unlock(); b.Unlock() })
	if n := len(reports()); n != 1 {
		t.Fatalf("%d reports after a repeat", n)
	}
	if n := len(LockOrderReports()); n != 1 {
		t.Fatalf("LockOrderReports: %d", n)
	}
}

// A cycle of three classes across three threads, and mixed kinds.
func TestLockOrderRingOfThree(t *testing.T) {
	reports := enableOrder(t)
	a := threading.NewLock(threading.WithName(uniqName("ring-a")))
	b := threading.NewRLock(threading.WithName(uniqName("ring-b")))
	c := threading.NewRWLock(threading.WithName(uniqName("ring-c")))
	inThread("t1", func() { a.Lock(); b.Lock(); b.Unlock(); a.Unlock() })
	inThread("t2", func() { b.Lock(); c.Lock(); c.Unlock(); b.Unlock() })
	if n := len(reports()); n != 0 {
		t.Fatalf("%d reports before the cycle closes", n)
	}
	inThread("t3", func() { c.Lock(); a.Lock(); a.Unlock(); c.Unlock() })
	rs := reports()
	if len(rs) != 1 || len(rs[0].Cycle) != 3 || len(rs[0].Edges) != 3 {
		t.Fatalf("%+v", rs)
	}
}

// No false reports: nesting in one order, recursion on an RLock, a Condition
// wait (which releases and re-takes its lock), and a Lock released by
// another thread.
func TestLockOrderNoFalseReports(t *testing.T) {
	reports := enableOrder(t)
	outer := threading.NewLock(threading.WithName(uniqName("outer")))
	inner := threading.NewLock(threading.WithName(uniqName("inner")))
	r := threading.NewRLock(threading.WithName(uniqName("recursive")))
	for i := 0; i < 50; i++ {
		inThread("nested", func() {
			outer.Lock()
			inner.Lock()
			inner.Unlock()
			outer.Unlock()
			inner.Lock()
			inner.Unlock()
			r.Lock()
			r.Lock()
			inner.Lock()
			inner.Unlock()
			r.Unlock()
			r.Unlock()
		})
	}
	c := threading.NewCondition(threading.NewLock(threading.WithName(uniqName("cond-lock"))))
	inThread("waiter", func() {
		outer.Lock()
		c.Acquire()
		_, _ = c.WaitTimeout(time.Millisecond)
		_ = c.Release()
		outer.Unlock()
	})
	// A Lock taken by one thread and released by another leaves nothing held.
	handoff := threading.NewLock(threading.WithName(uniqName("handoff")))
	taken, released := make(chan struct{}), make(chan struct{})
	taker := threading.NewThread(func(context.Context) error {
		handoff.Lock()
		close(taken)
		<-released
		inner.Lock() // handoff is no longer held: no edge handoff -> inner
		inner.Unlock()
		return nil
	})
	_ = taker.Start()
	<-taken
	inThread("releaser", func() { handoff.Unlock() })
	close(released)
	_ = taker.Join()
	inThread("reverse", func() { inner.Lock(); handoff.Lock(); handoff.Unlock(); inner.Unlock() })
	if rs := reports(); len(rs) != 0 {
		t.Fatalf("false report:\n%s", rs[0].Text)
	}
}

// A zero-value Lock is registered on its first wait, here while its holder
// holds it: its release still leaves nothing held, so the holder's next
// lock is no edge from it and taking the two in the other order is no
// inversion.
func TestLockOrderRegisteredWhileHeld(t *testing.T) {
	reports := enableOrder(t)
	var zero threading.Lock
	after := threading.NewLock(threading.WithName(uniqName("after-zero")))
	taken, parked := make(chan struct{}), make(chan struct{})
	holder := threading.NewThread(func(context.Context) error {
		zero.Lock()
		close(taken)
		<-parked
		zero.Unlock()
		after.Lock() // zero is no longer held: no edge zero -> after
		after.Unlock()
		return nil
	})
	_ = holder.Start()
	<-taken
	waiter := threading.NewThread(func(context.Context) error { zero.Lock(); zero.Unlock(); return nil })
	_ = waiter.Start()
	for {
		if _, ok := waiter.Waiting(); ok {
			break
		}
		time.Sleep(time.Millisecond)
	}
	if threading.Describe(&zero).ID == 0 {
		t.Fatal("the zero-value Lock is not registered by its waiter")
	}
	close(parked)
	_ = holder.Join()
	_ = waiter.Join()
	inThread("reverse", func() { after.Lock(); zero.Lock(); zero.Unlock(); after.Unlock() })
	if rs := reports(); len(rs) != 0 {
		t.Fatalf("false report:\n%s", rs[0].Text)
	}
}

// EnableLockOrder again starts an empty graph, and a goroutine tells it the
// edges it told the old one: what it has seen recently is forgotten with
// the old graph, so the inversion is still found.
func TestLockOrderReenableTellsEdgesAgain(t *testing.T) {
	a := threading.NewLock(threading.WithName(uniqName("again-a")))
	b := threading.NewLock(threading.WithName(uniqName("again-b")))
	nest := func(x, y *threading.Lock) { x.Lock(); y.Lock(); y.Unlock(); x.Unlock() }
	enableOrder(t)
	nest(a, b) // on this goroutine, which then has seen a -> b
	reports := enableOrder(t)
	nest(a, b) // the same goroutine: a -> b must reach the new graph
	inThread("reverse", func() { nest(b, a) })
	if n := len(reports()); n != 1 {
		t.Fatalf("%d reports, want 1", n)
	}
}
