package threading

import "time"

// clockBase is the time the package's monotonic readings count from.
var clockBase = time.Now()

// nanotime is a monotonic clock reading in nanoseconds, never 0: what
// waits and sampled holds are timed with. time.Since reads the monotonic
// clock (and the wall clock, which it ignores here); the runtime's own
// nanotime, through go:linkname, saves 1 to 4 ns of the 32 a read costs on
// this project's CI machine (BenchmarkClock), and a wait reads the clock
// only once it blocks, for microseconds: not worth reaching into the
// runtime for.
func nanotime() int64 { return int64(time.Since(clockBase)) + 1 }

// timeAt turns a nanotime reading back into a time.Time (with its monotonic
// reading, so Sub and Since stay exact).
func timeAt(n int64) time.Time { return clockBase.Add(time.Duration(n - 1)) }
