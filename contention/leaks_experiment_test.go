//go:build goexperiment.goroutineleakprofile

package contention

import (
	"testing"
	"time"

	"github.com/threadmon/threadmon/threading"
)

// leakOnEvent parks a goroutine for good on an Event nothing else can reach
// (an idle wait, which no detector reports, so that the tests after this
// one see no deadlock). TestMain's goleak check ignores it.
func leakOnEvent(started chan<- uint64) {
	e := threading.NewEvent(threading.WithName("leaked-event"))
	started <- threading.GetIdent()
	e.Wait() // never returns: nothing can set e
}

// A goroutine parked for good on a threadmon Event is listed by /leaks,
// joined with its thread record.
func TestLeaksFound(t *testing.T) {
	SetLeakCheckInterval(time.Nanosecond)
	defer SetLeakCheckInterval(0)
	started := make(chan uint64)
	go leakOnEvent(started)
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
	if found.Thread == "" || found.WaitKind != "event" {
		t.Errorf("not joined with the registry: %+v", found)
	}
}
