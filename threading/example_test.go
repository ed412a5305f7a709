package threading_test

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"

	"github.com/threadmon/threadmon/threading"
)

// A Lock replaces a sync.Mutex by changing the type alone.
func ExampleLock() {
	type account struct {
		mu      threading.Lock // was: sync.Mutex
		balance int
	}
	acct := &account{}
	var wg sync.WaitGroup
	for i := 0; i < 100; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			acct.mu.Lock()
			acct.balance++
			acct.mu.Unlock()
		}()
	}
	wg.Wait()
	fmt.Println(acct.balance, acct.mu.Stats().Acquisitions)
	// Output: 100 100
}

// Python's acquire(timeout=...) and the errors of misuse.
func ExampleLock_AcquireTimeout() {
	l := threading.NewLock(threading.WithName("db"))
	fmt.Println(l.AcquireTimeout(0))
	fmt.Println(l)
	_ = l.Release()
	err := l.Release()
	fmt.Println(err, errors.Is(err, threading.ErrRuntime))
	// Output:
	// true
	// <locked Lock "db" owner=MainThread>
	// threading: release unlocked lock true
}

// An RLock may be taken again by its owner.
func ExampleRLock() {
	r := threading.NewRLock()
	r.Acquire()
	r.Acquire()
	fmt.Println(r.RecursionCount())
	_ = r.Release()
	_ = r.Release()
	fmt.Println(r.Locked())
	// Output:
	// 2
	// false
}

// RWLock is a drop-in for sync.RWMutex.
func ExampleRWLock() {
	var mu threading.RWLock
	config := map[string]string{}
	mu.Lock()
	config["mode"] = "fast"
	mu.Unlock()
	mu.RLock()
	fmt.Println(config["mode"])
	mu.RUnlock()
	// Output: fast
}

// Thread is Python's threading.Thread.
func ExampleThread() {
	t := threading.NewThread(func(ctx context.Context) error {
		fmt.Println("hello from", threading.ThreadFrom(ctx).Name())
		return nil
	}, threading.WithName("worker"))
	_ = t.Start()
	_ = t.Join()
	fmt.Println(t.IsAlive())
	// Output:
	// hello from worker
	// false
}

// Main waits for non-daemon threads, as a Python program does at exit.
func ExampleMain() {
	threading.Main(func() {
		t := threading.NewThread(func(context.Context) error {
			fmt.Println("worker done")
			return nil
		})
		_ = t.Start() // not joined: Main waits for it
	})
	fmt.Println("main done")
	// Output:
	// worker done
	// main done
}

// A Timer runs a function later, unless cancelled.
func ExampleTimer() {
	t := threading.NewTimer(0, func(context.Context) error {
		fmt.Println("fired")
		return nil
	})
	_ = t.Start()
	_ = t.Join()
	never := threading.NewTimer(3600e9, func(context.Context) error {
		fmt.Println("never")
		return nil
	})
	_ = never.Start()
	never.Cancel()
	_ = never.Join()
	// Output: fired
}

// A Condition: a bounded queue with a producer and a consumer.
func ExampleCondition() {
	cond := threading.NewCondition(nil)
	var queue []int
	consumer := threading.NewThread(func(context.Context) error {
		sum := 0
		for n := 0; n < 5; n++ {
			cond.Acquire()
			_, _ = cond.WaitFor(func() bool { return len(queue) > 0 }, -1)
			sum += queue[0]
			queue = queue[1:]
			_ = cond.Release()
		}
		fmt.Println("sum", sum)
		return nil
	})
	_ = consumer.Start()
	for i := 1; i <= 5; i++ {
		cond.Acquire()
		queue = append(queue, i)
		_ = cond.Notify(1)
		_ = cond.Release()
	}
	_ = consumer.Join()
	// Output: sum 15
}

// A Semaphore limits concurrency; a BoundedSemaphore refuses an
// over-release.
func ExampleBoundedSemaphore() {
	pool, _ := threading.NewBoundedSemaphore(2)
	pool.Acquire()
	fmt.Println(pool)
	_ = pool.Release()
	err := pool.Release()
	fmt.Println(err, errors.Is(err, threading.ErrValue))
	// Output:
	// <BoundedSemaphore: value=1/2>
	// threading: Semaphore released too many times true
}

// Semaphore with ReleaseN.
func ExampleSemaphore() {
	s, _ := threading.NewSemaphore(0)
	_ = s.ReleaseN(3)
	fmt.Println(s.TryAcquire(), s.TryAcquire(), s.TryAcquire(), s.TryAcquire())
	// Output: true true true false
}

// An Event lets threads wait for a signal.
func ExampleEvent() {
	var ready threading.Event
	t := threading.NewThread(func(context.Context) error {
		ready.Wait()
		fmt.Println("go")
		return nil
	})
	_ = t.Start()
	ready.Set()
	_ = t.Join()
	// Output: go
}

// A Barrier releases its parties together; the action runs once a round.
func ExampleBarrier() {
	b, _ := threading.NewBarrier(3, threading.WithAction(func() error {
		fmt.Println("all arrived")
		return nil
	}))
	var mu sync.Mutex
	var indices []int
	var threads []*threading.Thread
	for i := 0; i < 3; i++ {
		t := threading.NewThread(func(context.Context) error {
			idx, err := b.Wait()
			mu.Lock()
			indices = append(indices, idx)
			mu.Unlock()
			return err
		})
		_ = t.Start()
		threads = append(threads, t)
	}
	for _, t := range threads {
		_ = t.Join()
	}
	sort.Ints(indices)
	fmt.Println(indices)
	// Output:
	// all arrived
	// [0 1 2]
}

// Local keeps one value per thread.
func ExampleLocal() {
	var name threading.Local[string]
	name.Set("main's")
	t := threading.NewThread(func(context.Context) error {
		_, ok := name.Lookup()
		fmt.Println("worker has a value:", ok)
		return nil
	})
	_ = t.Start()
	_ = t.Join()
	fmt.Println(name.Get())
	// Output:
	// worker has a value: false
	// main's
}

// An Observer sees every wait that blocked.
func ExampleAddObserver() {
	obs := &waitPrinter{}
	defer threading.AddObserver(obs)()
	l := threading.NewLock(threading.WithName("hot"))
	l.Acquire()
	t := threading.NewThread(func(context.Context) error { l.Acquire(); return l.Release() }, threading.WithName("waiter"))
	_ = t.Start()
	for l.Stats().Waiters == 0 {
	}
	_ = l.Release()
	_ = t.Join()
	// Output: waiter waited for Lock "hot": acquired
}

type waitPrinter struct{ threading.NopObserver }

func (waitPrinter) ObserveWait(e *threading.WaitEvent) {
	p := threading.Describe(e.Primitive)
	if p.Kind != threading.KindLock {
		return // the Join waited too
	}
	fmt.Printf("%s waited for %s %q: %s\n", e.Waiter.Name(), p.Kind, p.Name, e.Outcome)
}
