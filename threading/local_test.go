package threading

import (
	"context"
	"runtime"
	"sync"
	"testing"
	"time"
	"weak"
)

// test_threading_local_local: test_derived [K] (a slow initialiser; each
// thread reads back its own value).
func TestLocalDerived(t *testing.T) {
	l := NewLocal(func() int { time.Sleep(10 * time.Millisecond); return -1 })
	var wg sync.WaitGroup
	for i := 0; i < 10; i++ {
		wg.Add(1)
		th := NewThread(func(context.Context) error {
			defer wg.Done()
			if l.Get() != -1 {
				t.Error("init did not run")
			}
			l.Set(i)
			time.Sleep(time.Millisecond)
			if got := l.Get(); got != i {
				t.Errorf("thread %d reads %d", i, got)
			}
			return nil
		})
		_ = th.Start()
	}
	wg.Wait()
}

// test_arguments [A]: an initialiser may capture arguments; Local itself
// takes none (NewLocal(1) does not compile).
func TestLocalArguments(t *testing.T) {
	mk := func(a, b int) *Local[[2]int] { return NewLocal(func() [2]int { return [2]int{a, b} }) }
	if v := mk(1, 2).Get(); v != [2]int{1, 2} {
		t.Fatal(v)
	}
}

// test_threading_local and its subclass variant: values are per thread; a new
// thread starts empty (Lookup's false is Python's AttributeError); Delete.
func TestLocalPerThread(t *testing.T) {
	for _, l := range []*Local[string]{{}, NewLocal[string](nil)} {
		l.Set("x in main")
		var seen string
		var has bool
		th := NewThread(func(context.Context) error {
			l.Set("y")
			l.Delete()
			if _, ok := l.Lookup(); ok {
				t.Error("deleted value still there")
			}
			return nil
		})
		_ = th.Start()
		_ = th.Join()
		th = NewThread(func(context.Context) error { seen, has = l.Lookup(); return nil })
		_ = th.Start()
		_ = th.Join()
		if has || seen != "" {
			t.Fatal("a new thread sees another thread's value")
		}
		if v, ok := l.Lookup(); !ok || v != "x in main" {
			t.Fatal(v, ok)
		}
		l.Delete()
	}
}

// test_dict_attribute [A]: the per-thread state is exactly what was set.
// test_dict_attribute_subclass: the same with an initialiser.
func TestLocalDictAttribute(t *testing.T) {
	for _, l := range []*Local[map[string]int]{{}, NewLocal(func() map[string]int { return map[string]int{} })} {
		l.Set(map[string]int{"x": 5})
		if v := l.Get(); len(v) != 1 || v["x"] != 5 {
			t.Fatal(v)
		}
		l.Delete()
	}
}

// Gap: a thread's value disappears when the thread ends, deterministically:
// after Join nothing references it, so a GC frees it.
func TestLocalDroppedAtThreadEnd(t *testing.T) {
	type payload struct{ _ [1 << 10]byte }
	l := &Local[*payload]{}
	var wp weak.Pointer[payload]
	th := NewThread(func(context.Context) error {
		p := &payload{}
		wp = weak.Make(p)
		l.Set(p)
		return nil
	})
	_ = th.Start()
	_ = th.Join()
	runtime.GC()
	runtime.GC()
	if wp.Value() != nil {
		t.Fatal("the ended thread's value is still reachable")
	}
}
