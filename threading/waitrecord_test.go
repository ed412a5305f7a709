package threading

import (
	"context"
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
	"time"
)

// TestBlockingWaitAllocs checks that a wait that blocks (parks, and is
// published in its thread's record for the graph) allocates nothing once
// its goroutine has waited on the primitive before, for the locks, the
// semaphore, the condition and the WaitGroup drop-in: the waiter, its
// channel and its thread's wait record are reused. Each round, a helper
// goroutine takes the primitive, lets the test goroutine block on it for
// a while, and gives it up.
func TestBlockingWaitAllocs(t *testing.T) {
	type prim struct {
		name          string
		hold, release func()
		wait          func()
		stats         func() Stats
	}
	var (
		l    Lock
		tl   Lock
		rl   RLock
		rw   RWLock
		rw2  RWLock
		sem  = mustSemaphore(t, 1)
		wg   WaitGroup
		ev   Event
		ev2  Event
		cl   Lock
		cond = NewCondition(&cl)
		flag bool
	)
	notify := func() { // the helper's release, for the Condition rows
		cl.Lock()
		flag = true
		_ = cond.Notify(1)
		cl.Unlock()
	}
	condWait := func(wait func()) func() {
		return func() {
			cl.Lock()
			for !flag {
				wait()
			}
			flag = false
			cl.Unlock()
		}
	}
	prims := []prim{
		{"Lock", l.Lock, l.Unlock, func() { l.Lock(); l.Unlock() }, l.Stats},
		{"RLock", rl.Lock, rl.Unlock, func() { rl.Lock(); rl.Unlock() }, rl.Stats},
		{"RWLock writer behind a reader", rw.RLock, rw.RUnlock, func() { rw.Lock(); rw.Unlock() }, rw.Stats},
		{"RWLock reader behind a writer", rw2.Lock, rw2.Unlock, func() { rw2.RLock(); rw2.RUnlock() }, rw2.Stats},
		{"Semaphore", sem.Acquire, sem.Unlock, func() { sem.Acquire(); sem.Unlock() }, sem.Stats},
		{"WaitGroup", func() { wg.Add(1) }, wg.Done, wg.Wait, wg.Stats},
		{"Event", ev.Clear, ev.Set, ev.Wait, ev.Stats},
		{"Event, with a timeout", ev2.Clear, ev2.Set, func() {
			if !ev2.WaitTimeout(time.Minute) {
				t.Error("timed out")
			}
		}, ev2.Stats},
		{"Lock, with a timeout", tl.Lock, tl.Unlock, func() {
			if !tl.AcquireTimeout(time.Minute) {
				t.Error("timed out")
			}
			tl.Unlock()
		}, tl.Stats},
		{"Condition", func() {}, notify, condWait(func() { _ = cond.Wait() }), cond.Stats},
		{"Condition, with a timeout", func() {}, notify, condWait(func() { _, _ = cond.WaitTimeout(time.Minute) }), cond.Stats},
	}
	for _, p := range prims {
		t.Run(p.name, func(t *testing.T) {
			start, held := make(chan struct{}), make(chan struct{})
			done := make(chan struct{})
			go func() {
				defer close(done)
				for range start {
					p.hold()
					held <- struct{}{}
					time.Sleep(50 * time.Microsecond) // long enough for the waiter to park
					p.release()
				}
			}()
			round := func() {
				start <- struct{}{}
				<-held
				p.wait()
			}
			// No GC while measuring: a GC may collect the goroutine's idle
			// spare waiter (held weakly, see waiter), and the next wait
			// then makes another, more often in race builds, whose
			// instrumentation allocates. The forced cycle is one that may
			// have been under way, finished before the warm-up.
			defer debug.SetGCPercent(debug.SetGCPercent(-1))
			runtime.GC()
			for range 20 { // the waiter, its record and its sampled stack's buffer are made here
				round()
			}
			// MemStats counts the whole process's allocations, and a
			// goroutine another test left behind (a timer, a sampler) may
			// allocate meanwhile: of three windows of 200 rounds, the one
			// with the fewest allocations is judged. One allocation per wait
			// shows in all three.
			const n, windows = 200, 3
			before := p.stats()
			allocs := uint64(1 << 62)
			for range windows {
				var m0, m1 runtime.MemStats
				runtime.ReadMemStats(&m0)
				for range n {
					round()
				}
				runtime.ReadMemStats(&m1)
				allocs = min(allocs, m1.Mallocs-m0.Mallocs)
			}
			close(start)
			<-done
			after := p.stats()
			waits := after.Contentions - before.Contentions
			if waits < windows*n/2 {
				t.Fatalf("only %d of %d rounds waited", waits, windows*n)
			}
			if raceEnabled {
				// The race detector's instrumentation allocates on its own
				// (a few per hundred waits here): the budget is the
				// shipped build's, which CI runs without -race too.
				t.Logf("%d allocations in %d rounds, race build", allocs, n)
				return
			}
			// A few allocations in 200 rounds (a stack sampled from a place
			// not seen before gets its entry in the waiters' profile), not
			// one per wait.
			if allocs > n/20 {
				t.Errorf("%d allocations in the best of %d windows of %d rounds (%d waits in all): a blocking wait allocates", allocs, windows, n, waits)
			}
		})
	}
}

