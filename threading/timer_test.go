package threading

import (
	"context"
	"sync/atomic"
	"testing"
	"time"
)

// TimerTests.test_init_immutable_default_args [A]: two timers made the same
// way fire independently with no arguments (Go closures cannot share
// mutable default arguments).
func TestTimerFires(t *testing.T) {
	var calls atomic.Int32
	cb := func(ctx context.Context) error { calls.Add(1); return nil }
	t1 := NewTimer(10*time.Millisecond, cb)
	t2 := NewTimer(10*time.Millisecond, cb)
	_ = t1.Start()
	_ = t2.Start()
	_ = t1.Join()
	_ = t2.Join()
	if calls.Load() != 2 {
		t.Fatal(calls.Load())
	}
}

// Gap: Cancel before the timer fires means the function never runs; Cancel
// after it fired has no effect.
func TestTimerCancel(t *testing.T) {
	var ran atomic.Bool
	tm := NewTimer(time.Hour, func(context.Context) error { ran.Store(true); return nil })
	_ = tm.Start()
	tm.Cancel()
	if done, _ := tm.JoinTimeout(5 * time.Second); !done {
		t.Fatal("a cancelled timer did not end")
	}
	if ran.Load() {
		t.Fatal("a cancelled timer ran")
	}
	tm = NewTimer(time.Millisecond, func(context.Context) error { ran.Store(true); return nil })
	_ = tm.Start()
	_ = tm.Join()
	tm.Cancel()
	tm.Cancel()
	if !ran.Load() {
		t.Fatal("the timer did not run")
	}
	// Cancel before Start: it never runs either.
	ran.Store(false)
	tm = NewTimer(0, func(context.Context) error { ran.Store(true); return nil })
	tm.Cancel()
	_ = tm.Start()
	_ = tm.Join()
	if ran.Load() {
		t.Fatal("a timer cancelled before start ran")
	}
}

// A Timer measures its interval with the usual tolerance.
func TestTimerInterval(t *testing.T) {
	start := time.Now()
	var fired time.Duration
	tm := NewTimer(100*time.Millisecond, func(context.Context) error { fired = time.Since(start); return nil })
	_ = tm.Start()
	_ = tm.Join()
	assertTimeout(t, fired, 100*time.Millisecond)
}
