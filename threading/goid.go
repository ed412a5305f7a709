package threading

import (
	"bytes"
	"runtime"
	"strconv"

	"github.com/petermattis/goid"
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
	return parseGoroutineHeader(buf[:n])
}

func parseGoroutineHeader(b []byte) uint64 {
	b = bytes.TrimPrefix(b, []byte("goroutine "))
	if i := bytes.IndexByte(b, ' '); i > 0 {
		b = b[:i]
	}
	id, err := strconv.ParseUint(string(b), 10, 64)
	if err != nil {
		return 0
	}
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
