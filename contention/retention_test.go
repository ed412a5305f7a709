package contention

import (
	"runtime"
	"testing"
	"time"

	"github.com/threadmon/threadmon/threading"
)

// heldAndDropped starts a goroutine that takes a new named Lock and parks
// holding it, with no reference to it left anywhere but in what this
// package keeps. It returns a channel closed when the Lock is collected, and
// a function that ends the goroutine.
func heldAndDropped(t *testing.T, name string) (collected <-chan struct{}, stop func()) {
	t.Helper()
	c := make(chan struct{})
	park, taken, ended := make(chan struct{}), make(chan struct{}), make(chan struct{})
	go func() {
		defer close(ended)
		func() {
			l := threading.NewLock(threading.WithName(name))
			runtime.AddCleanup(l, func(ch chan struct{}) { close(ch) }, c)
			l.Acquire()
		}()
		close(taken)
		<-park // holding the Lock, which nothing references any more
	}()
	<-taken
	return c, func() { close(park); <-ended }
}

// waitCollected runs the collector until done is closed, for at most 10 s.
func waitCollected(done <-chan struct{}) bool {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		runtime.GC()
		select {
		case <-done:
			return true
		case <-time.After(10 * time.Millisecond):
		}
	}
	return false
}

// A snapshot is plain data: keeping one keeps none of its primitives alive.
func TestGraphKeepsNoPrimitive(t *testing.T) {
	collected, stop := heldAndDropped(t, "retained-by-graph")
	defer stop()
	g := Snapshot()
	found := false
	for _, p := range g.Primitives {
		found = found || p.Name == "retained-by-graph"
	}
	if !found {
		t.Fatal("the held lock is not in the snapshot")
	}
	if !waitCollected(collected) {
		t.Fatal("a Graph keeps its primitives alive")
	}
	runtime.KeepAlive(g)
}

// Lock-order checking keeps the identity of held locks, not the locks.
func TestLockOrderKeepsNoPrimitive(t *testing.T) {
	EnableLockOrder(nil)
	defer DisableLockOrder()
	collected, stop := heldAndDropped(t, "retained-by-lockorder")
	defer stop()
	if !waitCollected(collected) {
		t.Fatal("lock-order checking keeps a held lock alive")
	}
}

// A running Detector keeps nothing of what it looked at between looks.
func TestDetectorKeepsNoPrimitive(t *testing.T) {
	d := Start(WithInterval(5 * time.Millisecond))
	defer d.Stop()
	collected, stop := heldAndDropped(t, "retained-by-detector")
	defer stop()
	time.Sleep(50 * time.Millisecond) // several looks
	if !waitCollected(collected) {
		t.Fatal("the detector keeps a primitive alive")
	}
}
