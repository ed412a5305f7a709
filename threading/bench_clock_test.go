package threading

import (
	"testing"
	_ "unsafe" // for go:linkname, in this benchmark only
)

//go:linkname runtimeNano runtime.nanotime
func runtimeNano() int64

var clockSink int64

// BenchmarkClock is why the package reads the clock through time.Since
// (nanotime, clock.go) and not the runtime's nanotime through go:linkname:
// the linkname saves a few nanoseconds a read, and a wait reads the clock
// only once it blocks.
func BenchmarkClock(b *testing.B) {
	b.Run("time.Since", func(b *testing.B) {
		var s int64
		for i := 0; i < b.N; i++ {
			s += nanotime()
		}
		clockSink = s
	})
	b.Run("runtime.nanotime", func(b *testing.B) {
		var s int64
		for i := 0; i < b.N; i++ {
			s += runtimeNano()
		}
		clockSink = s
	})
}
