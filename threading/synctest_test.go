package threading_test

// testing/synctest with threadmon: two bubbles at once, each with Lock
// contention, a Condition, an Event and a Barrier. A bubble's fake clock
// only moves when every goroutine in it is durably blocked, and
// synctest.Wait only returns then, so this passes only if a goroutine parked
// on a threadmon primitive is durably blocked (it waits on something
// created in its own bubble), and nothing a bubble creates is used outside
// it (a pool of waiter channels shared by the whole process is).
//
// The threadmon test runs in a child process (this test binary, run again):
// misuse of a bubbled channel is a fatal error, which would end every other
// test of the package too.

import (
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/threadmon/threadmon/threading"
)

const envSynctestChild = "THREADMON_SYNCTEST_CHILD"

// The primitives a bubble uses, so that the same workload runs on threadmon
// and on the control.
type (
	stLock interface {
		Lock()
		Unlock()
	}
	stCond interface {
		Lock()
		Unlock()
		Wait()
		Signal()
	}
	stEvent interface {
		Set()
		Wait()
		WaitTimeout(time.Duration) bool
	}
	stBarrier interface{ Wait() int }
	// stWaiting is what threadmon's primitives add: how many wait now.
	stWaiting interface{ waiting() int }
)

type stKit struct {
	lock    func() stLock
	cond    func() stCond
	event   func() stEvent
	barrier func(parties int) stBarrier
}

// ---- threadmon ----

type tmLock struct{ l *threading.Lock }

func (l tmLock) Lock()        { l.l.Lock() }
func (l tmLock) Unlock()      { l.l.Unlock() }
func (l tmLock) waiting() int { return l.l.Stats().Waiters }

type tmCond struct{ c *threading.Condition }

func (c tmCond) Lock()   { c.c.Acquire() }
func (c tmCond) Unlock() { _ = c.c.Release() }
func (c tmCond) Wait() {
	if err := c.c.Wait(); err != nil {
		panic(err)
	}
}
func (c tmCond) Signal() {
	if err := c.c.Notify(1); err != nil {
		panic(err)
	}
}
func (c tmCond) waiting() int { return c.c.Stats().Waiters }

type tmEvent struct{ *threading.Event }

func (e tmEvent) waiting() int { return e.Stats().Waiters }

type tmBarrier struct{ b *threading.Barrier }

func (b tmBarrier) Wait() int {
	i, err := b.b.Wait()
	if err != nil {
		panic(err)
	}
	return i
}
func (b tmBarrier) waiting() int { return b.b.NWaiting() }

var threadmonKit = stKit{
	lock:  func() stLock { return tmLock{threading.NewLock()} },
	cond:  func() stCond { return tmCond{threading.NewCondition(threading.NewLock())} },
	event: func() stEvent { return tmEvent{threading.NewEvent()} },
	barrier: func(n int) stBarrier {
		b, err := threading.NewBarrier(n)
		if err != nil {
			panic(err)
		}
		return tmBarrier{b}
	},
}

// ---- the control: channels and sync.Cond ----
//
// sync.Mutex is not durably blocking (see testing/synctest): a bubble whose
// goroutines queue on a sync.Mutex while its holder sleeps never advances
// its clock. So the control's lock is a one-slot channel.

type chanLock chan struct{}

func (l chanLock) Lock()   { l <- struct{}{} }
func (l chanLock) Unlock() { <-l }

type chanEvent struct {
	once sync.Once
	ch   chan struct{}
}

func (e *chanEvent) Set()  { e.once.Do(func() { close(e.ch) }) }
func (e *chanEvent) Wait() { <-e.ch }
func (e *chanEvent) WaitTimeout(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-e.ch:
		return true
	case <-t.C:
		return false
	}
}

type chanBarrier struct {
	mu       chanLock
	n, count int
	gen      chan struct{}
}

func (b *chanBarrier) Wait() int {
	b.mu.Lock()
	i := b.count
	b.count++
	if b.count == b.n {
		close(b.gen)
		b.gen, b.count = make(chan struct{}), 0
		b.mu.Unlock()
		return i
	}
	g := b.gen
	b.mu.Unlock()
	<-g
	return i
}

var controlKit = stKit{
	lock:    func() stLock { return make(chanLock, 1) },
	cond:    func() stCond { return syncCond{sync.NewCond(make(chanLock, 1))} },
	event:   func() stEvent { return &chanEvent{ch: make(chan struct{})} },
	barrier: func(n int) stBarrier { return &chanBarrier{mu: make(chanLock, 1), n: n, gen: make(chan struct{})} },
}

type syncCond struct{ *sync.Cond }

func (c syncCond) Lock()   { c.L.Lock() }
func (c syncCond) Unlock() { c.L.Unlock() }

// ---- the workload ----

// checkWaiting checks how many wait on p, where p can say.
func checkWaiting(t *testing.T, what string, p any, want int) {
	t.Helper()
	if w, ok := p.(stWaiting); ok {
		if got := w.waiting(); got != want {
			t.Errorf("%s: %d waiting after synctest.Wait, want %d", what, got, want)
		}
	}
}

