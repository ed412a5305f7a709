package threading

import (
	"sync"
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
	// Released by another goroutine: naming off within pairCheckEvery such
	// releases (the only reader's release is checked 1 in pairCheckEvery
	// times), never a wrong name: once released, the lock names nobody.
	handed := 0
	for ; handed < pairCheckEvery; handed++ {
		if _, unnamed := rw.readerState(); unnamed == -1 {
			break
		}
		rw.RLock()
		ch := make(chan struct{})
		go func() { rw.RUnlock(); close(ch) }()
		<-ch
		if named, _ := rw.readerState(); len(named) != 0 {
			t.Fatalf("after a hand-over release: named %v", named)
		}
	}
	rw.RLock()
	if named, unnamed := rw.readerState(); len(named) != 0 || unnamed != -1 {
		t.Fatalf("unpaired after %d hand-overs: named %v, unnamed %d", handed, named, unnamed)
	}
	rw.RUnlock()
	if a := rw.Stats().Acquisitions; a != uint64(n+handed+1) {
		t.Fatalf("%d acquisitions, want %d", a, n+handed+1)
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
