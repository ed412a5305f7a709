package contention

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/threadmon/threadmon/threading"
)

// Read acquisitions follow lockdep's rules: two threads that take an RWLock
// only for reading do not exclude each other there.
func TestLockOrderReadRules(t *testing.T) {
	reports := enableOrder(t)
	// Read-read on both sides: no inversion.
	a := threading.NewRWLock(threading.WithName(uniqName("rr-a")))
	b := threading.NewRWLock(threading.WithName(uniqName("rr-b")))
	inThread("rr-1", func() { a.RLock(); b.RLock(); b.RUnlock(); a.RUnlock() })
	inThread("rr-2", func() { b.RLock(); a.RLock(); a.RUnlock(); b.RUnlock() })
	// Shared only as readers at the RWLock, exclusive at the Lock: none.
	c := threading.NewRWLock(threading.WithName(uniqName("rw-c")))
	l := threading.NewLock(threading.WithName(uniqName("rw-l")))
	inThread("rw-1", func() { c.RLock(); l.Lock(); l.Unlock(); c.RUnlock() })
	inThread("rw-2", func() { l.Lock(); c.RLock(); c.RUnlock(); l.Unlock() })
	if rs := reports(); len(rs) != 0 {
		t.Fatalf("read-read reported: %s", rs[0].Text)
	}
	// A writer on one side: an inversion, its read edge marked.
	inThread("rw-3", func() { l.Lock(); c.Lock(); c.Unlock(); l.Unlock() })
	rs := reports()
	if len(rs) != 1 {
		t.Fatalf("%d reports", len(rs))
	}
	read := false
	for _, e := range rs[0].Edges {
		read = read || e.FromRead
	}
	if !read || !strings.Contains(rs[0].Text, "(for reading)") {
		t.Fatalf("the read hold is not shown:\n%s", rs[0].Text)
	}
}

// The acquisition that closes a cycle is reported while it blocks: two
// threads that really deadlock, neither acquisition ever completing.
func TestLockOrderAtAttempt(t *testing.T) {
	reports := enableOrder(t)
	a := threading.NewLock(threading.WithName(uniqName("att-a")))
	b := threading.NewLock(threading.WithName(uniqName("att-b")))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	bar, _ := threading.NewBarrier(2)
	run := func(name string, first, second *threading.Lock) *threading.Thread {
		return spawn(name, func() error {
			first.Acquire()
			defer first.Release()
			if _, err := bar.WaitContext(ctx); err != nil {
				return err
			}
			if err := second.AcquireContext(ctx); err != nil {
				return err
			}
			return second.Release()
		})
	}
	t1, t2 := run("att-1", a, b), run("att-2", b, a)
	until(t, "a lock-order report", func() bool { return len(reports()) == 1 })
	// Neither second acquisition completes: they deadlock.
	until(t, "both to block", func() bool {
		return waitingOn(t1, threading.WaitAcquire) && waitingOn(t2, threading.WaitAcquire)
	})
	cancel()
	for _, th := range []*threading.Thread{t1, t2} {
		if done, _ := th.JoinTimeout(10 * time.Second); !done {
			t.Fatalf("%s did not finish", th.Name())
		}
	}
}

// A zero-value lock's class is where it was first acquired, to the line:
// the same for every lock first taken there, in every run of one binary.
func TestZeroValueClassStable(t *testing.T) {
	enableOrder(t)
	type guarded struct{ mu threading.Mutex }
	var labels []string
	for range 2 {
		var g guarded
		g.mu.Lock() // the class of both
		g.mu.Unlock()
		labels = append(labels, threading.Describe(&g.mu).Class)
	}
	if labels[0] != labels[1] || !strings.HasPrefix(labels[0], "contention/lockorder_read_test.go:") {
		t.Fatalf("classes %q", labels)
	}
}
