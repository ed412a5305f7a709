//go:build goexperiment.goroutineleakprofile

package contention

import (
	"context"
	"testing"
	"time"

	"github.com/threadmon/threadmon/threading"
)

// leakHolding takes l and parks for good on a channel nothing else can
// reach, holding l. TestMain's goleak check ignores it.
func leakHolding(l *threading.Lock, started chan<- uint64) {
	l.Acquire()
	ch := make(chan int)
	started <- threading.GetIdent()
	<-ch // never returns: nobody else has ch
}

// A thread waits on a Lock whose holder has leaked (blocked on a channel
// nobody can reach): the goroutineleak profile says so, and the report is
// a deadlock, KindLeakedHolder.
func TestLeakedHolderIsDeadlock(t *testing.T) {
	SetLeakCheckInterval(time.Nanosecond)
	defer SetLeakCheckInterval(0)
	withHolderEvery(t, 50*time.Millisecond)
	reports := make(chan *Report, 4)
	d := Start(WithInterval(10*time.Millisecond), WithLongWait(300*time.Millisecond), WithBlockedHolders(100*time.Millisecond),
		WithCallback(func(r *Report) { reports <- r }))
	defer d.Stop()
	l := threading.NewLock(threading.WithName("leaked-holder-lock"))
	started := make(chan uint64)
	go leakHolding(l, started)
	holder := <-started
	ctx, cancel := context.WithCancel(context.Background())
	waiter := threading.NewThread(func(context.Context) error { _ = l.AcquireContext(ctx); return nil }, threading.WithName("lh-waiter"))
	_ = waiter.Start()
	defer func() { cancel(); _ = waiter.Join() }()
	select {
	case r := <-reports:
		if r.Kind != KindLeakedHolder || r.Threads[1].Ident != holder || r.Blocked == nil || !r.Blocked.Leaked || r.Blocked.Op != "chan receive" {
			t.Fatalf("report %s: %+v\n%s", r.Kind, r.Blocked, r.Text)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no leaked-holder report within 10 s")
	}
}
