//go:build race || !(amd64 || arm64)

package threading

import "sync/atomic"

// slotStore is the atomic form of the holder-slot store (slotstore_plain.go).
func slotStore(p *atomic.Uint64, v uint64) { p.Store(v) }
