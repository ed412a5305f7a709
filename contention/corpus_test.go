package contention

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/threadmon/threadmon/threading"
)

// A corpus of deadlock shapes, and of look-alikes that are not deadlocks.
// The shapes are modelled on well-known public bug patterns in large Go
// projects, as those patterns are commonly described; they are written
// here from that description, not copied from any bug report or project's
// code. Each positive shape must be reported within 2 s naming its
// threads; each negative one must not be reported during a 1 s observation
// at a 5 ms interval. Every goroutine of a shape ends before its case
// does: its blocking waits go through ctx (cancelled at the end), or the
// case releases them itself (cleanup).

type corpusCase struct {
	name string
	// positive: a report must name every one of threads (a substring of
	// a reported thread's name each); negative: nothing is reported.
	positive bool
	threads  []string
	// start starts the shape and returns what ends it, after ctx is
	// cancelled: it waits for every goroutine the shape started.
	start func(t *testing.T, ctx context.Context) (cleanup func())
}

func isWaiting(th *threading.Thread) bool { _, ok := th.Waiting(); return ok }

// untilWaiting polls (bounded) until th waits on something threadmon knows.
func untilWaiting(th *threading.Thread) {
	for i := 0; i < 2000 && !isWaiting(th); i++ {
		time.Sleep(time.Millisecond)
	}
}

func joinAll(t *testing.T, ts ...*threading.Thread) {
	for _, th := range ts {
		if ok, _ := th.JoinTimeout(10 * time.Second); !ok {
			t.Errorf("thread %s did not end", th.Name())
		}
	}
}

func corpusThread(name string, fn func(ctx context.Context) error) *threading.Thread {
	th := threading.NewThread(fn, threading.WithName(name))
	_ = th.Start()
	return th
}

