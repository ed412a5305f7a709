package threading

import (
	"runtime"

	"github.com/petermattis/goid"
	"github.com/threadmon/threadmon/internal/gdump"
)

// goidTrusted is set once, at package initialisation, when goid.Get agrees
// with what the runtime prints for the same goroutines. If a future Go release
// moves the goroutine id, goid.Get would read garbage; we then fall back to
// parsing runtime.Stack, which costs speed but never correctness.
var goidTrusted = checkGoid()

// curGoid returns the calling goroutine's id. It is never 0.
func curGoid() uint64 {
	if goidTrusted {
		return uint64(goid.Get())
	}
	return stackGoid()
}

// stackGoid parses "goroutine N [" from the calling goroutine's stack header.
func stackGoid() uint64 {
	var buf [64]byte
	n := runtime.Stack(buf[:], false)
	id, _ := gdump.Header(buf[:n])
	return id
}

func checkGoid() bool {
	ok := func() bool {
		g := goid.Get()
		return g > 0 && uint64(g) == stackGoid()
	}
	if !ok() {
		return false
	}
	res := make(chan bool)
	go func() { res <- ok() }()
	return <-res
}
