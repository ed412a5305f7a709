//go:build amd64 && !race && gc

package threading

import (
	"sync"
	"testing"
	"unsafe"

	"github.com/petermattis/goid"
)

// TestGoidOffset checks, in many goroutines at once, that the word the
// assembly reads as the goroutine id is goid.Get's.
func TestGoidOffset(t *testing.T) {
	if goidOffset == 0 {
		t.Skip("the assembly fast paths are off (TestFastPathAsm says why)")
	}
	var wg sync.WaitGroup
	bad := make(chan [2]uint64, 1)
	for range 64 {
		wg.Go(func() {
			want := uint64(goid.Get())
			if got := *(*uint64)(unsafe.Add(getgp(), goidOffset)); got != want {
				select {
				case bad <- [2]uint64{got, want}:
				default:
				}
			}
		})
	}
	wg.Wait()
	select {
	case b := <-bad:
		t.Fatalf("g+%d holds %d, goid.Get says %d", goidOffset, b[0], b[1])
	default:
	}
}
