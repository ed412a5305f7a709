package threading

import (
	"context"
	"sync"
	"testing"

	xsem "golang.org/x/sync/semaphore"
)

// Benchmarks compare each primitive with what a Go programmer would use
// instead, in the same run. Budgets (DESIGN.md): uncontended Lock at most 2x
// sync.Mutex with 0 allocations; contended throughput at least 0.8x
// sync.Mutex; Condition ping-pong at least 0.8x sync.Mutex+sync.Cond;
// uncontended Semaphore at most x/sync/semaphore.

func BenchmarkUncontended(b *testing.B) {
	b.Run("sync.Mutex", func(b *testing.B) {
		var mu sync.Mutex
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			mu.Lock()
			mu.Unlock()
		}
	})
	b.Run("Lock", func(b *testing.B) {
		var mu Lock
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			mu.Lock()
			mu.Unlock()
		}
	})
	b.Run("Lock/observed", func(b *testing.B) {
		remove := AddObserver(NopObserver{})
		defer remove()
		var mu Lock
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			mu.Acquire()
			_ = mu.Release()
		}
	})
	b.Run("RLock", func(b *testing.B) {
		var mu RLock
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			mu.Acquire()
			_ = mu.Release()
		}
	})
	b.Run("sync.RWMutex/read", func(b *testing.B) {
		var mu sync.RWMutex
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			mu.RLock()
			mu.RUnlock()
		}
	})
	b.Run("RWLock/read", func(b *testing.B) {
		var mu RWLock
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			mu.RLock()
			mu.RUnlock()
		}
	})
	b.Run("sync.RWMutex/write", func(b *testing.B) {
		var mu sync.RWMutex
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			mu.Lock()
			mu.Unlock()
		}
	})
	b.Run("RWLock/write", func(b *testing.B) {
		var mu RWLock
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			mu.Lock()
			mu.Unlock()
		}
	})
	b.Run("x-sync-semaphore", func(b *testing.B) {
		s := xsem.NewWeighted(1)
		ctx := context.Background()
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			_ = s.Acquire(ctx, 1)
			s.Release(1)
		}
	})
	b.Run("chan-semaphore", func(b *testing.B) {
		s := make(chan struct{}, 1)
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			s <- struct{}{}
			<-s
		}
	})
	b.Run("Semaphore", func(b *testing.B) {
		s, _ := NewSemaphore(1)
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			s.Acquire()
			_ = s.Release()
		}
	})
	b.Run("Event/is-set", func(b *testing.B) {
		var ev Event
		ev.Set()
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			ev.Wait()
		}
	})
}

// BenchmarkContended runs two goroutines on one lock. The data the lock
// guards sits beside it in a struct, as in real code: with the lock and the
// data allocated apart, which of them share a cache line depended on the
// allocator's size classes, which differ between the lock types compared.
func BenchmarkContended(b *testing.B) {
	work := func(x *int) { *x++ }
	b.Run("sync.Mutex", func(b *testing.B) {
		var s struct {
			mu sync.Mutex
			n  int
		}
		mu := &s.mu
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				mu.Lock()
				work(&s.n)
				mu.Unlock()
			}
		})
	})
	b.Run("Lock", func(b *testing.B) {
		var s struct {
			mu Lock
			n  int
		}
		mu := &s.mu
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				mu.Lock()
				work(&s.n)
				mu.Unlock()
			}
		})
	})
	b.Run("Lock/observed", func(b *testing.B) {
		remove := AddObserver(NopObserver{})
		defer remove()
		var s struct {
			mu Lock
			n  int
		}
		mu := &s.mu
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				mu.Lock()
				work(&s.n)
				mu.Unlock()
			}
		})
	})
	b.Run("sync.RWMutex", func(b *testing.B) {
		var s struct {
			mu sync.RWMutex
			n  int
		}
		mu := &s.mu
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				if i++; i%10 == 0 {
					mu.Lock()
					work(&s.n)
					mu.Unlock()
				} else {
					mu.RLock()
					_ = s.n
					mu.RUnlock()
				}
			}
		})
	})
	b.Run("RWLock", func(b *testing.B) {
		var s struct {
			mu RWLock
			n  int
		}
		mu := &s.mu
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				if i++; i%10 == 0 {
					mu.Lock()
					work(&s.n)
					mu.Unlock()
				} else {
					mu.RLock()
					_ = s.n
					mu.RUnlock()
				}
			}
		})
	})
	// Readers only: every read lock is taken while the other goroutine
	// may hold one, so RWLock's readers are named through the CAS-claimed
	// slots 1 to 3 as well as slot 0.
	b.Run("sync.RWMutex/readers", func(b *testing.B) {
		var s struct {
			mu sync.RWMutex
			n  int
		}
		mu := &s.mu
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				mu.RLock()
				_ = s.n
				mu.RUnlock()
			}
		})
	})
	b.Run("RWLock/readers", func(b *testing.B) {
		var s struct {
			mu RWLock
			n  int
		}
		mu := &s.mu
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				mu.RLock()
				_ = s.n
				mu.RUnlock()
			}
		})
	})
	b.Run("x-sync-semaphore", func(b *testing.B) {
		s := xsem.NewWeighted(2)
		ctx := context.Background()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				_ = s.Acquire(ctx, 1)
				s.Release(1)
			}
		})
	})
	b.Run("Semaphore", func(b *testing.B) {
		s, _ := NewSemaphore(2)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				s.Acquire()
				_ = s.Release()
			}
		})
	})
}

// BenchmarkPingPong hands a turn back and forth between two goroutines.
func BenchmarkPingPong(b *testing.B) {
	b.Run("sync.Cond", func(b *testing.B) {
		var mu sync.Mutex
		c := sync.NewCond(&mu)
		turn := 0
		done := make(chan struct{})
		go func() {
			mu.Lock()
			for i := 0; i < b.N; i++ {
				for turn != 1 {
					c.Wait()
				}
				turn = 0
				c.Signal()
			}
			mu.Unlock()
			close(done)
		}()
		mu.Lock()
		for i := 0; i < b.N; i++ {
			turn = 1
			c.Signal()
			for turn != 0 {
				c.Wait()
			}
		}
		mu.Unlock()
		<-done
	})
	b.Run("Condition", func(b *testing.B) {
		c := NewCondition(NewLock())
		pingPong(b, c.Lockable, func() { _ = c.Wait() }, func() { _ = c.Notify(1) })
	})
	b.Run("channels", func(b *testing.B) {
		ping, pong := make(chan struct{}), make(chan struct{})
		go func() {
			for i := 0; i < b.N; i++ {
				<-ping
				pong <- struct{}{}
			}
		}()
		for i := 0; i < b.N; i++ {
			ping <- struct{}{}
			<-pong
		}
	})
}