func corpus() []corpusCase {
	return []corpusCase{
		// Kubernetes-style lock-order inversion: one code path takes lock
		// A then B, another B then A; two threads meet in the middle.
		{name: "kube-abba", positive: true, threads: []string{"kube-path-1", "kube-path-2"},
			start: func(t *testing.T, ctx context.Context) func() {
				a := threading.NewLock(threading.WithName("kube-a"))
				b := threading.NewLock(threading.WithName("kube-b"))
				bar, _ := threading.NewBarrier(2)
				path := func(first, second *threading.Lock) func(context.Context) error {
					return func(context.Context) error {
						first.Acquire()
						defer first.Release()
						if _, err := bar.WaitContext(ctx); err != nil {
							return err
						}
						if err := second.AcquireContext(ctx); err != nil {
							return nil
						}
						return second.Release()
					}
				}
				t1, t2 := corpusThread("kube-path-1", path(a, b)), corpusThread("kube-path-2", path(b, a))
				return func() { joinAll(t, t1, t2) }
			}},
		// etcd-style recursive read lock: a reader holding an RWMutex's
		// read lock calls a helper that takes the read lock again, while a
		// writer is queued between the two: the second RLock waits behind
		// the writer, the writer for the reader. Nothing here can be
		// cancelled, so the case ends it by releasing the reader's first
		// read lock itself (an RWMutex allows that from another goroutine).
		{name: "etcd-rlock-reentry", positive: true, threads: []string{"etcd-reader", "etcd-writer"},
			start: func(t *testing.T, ctx context.Context) func() {
				rw := threading.NewRWMutex(threading.WithName("etcd-rw"))
				held := make(chan struct{})
				writer := corpusThread("etcd-writer", func(context.Context) error {
					<-held
					rw.Lock()
					rw.Unlock()
					return nil
				})
				reader := corpusThread("etcd-reader", func(context.Context) error {
					rw.RLock()
					close(held)
					untilWaiting(writer)
					rw.RLock() // re-entered behind the queued writer
					rw.RUnlock()
					return nil // the first read lock is released by the case
				})
				return func() {
					untilWaiting(reader)
					rw.RUnlock()
					joinAll(t, reader, writer)
				}
			}},
		// gRPC-style: a goroutine holds a mutex while it blocks sending on
		// a channel whose receiver must take that mutex before it
		// receives. The holder is blocked outside threadmon (a channel
		// send): a blocked-holder report.
		{name: "grpc-send-under-lock", positive: true, threads: []string{"grpc-receiver", "grpc-sender"},
			start: func(t *testing.T, ctx context.Context) func() {
				mu := threading.NewMutex(threading.WithName("grpc-mu"))
				ch := make(chan int)
				held := make(chan struct{})
				sender := corpusThread("grpc-sender", func(context.Context) error {
					mu.Lock()
					defer mu.Unlock()
					close(held)
					ch <- 1
					return nil
				})
				receiver := corpusThread("grpc-receiver", func(context.Context) error {
					<-held
					err := mu.AcquireContext(ctx)
					<-ch
					if err == nil {
						return mu.Release()
					}
					return nil
				})
				return func() { joinAll(t, receiver, sender) }
			}},
		// Moby-style: WaitGroup.Wait while holding a lock the workers need
		// before they can call Done.
		{name: "moby-wait-under-lock", positive: true, threads: []string{"moby-daemon", "moby-workers"},
			start: func(t *testing.T, ctx context.Context) func() {
				l := threading.NewLock(threading.WithName("moby-lock"))
				wg := threading.NewWaitGroup(threading.WithName("moby-workers"))
				daemon := corpusThread("moby-daemon", func(context.Context) error {
					l.Acquire()
					defer l.Release()
					for i := 0; i < 2; i++ {
						wg.Go(func() {
							if l.AcquireContext(ctx) == nil {
								_ = l.Release()
							}
						})
					}
					wg.Wait()
					return nil
				})
				return func() { joinAll(t, daemon) }
			}},
		// Once.Do recursion through a lock: the function passed to Do
		// needs a lock whose holder calls the same Once.Do. (A Do that
		// calls itself directly on one goroutine can never be undone, so
		// the corpus has the two-goroutine form; selfdeadlock_test covers
		// waits on oneself.)
		{name: "once-init-under-lock", positive: true, threads: []string{"once-init", "once-user"},
			start: func(t *testing.T, ctx context.Context) func() {
				once := threading.NewOnce(threading.WithName("once-config"))
				l := threading.NewLock(threading.WithName("once-lock"))
				held := make(chan struct{})
				var initT *threading.Thread
				ready := make(chan struct{})
				user := corpusThread("once-user", func(context.Context) error {
					l.Acquire()
					defer l.Release()
					close(held)
					<-ready
					untilWaiting(initT)
					once.Do(func() {})
					return nil
				})
				initT = corpusThread("once-init", func(context.Context) error {
					<-held
					once.Do(func() {
						if l.AcquireContext(ctx) == nil {
							_ = l.Release()
						}
					})
					return nil
				})
				close(ready)
				return func() { joinAll(t, initT, user) }
			}},
		// Join while holding a lock the joined thread needs to finish.
		{name: "join-under-lock", positive: true, threads: []string{"join-parent", "join-child"},
			start: func(t *testing.T, ctx context.Context) func() {
				l := threading.NewLock(threading.WithName("join-lock"))
				parent := corpusThread("join-parent", func(context.Context) error {
					l.Acquire()
					defer l.Release()
					child := corpusThread("join-child", func(context.Context) error {
						if l.AcquireContext(ctx) == nil {
							return l.Release()
						}
						return nil
					})
					return child.Join()
				})
				return func() { joinAll(t, parent) }
			}},
		// errgroup-style: Group.Wait while holding a lock the tasks need.
		{name: "group-wait-under-lock", positive: true, threads: []string{"group-owner"},
			start: func(t *testing.T, ctx context.Context) func() {
				l := threading.NewLock(threading.WithName("group-lock"))
				owner := corpusThread("group-owner", func(context.Context) error {
					l.Acquire()
					defer l.Release()
					g := threading.NewGroup(threading.WithName("group-tasks"))
					g.Go(func() error {
						if err := l.AcquireContext(ctx); err != nil {
							return nil
						}
						return l.Release()
					})
					return g.Wait()
				})
				return func() { joinAll(t, owner) }
			}},

		// Negative: a Condition (and a Cond) waited on and never notified
		// is idle waiting, not a deadlock.
		{name: "condition-never-notified", start: func(t *testing.T, ctx context.Context) func() {
			c := threading.NewCondition(threading.NewLock(), threading.WithName("idle-condition"))
			w1 := corpusThread("idle-condition-waiter", func(context.Context) error {
				c.Acquire()
				defer c.Release()
				_ = c.WaitContext(ctx)
				return nil
			})
			mu := threading.NewMutex()
			cond := threading.NewCond(mu, threading.WithName("idle-cond"))
			stop := false
			w2 := corpusThread("idle-cond-waiter", func(context.Context) error {
				mu.Lock()
				defer mu.Unlock()
				for i := 0; i < 1000 && !stop; i++ {
					cond.Wait()
				}
				return nil
			})
			return func() {
				mu.Lock()
				stop = true
				mu.Unlock()
				for i := 0; i < 1000 && w2.IsAlive(); i++ {
					cond.Broadcast()
					time.Sleep(time.Millisecond)
				}
				joinAll(t, w1, w2)
			}
		}},
		// Negative: a ring of threads each taking its two neighbouring
		// locks, always in the same global order: it looks like dining
		// philosophers but always makes progress.
		{name: "ordered-ring-progress", start: func(t *testing.T, ctx context.Context) func() {
			const n = 4
			locks := make([]*threading.Lock, n)
			for i := range locks {
				locks[i] = threading.NewLock(threading.WithName("ring-lock"))
			}
			var stop atomic.Bool
			var ts []*threading.Thread
			for i := 0; i < n; i++ {
				lo, hi := i, (i+1)%n
				if lo > hi {
					lo, hi = hi, lo
				}
				ts = append(ts, corpusThread("ring-member", func(context.Context) error {
					for k := 0; k < 100000 && !stop.Load(); k++ {
						locks[lo].Acquire()
						locks[hi].Acquire()
						time.Sleep(100 * time.Microsecond)
						locks[hi].Release()
						locks[lo].Release()
					}
					return nil
				}))
			}
			return func() { stop.Store(true); joinAll(t, ts...) }
		}},
		// Negative: readers overlapping on an RWMutex, each re-entering its
		// read lock, with no writer: the etcd shape without the writer.
		{name: "reader-reader-overlap", start: func(t *testing.T, ctx context.Context) func() {
			rw := threading.NewRWMutex(threading.WithName("overlap-rw"))
			var stop atomic.Bool
			var ts []*threading.Thread
			for i := 0; i < 3; i++ {
				ts = append(ts, corpusThread("overlap-reader", func(context.Context) error {
					for k := 0; k < 100000 && !stop.Load(); k++ {
						rw.RLock()
						rw.RLock()
						time.Sleep(time.Millisecond)
						rw.RUnlock()
						rw.RUnlock()
					}
					return nil
				}))
			}
			return func() { stop.Store(true); joinAll(t, ts...) }
		}},
		// Negative: the Kubernetes shape with a consistent order (A then B
		// on both paths): contention, not a deadlock.
		{name: "consistent-order", start: func(t *testing.T, ctx context.Context) func() {
			a := threading.NewLock(threading.WithName("order-a"))
			b := threading.NewLock(threading.WithName("order-b"))
			var stop atomic.Bool
			var ts []*threading.Thread
			for i := 0; i < 2; i++ {
				ts = append(ts, corpusThread("order-path", func(context.Context) error {
					for k := 0; k < 100000 && !stop.Load(); k++ {
						a.Acquire()
						b.Acquire()
						time.Sleep(200 * time.Microsecond)
						b.Release()
						a.Release()
					}
					return nil
				}))
			}
			return func() { stop.Store(true); joinAll(t, ts...) }
		}},
		// Negative: the gRPC shape with a holder that is merely slow: it
		// sleeps briefly while holding the mutex, then releases it.
		{name: "slow-holder", start: func(t *testing.T, ctx context.Context) func() {
			mu := threading.NewMutex(threading.WithName("slow-mu"))
			var stop atomic.Bool
			var ts []*threading.Thread
			for i := 0; i < 2; i++ {
				ts = append(ts, corpusThread("slow-user", func(context.Context) error {
					for k := 0; k < 100000 && !stop.Load(); k++ {
						mu.Lock()
						time.Sleep(20 * time.Millisecond)
						mu.Unlock()
					}
					return nil
				}))
			}
			return func() { stop.Store(true); joinAll(t, ts...) }
		}},
	}
}

