package contention_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/threadmon/threadmon/contention"
	"github.com/threadmon/threadmon/threading"
)

// Two threads take two locks in opposite orders and deadlock; the detector
// confirms the cycle, reports it once, and (PolicyBreak) ends the youngest
// wait made through a Context with ErrDeadlock, so the other thread goes on.
func ExampleStart() {
	reported := make(chan *contention.Report, 1)
	d := contention.Start(
		contention.WithInterval(20e6), // 20 ms
		contention.WithPolicy(contention.PolicyBreak),
		contention.WithCallback(func(r *contention.Report) { reported <- r }),
	)
	defer d.Stop()
	a := threading.NewLock(threading.WithName("example-a"))
	b := threading.NewLock(threading.WithName("example-b"))
	bothHold, _ := threading.NewBarrier(2)
	worker := func(first, second *threading.Lock) func(context.Context) error {
		return func(ctx context.Context) error {
			first.Acquire()
			defer first.Unlock()
			_, _ = bothHold.Wait()
			if err := second.AcquireContext(ctx); err != nil {
				return err
			}
			second.Unlock()
			return nil
		}
	}
	t1 := threading.NewThread(worker(a, b), threading.WithName("example-1"))
	t2 := threading.NewThread(worker(b, a), threading.WithName("example-2"))
	_ = t1.Start()
	_ = t2.Start()
	r := <-reported
	_ = t1.Join()
	_ = t2.Join()
	broken := 0
	for _, t := range []*threading.Thread{t1, t2} {
		if errors.Is(t.Err(), threading.ErrDeadlock) {
			broken++
		}
	}
	fmt.Println(r.ThreadCount, "threads deadlocked;", broken, "wait broken")
	// Output: 2 threads deadlocked; 1 wait broken
}

// Lock-order checking reports an inversion before anything hangs: here the
// two orders are taken one after the other, by one thread.
func ExampleEnableLockOrder() {
	reports := make(chan *contention.OrderReport, 1)
	contention.EnableLockOrder(func(r *contention.OrderReport) { reports <- r })
	defer contention.DisableLockOrder()
	a := threading.NewLock(threading.WithName("order-a"))
	b := threading.NewLock(threading.WithName("order-b"))
	a.Lock()
	b.Lock()
	b.Unlock()
	a.Unlock()
	b.Lock()
	a.Lock() // closes the cycle a -> b -> a
	a.Unlock()
	b.Unlock()
	fmt.Println((<-reports).Cycle)
	// Output: [Lock "order-a" Lock "order-b"]
}

// The JSON API mounted on a service's own mux.
func ExampleHandler() {
	mux := http.NewServeMux()
	mux.Handle("/debug/threading/", http.StripPrefix("/debug/threading", contention.Handler()))
	_ = http.ListenAndServe("127.0.0.1:6060", mux)
}

// The JSON API with a Detector's reports (/deadlocks, /longwaits, /holders).
func ExampleNewHandler() {
	d := contention.Start()
	defer d.Stop()
	mux := http.NewServeMux()
	mux.Handle("/debug/threading/", http.StripPrefix("/debug/threading", contention.NewHandler(contention.Local(d))))
	_ = http.ListenAndServe("127.0.0.1:6060", mux)
}
