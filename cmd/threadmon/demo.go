package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime/pprof"
	"sync"
	"sync/atomic"
	"time"

	"github.com/threadmon/threadmon/threading"
)

// workload is the demo: bank transfers on contended locks, a
// producer-consumer on a Condition, a barrier pipeline, a pool guarded by a
// semaphore, and five dining philosophers who deadlock after a few seconds.
// Every loop stops when the demo's context ends; the philosophers wait
// through it, so stopping the demo frees them.
type workload struct {
	ctx       context.Context
	cancel    context.CancelFunc
	threads   []*threading.Thread
	transfers atomic.Int64
	consumed  atomic.Int64
	rounds    atomic.Int64
}

type account struct {
	mu      *threading.Lock
	balance int
}

func startDemo(parent context.Context) *workload {
	ctx, cancel := context.WithCancel(parent)
	w := &workload{ctx: ctx, cancel: cancel}
	accounts := make([]*account, 4)
	for i := range accounts {
		accounts[i] = &account{mu: threading.NewLock(threading.WithName(fmt.Sprintf("account-%d", i))), balance: 1000}
	}
	for i := 0; i < 4; i++ {
		w.spawn(fmt.Sprintf("teller-%d", i), func() { w.transfer(accounts) })
	}
	cond := threading.NewCondition(threading.NewLock(), threading.WithName("queue"))
	var queue []int
	w.spawn("producer", func() {
		cond.Acquire()
		for len(queue) >= 16 && !w.done() {
			_, _ = cond.WaitTimeout(50 * time.Millisecond)
		}
		queue = append(queue, rand.IntN(100))
		_ = cond.Notify(1)
		_ = cond.Release()
		time.Sleep(time.Millisecond)
	})
	for i := 0; i < 2; i++ {
		w.spawn(fmt.Sprintf("consumer-%d", i), func() {
			cond.Acquire()
			for len(queue) == 0 && !w.done() {
				_, _ = cond.WaitTimeout(50 * time.Millisecond)
			}
			if len(queue) > 0 {
				queue = queue[1:]
				w.consumed.Add(1)
				_ = cond.NotifyAll()
			}
			_ = cond.Release()
			time.Sleep(2 * time.Millisecond)
		})
	}
	barrier, _ := threading.NewBarrier(3, threading.WithName("pipeline"),
		threading.WithAction(func() error { w.rounds.Add(1); return nil }))
	for i := 0; i < 3; i++ {
		i := i
		w.spawn(fmt.Sprintf("stage-%d", i), func() {
			time.Sleep(time.Duration(5*(i+1)) * time.Millisecond)
			if _, err := barrier.WaitTimeout(time.Second); err != nil {
				barrier.Reset()
			}
		})
	}
	pool, _ := threading.NewSemaphore(2, threading.WithName("db-pool"))
	for i := 0; i < 5; i++ {
		w.spawn(fmt.Sprintf("client-%d", i), func() {
			if pool.AcquireTimeout(100 * time.Millisecond) {
				time.Sleep(3 * time.Millisecond)
				_ = pool.Release()
			}
		})
	}
	w.philosophers(5, deadlockAfter)
	if pprof.Lookup("goroutineleak") != nil {
		// Where Go can find leaks, show one: the page's "Leaked goroutines"
		// panel and /api/leaks list it.
		leakOnce()
	}
	return w
}

// leakOnce starts, once per process, a Thread stuck for good on a channel
// nothing else holds: the demo's goroutine leak (only where Go's
// goroutineleak profile can see it).
func leakOnce() {
	leakStarted.Do(func() {
		t := threading.NewThread(func(context.Context) error {
			forgotten := make(chan int)
			<-forgotten // nobody else holds it: this thread is leaked
			return nil
		}, threading.WithName("forgotten-reply"), threading.WithDaemon(true))
		_ = t.Start()
	})
}

var leakStarted sync.Once

// deadlockAfter is when the philosophers close their cycle.
var deadlockAfter = 3 * time.Second

// philosophers starts n threads that think for a while, then each takes its
// left fork and waits for its right one: the classic deadlock.
func (w *workload) philosophers(n int, after time.Duration) {
	forks := make([]*threading.Lock, n)
	for i := range forks {
		forks[i] = threading.NewLock(threading.WithName(fmt.Sprintf("fork-%d", i)))
	}
	seated, _ := threading.NewBarrier(n, threading.WithName("table"))
	for i := 0; i < n; i++ {
		t := threading.NewThread(func(context.Context) error {
			select { // think
			case <-time.After(after):
			case <-w.ctx.Done():
				return nil
			}
			if err := forks[i].AcquireContext(w.ctx); err != nil {
				return nil
			}
			defer forks[i].Release()
			if _, err := seated.WaitContext(w.ctx); err != nil {
				return nil
			}
			if err := forks[(i+1)%n].AcquireContext(w.ctx); err != nil {
				return nil // the demo ended, or the deadlock was broken
			}
			return forks[(i+1)%n].Release()
		}, threading.WithName(fmt.Sprintf("philosopher-%d", i)), threading.WithDaemon(true))
		_ = t.Start()
		w.threads = append(w.threads, t)
	}
}

func (w *workload) done() bool { return w.ctx.Err() != nil }

// spawn runs step in a named daemon thread until the demo ends.
func (w *workload) spawn(name string, step func()) {
	t := threading.NewThread(func(context.Context) error {
		for !w.done() {
			step()
		}
		return nil
	}, threading.WithName(name), threading.WithDaemon(true))
	_ = t.Start()
	w.threads = append(w.threads, t)
}

// transfer moves money between two accounts, locking them in a fixed order.
func (w *workload) transfer(accounts []*account) {
	a, b := rand.IntN(len(accounts)), rand.IntN(len(accounts))
	if a == b {
		return
	}
	first, second := accounts[min(a, b)], accounts[max(a, b)]
	first.mu.Lock()
	second.mu.Lock()
	amount := rand.IntN(10)
	accounts[a].balance -= amount
	accounts[b].balance += amount
	time.Sleep(200 * time.Microsecond)
	second.mu.Unlock()
	first.mu.Unlock()
	w.transfers.Add(1)
}

func (w *workload) stop() {
	w.cancel()
	for _, t := range w.threads {
		_, _ = t.JoinTimeout(5 * time.Second)
	}
}
