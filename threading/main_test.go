package threading

import (
	"context"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	// Reports (a Lock re-acquired by its holder is one) would go to stderr;
	// tests that check logs install their own logger.
	SetLogger(nil)
	goleak.VerifyTestMain(m)
	os.Exit(0)
}

// The harness of CPython's lock_tests.py, in Go.

// bunch starts n alien goroutines running f(i), as lock_tests' Bunch does.
// Worker failures reach the test through t.Errorf.
type bunch struct {
	started, finished atomic.Int32
	wg                sync.WaitGroup
	release           chan struct{}
}

func newBunch(t *testing.T, n int, f func(i int), waitBeforeExit bool) *bunch {
	t.Helper()
	b := &bunch{release: make(chan struct{})}
	if !waitBeforeExit {
		close(b.release)
	}
	for i := 0; i < n; i++ {
		b.wg.Add(1)
		go func(i int) {
			defer b.wg.Done()
			b.started.Add(1)
			f(i)
			b.finished.Add(1)
			<-b.release
		}(i)
	}
	eventually(t, "all started", func() bool { return int(b.started.Load()) == n })
	return b
}

// doFinish lets waitBeforeExit workers exit.
func (b *bunch) doFinish() {
	select {
	case <-b.release:
	default:
		close(b.release)
	}
}

// wait waits for every worker to finish and exit (at most 30 s).
func (b *bunch) wait(t *testing.T) {
	t.Helper()
	b.doFinish()
	done := make(chan struct{})
	go func() { b.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("bunch: workers did not finish in 30s")
	}
}

// eventually polls cond every millisecond for up to 10 s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for: %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// waitWaiters waits until n callers are parked on p: deterministic where
// CPython sleeps 10 ms per thread.
func waitWaiters(t *testing.T, p Primitive, n int) {
	t.Helper()
	eventually(t, "waiters", func() bool { return p.Stats().Waiters >= n })
}

// waitBlocked is CPython's wait_threads_blocked: a short sleep for threads
// that block somewhere this test cannot observe.
func waitBlocked(n int) { time.Sleep(time.Duration(10*n) * time.Millisecond) }

// assertTimeout is CPython's: a timeout of expected takes between 0.6x and 10x.
func assertTimeout(t *testing.T, actual, expected time.Duration) {
	t.Helper()
	if actual < expected*6/10 || actual >= expected*10 {
		t.Errorf("timeout of %v took %v, want between 0.6x and 10x", expected, actual)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

type ctxT = context.Context
