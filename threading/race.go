//go:build race

package threading

import (
	"runtime"
	"unsafe"
)

// Race annotations, as package sync makes them: inside a lock operation the
// race detector ignores the lock's own atomics and channels (which would
// otherwise make every reader synchronise with every other, and a failed
// TryLock synchronise with the holder), and sees instead exactly the
// happens-before edges the lock promises: a release to the next acquire, a
// writer's unlock to later readers, every reader's unlock to the next writer.
const raceEnabled = true

func raceDisable()                         { runtime.RaceDisable() }
func raceEnable()                          { runtime.RaceEnable() }
func raceAcquire(addr unsafe.Pointer)      { runtime.RaceAcquire(addr) }
func raceRelease(addr unsafe.Pointer)      { runtime.RaceRelease(addr) }
func raceReleaseMerge(addr unsafe.Pointer) { runtime.RaceReleaseMerge(addr) }

// raceAcquireIf is an acquire of addr if ok.
func raceAcquireIf(ok bool, addr unsafe.Pointer) {
	if ok {
		runtime.RaceAcquire(addr)
	}
}
