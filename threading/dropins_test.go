package threading_test

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/threadmon/threadmon/threading"
)

// waitUntil polls cond for up to 10 s.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// Embedding a Mutex or RWMutex keeps sync's methods on the outer struct.
func TestMutexEmbeds(t *testing.T) {
	var a struct {
		threading.Mutex
		n int
	}
	a.Lock()
	a.n++
	a.Unlock()
	if !a.TryLock() {
		t.Fatal("TryLock on a free embedded Mutex failed")
	}
	a.Unlock()
	var b struct {
		threading.RWMutex
		m map[string]int
	}
	b.Lock()
	b.m = map[string]int{"x": 1}
	b.Unlock()
	b.RLock()
	_ = b.m["x"]
	b.RUnlock()
	var l sync.Locker = threading.NewMutex(threading.WithName("embedded"))
	l.Lock()
	l.Unlock()
}

// Cond works over any sync.Locker, and Signal/Broadcast need not hold L.
func TestCondAnyLocker(t *testing.T) {
	rw := threading.NewRWMutex()
	for name, l := range map[string]sync.Locker{
		"sync.Mutex":      &sync.Mutex{},
		"threading.Mutex": threading.NewMutex(),
		"RLocker":         rw.RLocker(),
		"RLock":           threading.NewRLock(),
	} {
		t.Run(name, func(t *testing.T) {
			c := threading.NewCond(l, threading.WithName("cond-"+name))
			var ready atomic.Bool
			done := make(chan struct{})
			go func() {
				defer close(done)
				c.L.Lock()
				for !ready.Load() {
					c.Wait()
				}
				c.L.Unlock()
			}()
			waitUntil(t, "the waiter waits", func() bool { return c.Stats().Waiters == 1 })
			ready.Store(true)
			c.Signal() // without holding L, as sync.Cond allows
			<-done
			if s := c.Stats(); s.Acquisitions != 1 || s.Contentions != 1 {
				t.Fatalf("stats %+v", s)
			}
		})
	}
}

func TestCondBroadcastAndWaitInfo(t *testing.T) {
	var mu sync.Mutex
	c := threading.NewCond(&mu, threading.WithName("bcast"))
	const n = 5
	var wg sync.WaitGroup
	gen := 0
	threads := make([]*threading.Thread, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		threads[i] = threading.NewThread(func(context.Context) error {
			defer wg.Done()
			mu.Lock()
			for gen == 0 {
				c.Wait()
			}
			mu.Unlock()
			return nil
		})
		_ = threads[i].Start()
	}
	waitUntil(t, "all wait", func() bool { return c.Stats().Waiters == n })
	waitUntil(t, "the wait is published", func() bool { _, ok := threads[0].Waiting(); return ok })
	w, ok := threads[0].Waiting()
	if !ok || w.Kind != threading.WaitNotify || !w.Kind.Idle() || w.Primitive != threading.Primitive(c) {
		t.Fatalf("waiting %+v %v", w, ok)
	}
	mu.Lock()
	gen = 1
	mu.Unlock()
	c.Broadcast()
	wg.Wait()
	for _, th := range threads {
		_ = th.Join()
	}
	if !strings.Contains(c.String(), `"bcast"`) {
		t.Fatal(c.String())
	}
}

func TestCondCopyPanics(t *testing.T) {
	c := threading.NewCond(&sync.Mutex{})
	c.Signal()
	// The copy go vet would flag, made where vet cannot see it.
	v := reflect.New(reflect.TypeOf(c).Elem())
	v.Elem().Set(reflect.ValueOf(c).Elem())
	cp := v.Interface().(*threading.Cond)
	defer func() {
		if r := recover(); r == nil || !strings.Contains(r.(string), "copied") {
			t.Fatalf("recovered %v", r)
		}
	}()
	cp.Signal()
}

func TestWaitGroup(t *testing.T) {
	wg := threading.NewWaitGroup(threading.WithName("fetchers"))
	var n atomic.Int32
	release := make(chan struct{})
	for i := 0; i < 4; i++ {
		wg.Go(func() { <-release; n.Add(1) })
	}
	// The group's live threads (what the graph shows as its holders).
	live := func() int {
		k := 0
		for _, th := range threading.Enumerate() {
			if strings.HasPrefix(th.Name(), "fetchers-") && th.IsAlive() {
				k++
			}
		}
		return k
	}
	// Go does not wait for its thread to start; each records itself.
	waitUntil(t, "the four threads run", func() bool { return live() == 4 })
	for _, th := range threading.Enumerate() {
		if strings.HasPrefix(th.Name(), "fetchers-") && th.Daemon() {
			n.Add(100)
		}
	}
	if n.Load() != 400 {
		t.Fatalf("threads named after the group: %d", n.Load())
	}
	n.Store(0)
	waiter := threading.NewThread(func(context.Context) error { wg.Wait(); return nil })
	_ = waiter.Start()
	waitUntil(t, "Wait waits", func() bool { _, ok := waiter.Waiting(); return ok })
	if w, _ := waiter.Waiting(); w.Kind != threading.WaitGroupDone || !w.Kind.Idle() {
		t.Fatalf("wait kind %v", w.Kind)
	}
	close(release)
	_ = waiter.Join()
	waitUntil(t, "the threads end", func() bool { return live() == 0 })
	if n.Load() != 4 || wg.Counter() != 0 {
		t.Fatalf("n %d counter %d", n.Load(), wg.Counter())
	}
	var zero threading.WaitGroup
	zero.Add(2)
	go zero.Done()
	go zero.Done()
	zero.Wait()
}