func TestCorpus(t *testing.T) {
	withHolderEvery(t, 50*time.Millisecond)
	for _, c := range corpus() {
		t.Run(c.name, func(t *testing.T) {
			var mu sync.Mutex
			var got []*Report
			d := Start(WithInterval(5*time.Millisecond), WithLongWait(300*time.Millisecond),
				WithBlockedHolders(100*time.Millisecond), WithCallback(func(r *Report) {
					mu.Lock()
					got = append(got, r)
					mu.Unlock()
				}))
			reports := func() []*Report {
				mu.Lock()
				defer mu.Unlock()
				out := append([]*Report(nil), got...)
				for _, r := range d.HolderReports() {
					if r.Kind == KindHolderBlocked { // leaked holders came through the callback
						out = append(out, r)
					}
				}
				return out
			}
			ctx, cancel := context.WithCancel(context.Background())
			cleanup := c.start(t, ctx)
			defer func() {
				cancel()
				cleanup()
				d.Stop()
			}()
			begin := time.Now()
			if !c.positive {
				for time.Since(begin) < time.Second {
					if rs := reports(); len(rs) > 0 {
						t.Fatalf("look-alike reported (%s):\n%s", rs[0].Kind, rs[0].Text)
					}
					time.Sleep(5 * time.Millisecond)
				}
				return
			}
			for time.Since(begin) < 2*time.Second {
				for _, r := range reports() {
					if namesAll(r, c.threads) {
						t.Logf("%s after %s", r.Kind, time.Since(begin).Round(time.Millisecond))
						return
					}
				}
				time.Sleep(5 * time.Millisecond)
			}
			var kinds []string
			for _, r := range reports() {
				kinds = append(kinds, r.Kind+": "+r.Text)
			}
			t.Fatalf("not reported within 2 s naming %v; reports: %v", c.threads, kinds)
		})
	}
}

// namesAll reports whether each of names is in the name of a thread r
// lists.
func namesAll(r *Report, names []string) bool {
	for _, n := range names {
		found := false
		for _, th := range r.Threads {
			found = found || strings.Contains(th.Name, n)
		}
		if !found {
			return false
		}
	}
	return true
}
