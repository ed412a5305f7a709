package threading

import (
	"sync"
	"sync/atomic"
	"testing"
)

// Pruning dummy records never removes a live goroutine's, not even one that
// got its record after the pruner's goroutine dump and before its delete
// loop: the goroutine would lose its Local values, its name and its wait.
func TestPruneSparesLiveGoroutines(t *testing.T) {
	const (
		rounds  = 40
		workers = 300
		checks  = 50
	)
	var loc Local[int]
	var lost atomic.Int64
	stop := make(chan struct{})
	var pruner sync.WaitGroup
	pruner.Add(1)
	go func() {
		defer pruner.Done()
		for {
			select {
			case <-stop:
				return
			default:
				pruneDummies()
			}
		}
	}()
	for r := 0; r < rounds; r++ {
		var wg sync.WaitGroup
		for i := 0; i < workers; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				me := CurrentThread()
				loc.Set(i)
				for k := 0; k < checks; k++ {
					if LookupThread(GetIdent()) != me {
						lost.Add(1)
						return
					}
					if v, ok := loc.Lookup(); !ok || v != i {
						lost.Add(1)
						return
					}
				}
			}(i)
		}
		wg.Wait()
	}
	close(stop)
	pruner.Wait()
	if n := lost.Load(); n > 0 {
		t.Fatalf("pruning dropped the records of %d live goroutines (of %d)", n, rounds*workers)
	}
}