func mustSemaphore(t *testing.T, v int) *Semaphore {
	s, err := NewSemaphore(v)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestWaitRecordReadWhileReused reads a thread's wait while the thread keeps
// blocking on two primitives in turn, each wait reusing its record: every
// read must be one whole wait, never fields of one with fields of another,
// and a later read never shows an earlier wait.
func TestWaitRecordReadWhileReused(t *testing.T) {
	var a, cl Lock
	cond := NewCondition(&cl)
	holding, release := make(chan uint64), make(chan struct{})
	go func() {
		a.Lock()
		holding <- curGoid()
		<-release
		a.Unlock()
	}()
	holder := <-holding
	defer close(release)

	const rounds = 150
	w := NewThread(func(context.Context) error {
		for range rounds {
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Microsecond)
			_ = a.AcquireContext(ctx) // blocks until the timeout: a holds it
			cancel()
			cl.Lock()
			_, _ = cond.WaitTimeout(200 * time.Microsecond) // nobody notifies
			cl.Unlock()
		}
		return nil
	})
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	var reads, onA, onCond int
	var lastSeq uint64
	for w.IsAlive() {
		info, ok := w.Waiting()
		if !ok {
			runtime.Gosched()
			continue
		}
		reads++
		if info.Seq < lastSeq {
			t.Fatalf("read wait %d after wait %d", info.Seq, lastSeq)
		}
		lastSeq = info.Seq
		switch info.Primitive {
		case Primitive(&a):
			onA++
			if info.Kind != WaitAcquire || info.Holder != holder || !info.Cancellable {
				t.Fatalf("a wait on the lock read as %+v (holder %d)", info, holder)
			}
		case Primitive(cond):
			onCond++
			if info.Kind != WaitNotify || info.Holder != 0 || info.Cancellable {
				t.Fatalf("a wait on the condition read as %+v", info)
			}
		default:
			t.Fatalf("a wait on %v", info.Primitive)
		}
	}
	if err := w.Join(); err != nil {
		t.Fatal(err)
	}
	if onA == 0 || onCond == 0 {
		t.Fatalf("%d reads saw %d waits on the lock and %d on the condition: the test did not race", reads, onA, onCond)
	}
	t.Logf("%d reads: %d on the lock, %d on the condition", reads, onA, onCond)
}

