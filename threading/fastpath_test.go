package threading

import (
	"runtime"
	"sync"
	"testing"

	"github.com/petermattis/goid"
)

// TestFastPathAsm makes sure the assembly fast paths are in use where they
// are built (amd64 without the race detector), so that this package's tests
// check them there: if the goroutine id were not found in the runtime's g,
// they would silently always take the Go forms.
func TestFastPathAsm(t *testing.T) {
	if runtime.GOARCH == "amd64" && !raceEnabled && !fastPathAsm() {
		t.Fatal("the assembly fast paths are built but off: the goroutine id's place in g was not found")
	}
	t.Logf("assembly fast paths: %v", fastPathAsm())
}

// TestFastPathOwners takes and releases locks through the fast paths from
// many goroutines at once, each checking that the lock names it, not
// another goroutine, as its holder: what the assembly reads as the id must
// be goid.Get's.
func TestFastPathOwners(t *testing.T) {
	var l Lock
	var rl RLock
	var rw RWLock
	var wg sync.WaitGroup
	errs := make(chan string, 64)
	for range 16 {
		wg.Go(func() {
			me := uint64(goid.Get())
			for range 2000 {
				l.Acquire()
				if got := l.Owner(); got != me {
					errs <- "Lock"
				}
				l.Unlock()
				rl.Acquire()
				rl.Acquire()
				if got := rl.Owner(); got != me || rl.RecursionCount() != 2 {
					errs <- "RLock"
				}
				if err := rl.Release(); err != nil {
					errs <- err.Error()
				}
				rl.Unlock()
				rw.RLock()
				if !rw.readers.contains(me) {
					errs <- "RWLock reader"
				}
				rw.RUnlock()
				rw.Lock()
				if rw.writer() != me || rw.readerCount.Load() >= 0 {
					errs <- "RWLock writer"
				}
				rw.Unlock()
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
		break
	}
	if l.Locked() || rl.Locked() || rw.readerCount.Load() != 0 {
		t.Fatal("a lock is left held")
	}
	if got := l.Stats().Acquisitions; got != 16*2000 {
		t.Errorf("Lock counted %d acquisitions, want %d", got, 16*2000)
	}
}
