package contention

import (
	"sync"
	"testing"

	deadlock "github.com/sasha-s/go-deadlock"

	"github.com/threadmon/threadmon/threading"
)

// BenchmarkNestedPair takes two locks nested and releases them, the pattern
// lock-order checking watches. Budget: at most 5x sync.Mutex with checking
// on; sasha-s/go-deadlock is the alternative people reach for.
func BenchmarkNestedPair(b *testing.B) {
	b.Run("sync.Mutex", func(b *testing.B) {
		var x, y sync.Mutex
		for i := 0; i < b.N; i++ {
			x.Lock()
			y.Lock()
			y.Unlock()
			x.Unlock()
		}
	})
	b.Run("Lock/checking-off", func(b *testing.B) {
		var x, y threading.Lock
		for i := 0; i < b.N; i++ {
			x.Lock()
			y.Lock()
			y.Unlock()
			x.Unlock()
		}
	})
	b.Run("Lock/checking-on", func(b *testing.B) {
		EnableLockOrder(nil)
		defer DisableLockOrder()
		x, y := threading.NewLock(threading.WithName("bench-x")), threading.NewLock(threading.WithName("bench-y"))
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			x.Lock()
			y.Lock()
			y.Unlock()
			x.Unlock()
		}
	})
	b.Run("go-deadlock", func(b *testing.B) {
		var x, y deadlock.Mutex
		for i := 0; i < b.N; i++ {
			x.Lock()
			y.Lock()
			y.Unlock()
			x.Unlock()
		}
	})
}
