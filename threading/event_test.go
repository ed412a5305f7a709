package threading

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// EventTests.test_is_set
func TestEventIsSet(t *testing.T) {
	var e Event
	want := []bool{false, true, true, false, false}
	got := []bool{e.IsSet()}
	e.Set()
	got = append(got, e.IsSet())
	e.Set()
	got = append(got, e.IsSet())
	e.Clear()
	got = append(got, e.IsSet())
	e.Clear()
	got = append(got, e.IsSet())
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("%v, want %v", got, want)
		}
	}
}

// EventTests.test_notify, repeated after set and clear.
func TestEventNotify(t *testing.T) {
	e := NewEvent()
	check := func() {
		var results atomic.Int32
		var bad atomic.Bool
		b := newBunch(t, 5, func(int) {
			for i := 0; i < 2; i++ {
				if !e.WaitTimeout(-1) {
					bad.Store(true)
				}
				results.Add(1)
			}
		}, false)
		waitWaiters(t, e, 5)
		if results.Load() != 0 {
			t.Fatal("a wait returned before Set")
		}
		e.Set()
		b.wait(t)
		if results.Load() != 10 || bad.Load() {
			t.Fatalf("%d results, a false: %v", results.Load(), bad.Load())
		}
	}
	check()
	e.Set()
	e.Clear()
	check()
}

// EventTests.test_timeout
func TestEventTimeout(t *testing.T) {
	e := NewEvent()
	var bad atomic.Int32
	b := newBunch(t, 5, func(int) {
		if e.WaitTimeout(0) {
			bad.Add(1)
		}
		start := time.Now()
		if e.WaitTimeout(500 * time.Millisecond) {
			bad.Add(1)
		}
		assertTimeout(t, time.Since(start), 500*time.Millisecond)
	}, false)
	b.wait(t)
	e.Set()
	b = newBunch(t, 5, func(int) {
		if !e.WaitTimeout(0) || !e.WaitTimeout(500*time.Millisecond) {
			bad.Add(1)
		}
	}, false)
	b.wait(t)
	if bad.Load() != 0 {
		t.Fatalf("%d wrong results", bad.Load())
	}
}

// EventTests.test_set_and_clear (gh-57711): waiters present at Set return true
// even when Clear follows at once.
func TestEventSetAndClear(t *testing.T) {
	e := NewEvent()
	var bad atomic.Int32
	b := newBunch(t, 5, func(int) {
		if !e.WaitTimeout(10 * time.Second) {
			bad.Add(1)
		}
	}, false)
	waitWaiters(t, e, 5)
	e.Set()
	e.Clear()
	b.wait(t)
	if bad.Load() != 0 {
		t.Fatalf("%d waiters returned false", bad.Load())
	}
}

// EventTests.test_repr [A]
func TestEventRepr(t *testing.T) {
	e := NewEvent(WithName("ready"))
	if got := e.String(); got != `<Event "ready": unset>` {
		t.Fatalf("repr %q", got)
	}
	e.Set()
	if got := e.String(); !strings.HasSuffix(got, ": set>") {
		t.Fatalf("repr %q", got)
	}
}

// Gaps: Wait with a negative timeout waits without limit; WaitContext.
func TestEventNegativeTimeoutAndContext(t *testing.T) {
	var e Event
	var got atomic.Bool
	b := newBunch(t, 1, func(int) { got.Store(e.WaitTimeout(-5 * time.Second)) }, false)
	waitWaiters(t, &e, 1)
	e.Set()
	b.wait(t)
	if !got.Load() {
		t.Fatal("WaitTimeout(-5s) returned false after Set")
	}
	e.Clear()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := e.WaitContext(ctx); !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
	e.Set()
	if err := e.WaitContext(ctx); err != nil {
		t.Fatalf("a set event: %v", err)
	}
}
