//go:build !race && (amd64 || arm64)

package threading

import (
	"sync/atomic"
	"unsafe"
)

// slotStore writes a holder slot that only the caller may write now (see
// holderSlots) without a locked instruction: an aligned word-sized store is
// never torn on these platforms, and the locked add on the reader count
// that follows it (RUnlock) or precedes it (RLock) orders it, as
// holderCount's increments are ordered by their lock. Race builds (and
// other platforms) store atomically (slotstore_atomic.go).
func slotStore(p *atomic.Uint64, v uint64) { *(*uint64)(unsafe.Pointer(p)) = v }
