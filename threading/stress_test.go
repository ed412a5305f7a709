package threading

import (
	"context"
	"sync/atomic"
	"testing"
	"time"
)

// A bounded stress test: hundreds of threads use every primitive at once,
// and the invariants are checked exactly: no lost update, no lost wake-up, a
// semaphore never over-subscribed, readers never see a half-done write.
func TestStress(t *testing.T) {
	threads, iters := 200, 200
	if testing.Short() {
		threads, iters = 50, 50
	}
	var (
		lock      = NewLock(WithName("stress.lock"))
		rlock     = NewRLock(WithName("stress.rlock"))
		rw        = NewRWLock(WithName("stress.rw"))
		sem       = must(NewBoundedSemaphore(2, WithName("stress.sem")))
		cond      = NewCondition(NewLock(), WithName("stress.cond"))
		gate      = NewEvent(WithName("stress.gate"))
		barrier   = must(NewBarrier(threads, WithName("stress.barrier")))
		counter   int
		rcounter  int
		a, b      int
		inSem     atomic.Int32
		queue     []int
		produced  atomic.Int64
		consumed  atomic.Int64
		sum       atomic.Int64
		bad       atomic.Int32
		timeouts  atomic.Int32
		barrierOK atomic.Int32
	)
	const queueCap = 8
	producers := threads / 2
	items := producers * iters
	work := func(i int) func(context.Context) error {
		return func(context.Context) error {
			gate.Wait()
			for k := 0; k < iters; k++ {
				lock.Lock()
				counter++
				lock.Unlock()

				rlock.Acquire()
				rlock.Acquire()
				rcounter++
				_ = rlock.Release()
				_ = rlock.Release()

				if k%10 == 0 {
					rw.Lock()
					a++
					b++
					rw.Unlock()
				} else {
					rw.RLock()
					if a != b {
						bad.Add(1)
					}
					rw.RUnlock()
				}

				if sem.AcquireTimeout(time.Millisecond) {
					time.Sleep(time.Microsecond)
					if inSem.Add(1) > 2 {
						bad.Add(1)
					}
					inSem.Add(-1)
					_ = sem.Release()
				} else {
					timeouts.Add(1)
				}
			}
			// Producer-consumer over a bounded queue on a Condition.
			if i < producers {
				for k := 0; k < iters; k++ {
					cond.Acquire()
					_, _ = cond.WaitFor(func() bool { return len(queue) < queueCap }, -1)
					queue = append(queue, k)
					produced.Add(1)
					_ = cond.NotifyAll()
					_ = cond.Release()
				}
			} else {
				for {
					cond.Acquire()
					_, _ = cond.WaitFor(func() bool { return len(queue) > 0 || consumed.Load() == int64(items) }, -1)
					if len(queue) == 0 {
						_ = cond.NotifyAll()
						_ = cond.Release()
						break
					}
					v := queue[0]
					queue = queue[1:]
					sum.Add(int64(v))
					n := consumed.Add(1)
					_ = cond.NotifyAll()
					_ = cond.Release()
					if n == int64(items) {
						// wake the other consumers so they see the end
						cond.Acquire()
						_ = cond.NotifyAll()
						_ = cond.Release()
					}
				}
			}
			if _, err := barrier.WaitTimeout(time.Minute); err == nil {
				barrierOK.Add(1)
			}
			return nil
		}
	}
	all := make([]*Thread, threads)
	for i := range all {
		all[i] = NewThread(work(i), WithDaemon(true))
		if err := all[i].Start(); err != nil {
			t.Fatal(err)
		}
	}
	gate.Set()
	deadline := time.Now().Add(2 * time.Minute)
	for _, th := range all {
		if done, _ := th.JoinTimeout(time.Until(deadline)); !done {
			t.Fatalf("%s did not finish: lost wake-up? waiting: %v", th, func() any { w, _ := th.Waiting(); return w.Primitive }())
		}
		if th.Err() != nil {
			t.Fatal(th.Err())
		}
	}
	want := threads * iters
	wantSum := int64(producers) * int64(iters*(iters-1)/2)
	if counter != want || rcounter != want || bad.Load() != 0 || produced.Load() != int64(items) ||
		consumed.Load() != int64(items) || sum.Load() != wantSum || barrierOK.Load() != int32(threads) || rlock.Locked() || lock.Locked() {
		t.Fatalf("counter %d rcounter %d (want %d) bad %d produced %d consumed %d sum %d (want %d) barrier %d",
			counter, rcounter, want, bad.Load(), produced.Load(), consumed.Load(), sum.Load(), wantSum, barrierOK.Load())
	}
	if s := lock.Stats(); s.Acquisitions != uint64(want) || s.Waiters != 0 {
		t.Fatalf("lock stats %+v", s)
	}
	if s := sem.Stats(); s.Acquisitions+uint64(timeouts.Load()) != uint64(want) || sem.Value() != 2 {
		t.Fatalf("semaphore stats %+v, timeouts %d, value %d", s, timeouts.Load(), sem.Value())
	}
	t.Logf("lock %+v; cond %+v; sem %+v", lock.Stats(), cond.Stats(), sem.Stats())
}
