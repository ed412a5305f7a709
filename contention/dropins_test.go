package contention

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/threadmon/threadmon/threading"
)

// A cycle through WaitGroup.Go is a deadlock like a join cycle: the waiter
// holds a lock that a thread of the group needs, and waits for the group.
func TestWaitGroupCycleReported(t *testing.T) {
	for _, kind := range []string{"WaitGroup", "Group"} {
		t.Run(kind, func(t *testing.T) {
			reported := make(chan *Report, 1)
			d := Start(WithInterval(10*time.Millisecond), WithPolicy(PolicyBreak),
				WithCallback(func(r *Report) {
					select {
					case reported <- r:
					default:
					}
				}))
			defer d.Stop()
			l := threading.NewLock(threading.WithName("wg-cycle-" + kind))
			var broke error
			main := threading.NewThread(func(ctx context.Context) error {
				l.Acquire()
				defer l.Unlock()
				work := func() error {
					if err := l.AcquireContext(ctx); err != nil {
						return err
					}
					return l.Release()
				}
				if kind == "WaitGroup" {
					wg := threading.NewWaitGroup(threading.WithName("wg-cycle"))
					wg.Go(func() { broke = work() })
					wg.Wait()
					return nil
				}
				g := threading.NewGroup(threading.WithName("group-cycle"))
				g.Go(work)
				broke = g.Wait()
				return nil
			}, threading.WithName("wg-cycle-main-"+kind))
			_ = main.Start()
			select {
			case r := <-reported:
				if r.ThreadCount != 2 {
					t.Fatalf("report of %d threads:\n%s", r.ThreadCount, r.Text)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("the deadlock through the group was not reported")
			}
			_ = main.Join()
			if !errors.Is(broke, threading.ErrDeadlock) {
				t.Fatalf("the group thread's wait ended with %v, want ErrDeadlock", broke)
			}
		})
	}
}
