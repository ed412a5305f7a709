package threading

import (
	"runtime"
	"sync"
	"testing"
	"time"
)

// Dummy records stay bounded: 1,000,000 short-lived goroutines that each ask
// who they are leave neither memory nor Enumerate growing.
func TestDummyThreadsBounded(t *testing.T) {
	const total = 1_000_000
	const batch = 1000
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	heapBefore := ms.HeapAlloc
	maxDummies := int64(0)
	var wg sync.WaitGroup
	for done := 0; done < total; done += batch {
		wg.Add(batch)
		for i := 0; i < batch; i++ {
			go func() {
				defer wg.Done()
				if th := CurrentThread(); !th.IsDummy() {
					t.Error("an alien goroutine got a non-dummy thread")
				}
			}()
		}
		wg.Wait()
		if d := dummyCount.Load(); d > maxDummies {
			maxDummies = d
		}
	}
	// At most twice the live goroutines plus a floor of 256, at any time.
	if limit := int64(2*(batch+runtime.NumGoroutine()) + 512); maxDummies > limit {
		t.Fatalf("up to %d dummy records for %d goroutines alive at a time (limit %d)", maxDummies, batch, limit)
	}
	lastPrune.Store(0)
	if n := len(Enumerate()); n > 100 {
		t.Fatalf("Enumerate has %d threads after all goroutines ended", n)
	}
	runtime.GC()
	runtime.ReadMemStats(&ms)
	growth := int64(ms.HeapAlloc) - int64(heapBefore)
	t.Logf("%d goroutines: at most %d dummy records at once; heap grew %d KiB", total, maxDummies, growth/1024)
	if growth > 16<<20 {
		t.Fatalf("heap grew by %d MiB", growth>>20)
	}
}

// Primitives and wait events carry the types users know: a type switch on
// *Semaphore or *BoundedSemaphore matches.
func TestSemaphoreIdentity(t *testing.T) {
	s, _ := NewSemaphore(0, WithName("ident-sem"))
	b, _ := NewBoundedSemaphore(1, WithName("ident-bsem"))
	found := map[string]bool{}
	for _, p := range Primitives() {
		switch q := p.(type) {
		case *Semaphore:
			if q == s {
				found["sem"] = true
			}
		case *BoundedSemaphore:
			if q == b {
				found["bsem"] = true
			}
		}
	}
	if !found["sem"] || !found["bsem"] {
		t.Fatalf("registry types: %v", found)
	}
	var got Primitive
	o := &waitObserver{fn: func(e *WaitEvent) {
		if e.Primitive.primName() == "ident-sem" {
			got = e.Primitive
		}
	}}
	defer AddObserver(o)()
	if s.AcquireTimeout(time.Millisecond) {
		t.Fatal("acquired an empty semaphore")
	}
	if q, ok := got.(*Semaphore); !ok || q != s {
		t.Fatalf("wait event primitive %T", got)
	}
	if err := b.Release(); err == nil {
		t.Fatal("released past the bound")
	}
}

type waitObserver struct {
	NopObserver
	fn func(*WaitEvent)
}

func (o *waitObserver) ObserveWait(e *WaitEvent) { o.fn(e) }
