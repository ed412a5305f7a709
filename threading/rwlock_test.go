package threading

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// RWLock behaves as sync.RWMutex: readers share, a writer excludes all, a
// waiting writer holds off new readers.
func TestRWLockExclusion(t *testing.T) {
	var rw RWLock
	var readers, writers, maxReaders atomic.Int32
	var bad atomic.Bool
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			for k := 0; k < 200; k++ {
				if (i+k)%7 == 0 {
					rw.Lock()
					if writers.Add(1) != 1 || readers.Load() != 0 {
						bad.Store(true)
					}
					writers.Add(-1)
					rw.Unlock()
				} else {
					rw.RLock()
					n := readers.Add(1)
					if writers.Load() != 0 {
						bad.Store(true)
					}
					for {
						m := maxReaders.Load()
						if n <= m || maxReaders.CompareAndSwap(m, n) {
							break
						}
					}
					readers.Add(-1)
					rw.RUnlock()
				}
			}
		}(i)
	}
	wg.Wait()
	if bad.Load() {
		t.Fatal("a writer overlapped another holder")
	}
	if s := rw.Stats(); s.Acquisitions != 20*200 {
		t.Fatalf("acquisitions %d", s.Acquisitions)
	}
}

func TestRWLockWriterWaitsAndBlocksReaders(t *testing.T) {
	rw := NewRWLock(WithName("cfg"))
	rw.RLock()
	writer := NewThread(func(context.Context) error { rw.Lock(); rw.Unlock(); return nil })
	_ = writer.Start()
	eventually(t, "writer waiting", func() bool { w, ok := writer.Waiting(); return ok && w.Primitive == rw })
	if rw.TryRLock() {
		t.Fatal("a new reader got in while a writer waits")
	}
	if rw.TryLock() {
		t.Fatal("TryLock succeeded with a reader in")
	}
	if s := rw.String(); !strings.Contains(s, `RWLock "cfg"`) || !strings.Contains(s, "readers=1") {
		t.Fatal(s)
	}
	rw.RUnlock()
	_ = writer.Join()
	if !rw.TryLock() {
		t.Fatal("TryLock on a free lock")
	}
	if h := rw.holders(); len(h) != 1 || h[0] != GetIdent() {
		t.Fatalf("holders %v", h)
	}
	rw.Unlock()
	rl := rw.RLocker()
	rl.Lock()
	if rw.Readers() != 1 {
		t.Fatal(rw.Readers())
	}
	rl.Unlock()
}

// Misuse panics with a clear error and changes nothing.
func TestRWLockMisuse(t *testing.T) {
	var rw RWLock
	expectPanic := func(f func(), want error) {
		t.Helper()
		defer func() {
			r := recover()
			if err, ok := r.(error); !ok || !errors.Is(err, want) || !errors.Is(err, ErrRuntime) {
				t.Fatalf("panicked with %v", r)
			}
		}()
		f()
	}
	expectPanic(rw.RUnlock, errRUnlock)
	expectPanic(rw.Unlock, errUnlock)
	done := make(chan struct{})
	go func() {
		defer close(done)
		rw.Lock()
		rw.Unlock()
		rw.RLock()
		rw.RUnlock()
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("misuse corrupted the lock")
	}
}
