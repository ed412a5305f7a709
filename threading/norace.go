//go:build !race

package threading

import "unsafe"

// Without the race detector the annotations compile to nothing: every use
// sits behind the constant raceEnabled, so the fast paths stay as they are.
const raceEnabled = false

func raceDisable()                    {}
func raceEnable()                     {}
func raceAcquire(unsafe.Pointer)      {}
func raceRelease(unsafe.Pointer)      {}
func raceReleaseMerge(unsafe.Pointer) {}

func raceAcquireIf(bool, unsafe.Pointer) {}