func TestWaitGroupNegativePanics(t *testing.T) {
	var wg threading.WaitGroup
	wg.Add(1)
	func() {
		defer func() {
			if r := recover(); r == nil || !strings.Contains(fmt_(r), "negative WaitGroup counter") {
				t.Fatalf("recovered %v", r)
			}
		}()
		wg.Add(-2)
	}()
	if wg.Counter() != 1 {
		t.Fatalf("counter %d after the failed Add", wg.Counter())
	}
	wg.Done()
	wg.Wait()
}

func fmt_(v any) string {
	if e, ok := v.(error); ok {
		return e.Error()
	}
	s, _ := v.(string)
	return s
}

func TestOnce(t *testing.T) {
	o := threading.NewOnce(threading.WithName("init"))
	var calls atomic.Int32
	started := make(chan struct{})
	release := make(chan struct{})
	first := threading.NewThread(func(context.Context) error {
		o.Do(func() { close(started); <-release; calls.Add(1) })
		return nil
	})
	_ = first.Start()
	<-started
	second := threading.NewThread(func(context.Context) error { o.Do(func() { calls.Add(1) }); return nil })
	_ = second.Start()
	waitUntil(t, "the second Do waits", func() bool { _, ok := second.Waiting(); return ok })
	w, _ := second.Waiting()
	if w.Kind != threading.WaitOnce || w.Kind.Idle() || w.Holder != first.Ident() {
		t.Fatalf("wait %+v, first is %d", w, first.Ident())
	}
	close(release)
	_ = first.Join()
	_ = second.Join()
	if calls.Load() != 1 || !o.Done() {
		t.Fatalf("calls %d", calls.Load())
	}
	var zero threading.Once
	zero.Do(func() { calls.Add(1) })
	zero.Do(func() { calls.Add(1) })
	if calls.Load() != 2 {
		t.Fatal("zero Once")
	}
}

func TestOnceFuncs(t *testing.T) {
	n := 0
	f := threading.OnceFunc(func() { n++ })
	f()
	f()
	v := threading.OnceValue(func() int { n++; return n })
	if v() != 2 || v() != 2 {
		t.Fatal("OnceValue")
	}
	a, b := threading.OnceValues(func() (int, error) { return 7, nil })()
	if a != 7 || b != nil {
		t.Fatal("OnceValues")
	}
	p := threading.OnceFunc(func() { panic("boom") })
	for i := 0; i < 2; i++ {
		func() {
			defer func() {
				if r := recover(); r != "boom" {
					t.Fatalf("call %d recovered %v", i, r)
				}
			}()
			p()
		}()
	}
}

func TestGroup(t *testing.T) {
	g, ctx := threading.GroupWithContext(context.Background(), threading.WithName("fetch"))
	boom := errors.New("boom")
	g.Go(func() error { return boom })
	g.Go(func() error { <-ctx.Done(); return ctx.Err() })
	if err := g.Wait(); err != boom {
		t.Fatalf("Wait = %v", err)
	}
	if context.Cause(ctx) != boom {
		t.Fatalf("cause %v", context.Cause(ctx))
	}

	var lim threading.Group
	lim.SetLimit(2)
	var active, peak atomic.Int32
	for i := 0; i < 10; i++ {
		lim.Go(func() error {
			n := active.Add(1)
			for {
				p := peak.Load()
				if n <= p || peak.CompareAndSwap(p, n) {
					break
				}
			}
			time.Sleep(time.Millisecond)
			active.Add(-1)
			return nil
		})
	}
	if err := lim.Wait(); err != nil || peak.Load() > 2 {
		t.Fatalf("err %v peak %d", err, peak.Load())
	}

	var one threading.Group
	one.SetLimit(1)
	hold := make(chan struct{})
	if !one.TryGo(func() error { <-hold; return nil }) {
		t.Fatal("TryGo refused with a free slot")
	}
	if one.TryGo(func() error { return nil }) {
		t.Fatal("TryGo ran past the limit")
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Fatal("SetLimit while active did not panic")
			}
		}()
		one.SetLimit(3)
	}()
	close(hold)
	if err := one.Wait(); err != nil {
		t.Fatal(err)
	}
	if k := threading.Describe(&one).Kind; k != threading.KindGroup {
		t.Fatal(k)
	}
}

// A copy of a lock that has a wait queue never shares it: its first slow
// path panics, as a copied sync.Cond does, instead of waking the original's
// waiters or waiting forever.
func TestLockCopyPanics(t *testing.T) {
	l := threading.NewMutex(threading.WithName("copied"))
	l.Lock()
	th := threading.NewThread(func(context.Context) error { l.Lock(); l.Unlock(); return nil })
	_ = th.Start()
	waitUntil(t, "a waiter queues", func() bool { return l.Stats().Waiters == 1 })
	// The copy go vet would flag, made where vet cannot see it.
	v := reflect.New(reflect.TypeOf(l).Elem())
	v.Elem().Set(reflect.ValueOf(l).Elem())
	cp := v.Interface().(*threading.Mutex)
	func() {
		defer func() {
			r := recover()
			err, _ := r.(error)
			if err == nil || !strings.Contains(err.Error(), "copied") {
				t.Fatalf("recovered %v", r)
			}
		}()
		cp.Lock() // locked (copied state): the slow path finds the copy
	}()
	l.Unlock()
	_ = th.Join()
}
