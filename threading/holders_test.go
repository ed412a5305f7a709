package threading

import (
	"sync"
	"sync/atomic"
	"testing"
)

// Readers are named with no set-up; past four they are counted; a read
// lock released by another goroutine turns naming off (the count becomes
// unknown); acquisitions are counted through it all.
func TestRWLockReaderNames(t *testing.T) {
	var rw RWLock
	const n = 7
	var hold, release, done sync.WaitGroup
	hold.Add(n)
	release.Add(1)
	done.Add(n)
	idents := make(chan uint64, n)
	for range n {
		go func() {
			defer done.Done()
			rw.RLock()
			idents <- curGoid()
			hold.Done()
			release.Wait()
			rw.RUnlock()
		}()
	}
	hold.Wait()
	close(idents)
	all := map[uint64]bool{}
	for g := range idents {
		all[g] = true
	}
	named, unnamed := rw.readerState()
	if len(named) != 4 || unnamed != n-4 {
		t.Fatalf("named %v, unnamed %d", named, unnamed)
	}
	for _, g := range named {
		if !all[g] {
			t.Fatalf("names %d, which is no reader", g)
		}
	}
	release.Done()
	done.Wait()
	if named, unnamed := rw.readerState(); len(named) != 0 || unnamed != 0 {
		t.Fatalf("after the readers left: named %v, unnamed %d", named, unnamed)
	}
	if a := rw.Stats().Acquisitions; a != n {
		t.Fatalf("%d acquisitions, want %d", a, n)
	}
	// Released by another goroutine: naming off, never a wrong name.
	rw.RLock()
	ch := make(chan struct{})
	go func() { rw.RUnlock(); close(ch) }()
	<-ch
	rw.RLock()
	if named, unnamed := rw.readerState(); len(named) != 0 || unnamed != -1 {
		t.Fatalf("unpaired: named %v, unnamed %d", named, unnamed)
	}
	rw.RUnlock()
	if a := rw.Stats().Acquisitions; a != n+2 {
		t.Fatalf("%d acquisitions, want %d", a, n+2)
	}
}

// A slot's acquisition count wraps into the ext's without losing any.
func TestHolderSlotCountWraps(t *testing.T) {
	var rw RWLock
	h := &rw.readers
	h.s[0].Store(slotCountMask) // as after 2^24-1 first-reader acquisitions
	h.s[1].Store(slotCountMask)
	before := rw.Stats().Acquisitions
	h.addFirst(5, &rw.w.x)
	h.add(6, &rw.w.x)
	if got := rw.Stats().Acquisitions; got != before+2 {
		t.Fatalf("%d acquisitions, want %d", got, before+2)
	}
	h.remove(5)
	h.remove(6)
	if named, unnamed := h.list(); len(named) != 0 || unnamed != 0 {
		t.Fatalf("named %v, unnamed %d", named, unnamed)
	}
}

// Readers that come and go on two goroutines, with a writer now and then,
// leave no slot named, and no reader is ever taken for one that holds the
// lock already. (A version of RUnlock that freed slot 0 without the
// goroutine id, when slot 0 was named and the count then 1, freed another
// reader's slot and left its own named: the writer's waits then reported a
// reader re-locking while a writer waits.)
func TestRWLockSlotsClearUnderChurn(t *testing.T) {
	var rw RWLock
	var reports reportCounter
	defer AddObserver(&reports)()
	var wg sync.WaitGroup
	for i := 0; i < 2; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 500000; j++ {
				if j%10 == 9 {
					rw.Lock()
					rw.Unlock() //nolint:staticcheck // an empty critical section is the point
					continue
				}
				rw.RLock()
				rw.RUnlock()
			}
		}()
	}
	wg.Wait()
	if n := reports.n.Load(); n != 0 {
		t.Fatalf("%d reports, want none", n)
	}
	if named, unnamed := rw.readerState(); len(named) != 0 || unnamed != 0 {
		t.Fatalf("no reader left, yet named %v, unnamed %d", named, unnamed)
	}
}

// reportCounter counts the reports published while it is attached.
type reportCounter struct {
	NopObserver
	n atomic.Int64
}

func (c *reportCounter) ObserveReport(*Report) { c.n.Add(1) }
