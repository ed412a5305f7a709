package threading_test

import (
	"bytes"
	"context"
	"runtime"
	"runtime/pprof"
	"strings"
	"testing"
	"time"

	"github.com/threadmon/threadmon/threading"
)

// Go's block profile keeps recording contention on threadmon primitives,
// with the waiter's own call stack.
func TestBlockProfileSeesContention(t *testing.T) {
	runtime.SetBlockProfileRate(1)
	defer runtime.SetBlockProfileRate(0)
	l := threading.NewLock(threading.WithName("blockprofiled"))
	l.Acquire()
	th := threading.NewThread(func(context.Context) error { waitOnBlockProfiledLock(l); return nil })
	_ = th.Start()
	for l.Stats().Waiters == 0 {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(5 * time.Millisecond)
	_ = l.Release()
	_ = th.Join()
	var b bytes.Buffer
	if err := pprof.Lookup("block").WriteTo(&b, 1); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "waitOnBlockProfiledLock") {
		t.Fatalf("the block profile does not show the wait:\n%.3000s", b.String())
	}
}

//go:noinline
func waitOnBlockProfiledLock(l *threading.Lock) {
	l.Acquire()
	_ = l.Release()
}
