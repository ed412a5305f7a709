//go:build goexperiment.goroutineleakprofile

package contention

import (
	"os"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/threadmon/threadmon/internal/plumb"
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
	reports := &reportSink{}
	defer threading.AddObserver(reports)()
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
	// Reported once to the observers, however often it is checked again.
	CheckLeaks()
	CheckLeaks()
	if n := reports.count(threading.ReportLeak, found.Thread); n != 1 {
		t.Errorf("%d leak reports naming %s, want 1", n, found.Thread)
	}
	if n, ok := plumb.LeakedGoroutines(); !ok || n < 1 {
		t.Errorf("leaked gauge source: %d %v", n, ok)
	}
}

// The cost of a leak check at 100,000 parked goroutines (a forced GC that
// also looks for leaks): THREADMON_LEAK_PAUSE=1
// GOEXPERIMENT=goroutineleakprofile go test -run TestLeakCheckCost -v ./contention/
func TestLeakCheckCost(t *testing.T) {
	if os.Getenv("THREADMON_LEAK_PAUSE") == "" {
		t.Skip("set THREADMON_LEAK_PAUSE=1 to measure")
	}
	SetLeakCheckInterval(time.Nanosecond)
	defer SetLeakCheckInterval(0)
	const n = 100_000
	release := make(chan struct{})
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); <-release }()
	}
	defer func() { close(release); wg.Wait() }()
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	start := time.Now()
	r := CheckLeaks()
	took := time.Since(start)
	runtime.ReadMemStats(&after)
	t.Logf("%d goroutines parked: a leak check took %v of wall time, with %v of stop-the-world GC pauses (%d GC cycles); %d leaked found",
		n, took, time.Duration(after.PauseTotalNs-before.PauseTotalNs), after.NumGC-before.NumGC, len(r.Goroutines))
}