func bubbleWorkload(t *testing.T, k stKit) {
	// Lock contention: each worker sleeps inside the critical section, so
	// the others queue; the fake clock moves only while all of them are
	// durably blocked.
	const workers, hold = 4, 10 * time.Millisecond
	l := k.lock()
	var inside, entered atomic.Int32
	var wg sync.WaitGroup
	start := time.Now()
	for i := 0; i < workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l.Lock()
			if inside.Add(1) != 1 {
				t.Error("two goroutines inside the lock")
			}
			entered.Add(1)
			time.Sleep(hold)
			inside.Add(-1)
			l.Unlock()
		}()
	}
	synctest.Wait() // one worker sleeps holding the lock, the others wait for it
	if got := entered.Load(); got != 1 {
		t.Errorf("lock: %d workers got in before the first released, want 1", got)
	}
	checkWaiting(t, "lock", l, workers-1)
	wg.Wait()
	if got := time.Since(start); got != workers*hold {
		t.Errorf("lock: the contention took %v of the bubble's clock, want %v", got, workers*hold)
	}

	// A Condition wait, then a notify.
	c := k.cond()
	ready := false // guarded by c's lock
	var woke atomic.Bool
	go func() {
		c.Lock()
		for !ready {
			c.Wait()
		}
		c.Unlock()
		woke.Store(true)
	}()
	synctest.Wait()
	if woke.Load() {
		t.Error("condition: the waiter returned before it was notified")
	}
	checkWaiting(t, "condition", c, 1)
	c.Lock()
	ready = true
	c.Signal()
	c.Unlock()
	synctest.Wait()
	if !woke.Load() {
		t.Error("condition: the waiter did not return after the notify")
	}

	// An Event: synctest.Wait returns while a goroutine is blocked in
	// Event.Wait, which is still waiting then; a timed wait runs on the
	// bubble's clock.
	ev := k.event()
	var set atomic.Bool
	go func() {
		ev.Wait()
		set.Store(true)
	}()
	synctest.Wait()
	if set.Load() {
		t.Error("event: Wait returned before Set")
	}
	checkWaiting(t, "event", ev, 1)
	t0 := time.Now()
	if ev.WaitTimeout(time.Second) {
		t.Error("event: WaitTimeout(1s) returned true before Set")
	}
	if got := time.Since(t0); got != time.Second {
		t.Errorf("event: WaitTimeout(1s) took %v of the bubble's clock, want 1s", got)
	}
	ev.Set()
	synctest.Wait()
	if !set.Load() {
		t.Error("event: Wait did not return after Set")
	}

	// A Barrier of 3: two parties wait, the third lets all through.
	b := k.barrier(3)
	idx := make(chan int, 3)
	for i := 0; i < 2; i++ {
		go func() { idx <- b.Wait() }()
	}
	synctest.Wait()
	if n := len(idx); n != 0 {
		t.Errorf("barrier: %d parties passed a barrier of 3 with only 2 waiting", n)
	}
	checkWaiting(t, "barrier", b, 2)
	idx <- b.Wait()
	seen := map[int]bool{}
	for i := 0; i < 3; i++ {
		seen[<-idx] = true
	}
	if len(seen) != 3 || !seen[0] || !seen[1] || !seen[2] {
		t.Errorf("barrier: indices %v, want 0, 1 and 2", seen)
	}
}

// twoBubbles runs the workload in two bubbles at the same time, then waits
// on the same kinds of primitives outside any bubble: a bubble must leave
// nothing behind that a later wait picks up.
func twoBubbles(t *testing.T, k stKit) {
	const rounds = 10
	t.Run("bubbles", func(t *testing.T) {
		for _, name := range []string{"bubble-1", "bubble-2"} {
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				synctest.Test(t, func(t *testing.T) {
					for r := 0; r < rounds && !t.Failed(); r++ {
						bubbleWorkload(t, k)
					}
				})
			})
		}
	})
	t.Run("after-bubbles", func(t *testing.T) { outsideWorkload(t, k) })
}

// outsideWorkload makes goroutines outside any bubble wait on a lock and an
// event (parked, where the primitive can tell).
func outsideWorkload(t *testing.T, k stKit) {
	const workers = 4
	l := k.lock()
	l.Lock()
	var wg sync.WaitGroup
	for i := 0; i < workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l.Lock()
			l.Unlock()
		}()
	}
	waitFor(t, "lock waiters", l, workers)
	l.Unlock()
	ev := k.event()
	for i := 0; i < workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ev.Wait()
		}()
	}
	waitFor(t, "event waiters", ev, workers)
	ev.Set()
	wg.Wait()
}

// waitFor polls until n wait on p, where p can say (for at most 10 s).
func waitFor(t *testing.T, what string, p any, n int) {
	t.Helper()
	w, ok := p.(stWaiting)
	if !ok {
		return
	}
	deadline := time.Now().Add(10 * time.Second)
	for w.waiting() < n {
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d waiting after 10s, want %d", what, w.waiting(), n)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestSynctestTwoBubbles runs the bubbles with threadmon's primitives, in a
// child process.
func TestSynctestTwoBubbles(t *testing.T) {
	if os.Getenv(envSynctestChild) != "" {
		twoBubbles(t, threadmonKit)
		return
	}
	out, err := runSelf(t, "^TestSynctestTwoBubbles$", envSynctestChild+"=1", 60*time.Second)
	if err != nil {
		t.Fatalf("the bubbles failed (%v); key lines:\n%s\n--- child output ---\n%s", err, keyLines(out), tailText(out, 6000))
	}
	for _, sub := range []string{"bubbles/bubble-1", "bubbles/bubble-2", "after-bubbles"} {
		if !strings.Contains(out, "--- PASS: TestSynctestTwoBubbles/"+sub) {
			t.Errorf("%s did not pass:\n%s", sub, tailText(out, 6000))
		}
	}
}

// TestSynctestTwoBubblesControl runs the same bubbles on channels and
// sync.Cond: it shows the workload itself is sound.
func TestSynctestTwoBubblesControl(t *testing.T) {
	twoBubbles(t, controlKit)
}
