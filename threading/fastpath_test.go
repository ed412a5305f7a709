package threading

import (
	"errors"
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

// TestFastPathReleases drives the release paths that leave the common case:
// a Lock released by a goroutine other than its holder (the assembly's
// first CAS, on the caller's own word, fails), a release of an unlocked
// Lock, and an RLock released by a goroutine that does not own it. Each
// must do what the Go form does, and change nothing on misuse.
func TestFastPathReleases(t *testing.T) {
	var l Lock
	l.Acquire()
	done := make(chan error)
	go func() { done <- l.Release() }()
	if err := <-done; err != nil || l.Locked() {
		t.Fatalf("release by another goroutine: %v, locked %v", err, l.Locked())
	}
	before := l.m.state.Load()
	if err := l.Release(); !errors.Is(err, ErrReleaseUnlocked) || l.m.state.Load() != before {
		t.Fatalf("release of an unlocked Lock: %v, state %#x -> %#x", err, before, l.m.state.Load())
	}
	func() {
		defer func() {
			if r := recover(); r == nil {
				t.Fatal("Unlock of an unlocked Lock did not panic")
			}
		}()
		l.Unlock()
	}()
	l.Lock()
	go func() { l.Unlock(); done <- nil }()
	<-done
	if l.Locked() {
		t.Fatal("Unlock by another goroutine left the Lock locked")
	}

	var rl RLock
	rl.Acquire()
	before = rl.m.state.Load()
	go func() { done <- rl.Release() }()
	if err := <-done; !errors.Is(err, ErrNotOwner) || rl.m.state.Load() != before || rl.RecursionCount() != 1 {
		t.Fatalf("RLock released by another goroutine: %v, state %#x -> %#x", err, before, rl.m.state.Load())
	}
	if err := rl.Release(); err != nil || rl.Locked() {
		t.Fatalf("owner's release: %v, locked %v", err, rl.Locked())
	}
	if err := rl.Release(); !errors.Is(err, ErrNotOwner) {
		t.Fatalf("release of an unlocked RLock: %v", err)
	}
}
