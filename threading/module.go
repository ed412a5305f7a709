package threading

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// Non-daemon threads still running, for Main.
var nonDaemon struct {
	mu   sync.Mutex
	cond *sync.Cond
	n    int
}

func nonDaemonAdd(d int) {
	nonDaemon.mu.Lock()
	nonDaemon.n += d
	if nonDaemon.n == 0 {
		nonDaemon.cond.Broadcast()
	}
	nonDaemon.mu.Unlock()
}

// CurrentThread is Python's current_thread(): the calling goroutine's Thread,
// the main thread, or a dummy thread for an alien goroutine.
func CurrentThread() *Thread { return threadForGoid(curGoid()) }

// MainThread is Python's main_thread(): the thread of the goroutine that
// called Main, or else of the program's main goroutine.
func MainThread() *Thread {
	if t := mainThread.Load(); t != nil {
		return t
	}
	mainMu.Lock()
	defer mainMu.Unlock()
	if t := mainThread.Load(); t != nil {
		return t
	}
	t := newMainRecord(mainGoid.Load())
	mainThread.Store(t)
	return t
}

func newMainRecord(g uint64) *Thread {
	t := &Thread{seq: threadSeq.Add(1), isMain: true, name: "MainThread",
		done: make(chan struct{}), started: make(chan struct{})}
	t.joinMeta.kind = KindThread
	t.ident.Store(g)
	t.state.Store(threadAlive)
	t.ctx = context.WithValue(context.Background(), threadCtxKey{}, t)
	close(t.started)
	registerThread(g, t)
	return t
}

// Main runs fn as the main thread, then marks the main thread ended and waits
// for every non-daemon Thread, as a Python program does at exit. Call it from
// func main: func main() { threading.Main(run) }.
func Main(fn func()) {
	g := curGoid()
	mainMu.Lock()
	if old := mainThread.Load(); old != nil && old.state.Load() != threadStopped {
		unregisterThread(old.ident.Load(), old)
	}
	prevGoid := mainGoid.Swap(g)
	t := newMainRecord(g)
	mainThread.Store(t)
	mainMu.Unlock()
	defer func() {
		t.state.Store(threadStopped)
		unregisterThread(g, t)
		close(t.done)
		// The goroutine lives on (in tests, the next test runs on it): it
		// gets a fresh main-thread record if it asks again.
		mainMu.Lock()
		if mainThread.CompareAndSwap(t, nil) {
			mainGoid.Store(prevGoid)
		}
		mainMu.Unlock()
		nonDaemon.mu.Lock()
		for nonDaemon.n > 0 {
			nonDaemon.cond.Wait()
		}
		nonDaemon.mu.Unlock()
	}()
	if fn != nil {
		fn()
	}
}

// GetIdent is Python's get_ident(): the calling goroutine's id, never 0.
func GetIdent() uint64 { return curGoid() }

// Enumerate is Python's enumerate(): every live Thread, dummy and the main
// thread; never one that has ended or not started.
func Enumerate() []*Thread {
	maybePrune()
	var out []*Thread
	for i := range threadReg {
		s := &threadReg[i]
		s.mu.RLock()
		for _, r := range s.m {
			if t := r.get(); t != nil {
				out = append(out, t)
			}
		}
		s.mu.RUnlock()
	}
	sortThreads(out)
	return out
}

// ActiveCount is Python's active_count(): len(Enumerate()).
func ActiveCount() int { return len(Enumerate()) }

var traceFn, profileFn atomic.Pointer[func(*Thread)]

// SetTrace is Python's settrace(): fn runs in each new Thread's goroutine
// before its target; nil clears it.
func SetTrace(fn func(*Thread)) { storeFn(&traceFn, fn) }

// SetProfile is Python's setprofile(): like SetTrace, for profilers. Every
// Thread also runs under the pprof label thread=<name>.
func SetProfile(fn func(*Thread)) { storeFn(&profileFn, fn) }

func storeFn(p *atomic.Pointer[func(*Thread)], fn func(*Thread)) {
	if fn == nil {
		p.Store(nil)
		return
	}
	p.Store(&fn)
}

// TimeoutMax is Python's TIMEOUT_MAX; every time.Duration is accepted.
const TimeoutMax = time.Duration(1<<63 - 1)

// StackSize is Python's stack_size(): 0, the default (Go grows stacks).
func StackSize() int { return 0 }

// SetStackSize is Python's stack_size(size): 0 keeps the default; sizes below
// 32 KiB are ErrValue, as in Python; any other size is ErrUnsupported.
func SetStackSize(size int) error {
	switch {
	case size == 0:
		return nil
	case size < 0 || size < 32768:
		return valuef("size not valid: %d bytes (the minimum is 32768)", size)
	default:
		return ErrUnsupported
	}
}

func init() { nonDaemon.cond = sync.NewCond(&nonDaemon.mu) }
