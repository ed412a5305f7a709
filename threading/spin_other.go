//go:build !amd64 && !arm64

package threading

import "sync/atomic"

var spinSink atomic.Uint32

// procyield busy-waits for about cycles iterations.
func procyield(cycles uint32) {
	for i := uint32(0); i < cycles; i++ {
		spinSink.Load()
	}
}
