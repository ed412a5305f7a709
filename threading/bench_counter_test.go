package threading

import (
	"sync/atomic"
	"testing"
)

// BenchmarkHolderCount is why holderCount and slotStore are plain stores
// outside race builds: the same acquire/count/release loop as the Lock fast
// path, with the holder's count bumped by a plain increment (holderCount)
// or by a locked add. Race builds use the atomic form for both.
func BenchmarkHolderCount(b *testing.B) {
	var state atomic.Uint64
	b.Run("holderCount", func(b *testing.B) {
		var c holderCount
		for i := 0; i < b.N; i++ {
			if state.CompareAndSwap(0, 1) {
				c.inc()
				state.Store(0)
			}
		}
		if c.load() != uint64(b.N) {
			b.Fatal("lost counts")
		}
	})
	b.Run("atomic", func(b *testing.B) {
		var c atomic.Uint64
		for i := 0; i < b.N; i++ {
			if state.CompareAndSwap(0, 1) {
				c.Add(1)
				state.Store(0)
			}
		}
		if c.Load() != uint64(b.N) {
			b.Fatal("lost counts")
		}
	})
}
