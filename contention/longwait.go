package contention

import (
	"sync"
	"weak"
)

// idleLongWaits are the detectors started WithIdleLongWaits (weakly: a
// detector dropped is not kept).
var idleLongWaits sync.Map // weak.Pointer[Detector]: true

// WithIdleLongWaits makes the long-wait check report waits to be notified
// too (a Condition's wait, an Event, a Barrier, a Join, a WaitGroup), at
// info level: they are idle waiting, not contention, so by default only
// waits to acquire are reported. An idle long wait is kept in LongWaits (and
// served on /longwaits, its text beginning "info:") but not published to
// the hooks (metrics, logs) that long waits to acquire go to.
func WithIdleLongWaits() Option {
	return func(d *Detector) { idleLongWaits.Store(weak.Make(d), true) }
}

func idleLongWaitsOn(d *Detector) bool {
	_, ok := idleLongWaits.Load(weak.Make(d))
	return ok
}