// TestWaitRecordSeqlock rewrites a thread's wait record as fast as it can,
// alternating two waits, while another goroutine reads it: a copy must be
// one of the two whole (the seqlock throws away a copy that raced with a
// write), which a read through real waits, whose writes are rare, would
// seldom put to the test.
func TestWaitRecordSeqlock(t *testing.T) {
	a := NewLock(WithName("seqlock-a"))
	cl := NewLock()
	b := NewCondition(cl, WithName("seqlock-b"))
	ready, stop, done := make(chan *Thread), make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		g := curGoid()
		th := threadForGoid(g)
		sa := waitScope{t: th, p: a, m: a.m.x.Load().meta, kind: WaitAcquire, g: g, holder: 7, ctx: context.Background()}
		sb := waitScope{t: th, p: b, m: b.x.meta, kind: WaitNotify, g: g}
		ready <- th
		for i := 0; ; i++ {
			select {
			case <-stop:
				th.waiting.Store(nil)
				a.m.x.Load().waiters.Store(0)
				b.x.waiters.Store(0)
				return
			default:
			}
			sa.rec, sa.start = nil, 0
			sa.publish()
			sb.rec, sb.start = nil, 0
			sb.drain = i%2 == 0 // a field only some of b's waits set
			sb.publish()
		}
	}()
	th := <-ready
	var onA, onB int
	deadline := time.Now().Add(200 * time.Millisecond)
	for time.Now().Before(deadline) {
		info, ok := th.Waiting()
		if !ok {
			continue
		}
		switch info.Primitive {
		case Primitive(a):
			onA++
			if info.Kind != WaitAcquire || info.Holder != 7 || !info.Cancellable || info.drain {
				t.Errorf("a's wait read as %+v", info)
			}
		case Primitive(b):
			onB++
			if info.Kind != WaitNotify || info.Holder != 0 || info.Cancellable {
				t.Errorf("b's wait read as %+v", info)
			}
		}
		if t.Failed() {
			break
		}
	}
	close(stop)
	<-done
	if onA == 0 || onB == 0 {
		t.Fatalf("reads saw %d waits on a and %d on b: the test did not race", onA, onB)
	}
}

// TestTimedWaitReusesTimer has a timed wait woken just as its timer fires,
// again and again, each followed by a long timed wait that another
// goroutine ends soon: the reused timer must never end the long wait with
// the short one's stale expiry, whichever timer channel semantics the
// program runs with (asynctimerchan=1 is what a main module older than
// Go 1.23 gets; timers are not reused there, see resetTimer).
func TestTimedWaitReusesTimer(t *testing.T) {
	for _, godebug := range []string{"asynctimerchan=0", "asynctimerchan=1"} {
		t.Run(godebug, func(t *testing.T) {
			t.Setenv("GODEBUG", godebug)
			done := make(chan error, 1)
			go func() { // a goroutine of its own: its waiter, and timer, are new
				var l Lock
				for i := range 200 {
					l.Lock()
					go func() {
						time.Sleep(time.Duration(i%8) * 20 * time.Microsecond)
						l.Unlock()
					}()
					if l.AcquireTimeout(80 * time.Microsecond) { // races with its timer
						l.Unlock()
					} else {
						l.Lock() // the release is on its way
						l.Unlock()
					}
					l.Lock()
					go func() {
						time.Sleep(200 * time.Microsecond)
						l.Unlock()
					}()
					start := time.Now()
					if !l.AcquireTimeout(time.Minute) {
						done <- fmt.Errorf("round %d: a wait of a minute timed out after %v", i, time.Since(start))
						return
					}
					l.Unlock()
				}
				done <- nil
			}()
			if err := <-done; err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestWaitRecordNested has a Condition's wait, once notified, block again to
// take its lock back: the wait to reacquire is published while the wait to
// be notified has not ended yet. Each must keep its own record: the
// condition's sampled stack in the waiters' profile is the wait for the
// notification, not the reacquisition's (which is the lock's).
func TestWaitRecordNested(t *testing.T) {
	SetWaitStackSampling(1)
	defer SetWaitStackSampling(DefaultWaitStackSampling)
	cl := NewLock(WithName("nested-lock"))
	cond := NewCondition(cl, WithName("nested-cond"))
	waiting, done := make(chan struct{}), make(chan struct{})
	var flag bool
	go func() {
		defer close(done)
		cl.Lock()
		close(waiting)
		for !flag {
			_ = cond.Wait()
		}
		cl.Unlock()
	}()
	<-waiting
	for cond.Stats().Waiters == 0 { // parked on the condition
		time.Sleep(100 * time.Microsecond)
	}
	cl.Lock()
	flag = true
	_ = cond.Notify(1)
	for cl.Stats().Waiters == 0 { // parked again, to take cl back
		time.Sleep(100 * time.Microsecond)
	}
	cl.Unlock()
	<-done
	var seen bool
	for _, s := range waiterStacks.snapshot() {
		if s.Label != "nested-cond" {
			continue
		}
		seen = true
		frames := runtime.CallersFrames(s.Stack)
		for {
			f, more := frames.Next()
			if strings.Contains(f.Function, "lockSlow") {
				t.Fatalf("the condition's wait sampled the reacquisition's stack: %s", f.Function)
			}
			if !more {
				break
			}
		}
	}
	if !seen {
		t.Fatal("no sample of the condition's wait")
	}
}
