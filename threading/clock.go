package threading

import (
	"time"
	_ "unsafe" // for go:linkname
)

// runtimeNano is the runtime's monotonic clock: half the cost of time.Now,
// which also reads the wall clock. It is one of the runtime functions kept
// reachable for linkname on purpose.
//
//go:linkname runtimeNano runtime.nanotime
func runtimeNano() int64

var (
	clockBase     = time.Now()
	clockBaseNano = runtimeNano()
)

// nanotime is a monotonic clock reading in nanoseconds, never 0.
func nanotime() int64 { return runtimeNano() - clockBaseNano + 1 }

// timeAt turns a nanotime reading back into a time.Time (with its monotonic
// reading, so Sub and Since stay exact).
func timeAt(n int64) time.Time { return clockBase.Add(time.Duration(n - 1)) }
