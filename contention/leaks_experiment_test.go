//go:build goexperiment.goroutineleakprofile

package contention

import (
	"testing"
	"time"

	"github.com/threadmon/threadmon/threading"
)

// leakOnLock parks a goroutine for good on a Lock nothing else can reach.
// TestMain's goleak check ignores it.
func leakOnLock(started chan<- uint64) {
	l := threading.NewLock(threading.WithName("leaked-lock"))
	l.Acquire()
	started <- threading.GetIdent()
	l.Acquire() // never returns: nothing can release l
}

// A goroutine parked for good on a threadmon Lock is listed by /leaks,
// joined with its thread record.
func TestLeaksFound(t *testing.T) {
	SetLeakCheckInterval(time.Nanosecond)
	defer SetLeakCheckInterval(0)
	started := make(chan uint64)
	go leakOnLock(started)
	id := <-started
	var found *LeakedGoroutine
	until(t, "the leak to be found", func() bool {
		for _, g := range CheckLeaks().Goroutines {
			if g.Ident == id {
				found = &g
				return true
			}
		}
		return false
	})
	if found.Thread == "" || found.WaitKind != "acquire" {
		t.Errorf("not joined with the registry: %+v", found)
	}
}
