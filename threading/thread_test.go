package threading

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"runtime/pprof"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func noop(context.Context) error { return nil }

// ThreadTests.test_name [A]
func TestThreadName(t *testing.T) {
	if n := NewThread(nil, WithName("myname1")).Name(); n != "myname1" {
		t.Fatal(n)
	}
	if n := NewThread(noop, WithName("explicit")).Name(); n != "explicit" {
		t.Fatal("an explicit name must win over the target's:", n)
	}
	for _, th := range []*Thread{NewThread(nil), NewThread(nil, WithName(""))} {
		if !regexp.MustCompile(`^Thread-\d+$`).MatchString(th.Name()) {
			t.Fatal(th.Name())
		}
	}
	if n := NewThread(noop).Name(); !regexp.MustCompile(`^Thread-\d+ \(noop\)$`).MatchString(n) {
		t.Fatal(n)
	}
	a, b := NewThread(nil), NewThread(nil)
	if a.Name() == b.Name() {
		t.Fatal("default names must be unique")
	}
	a.SetName("renamed")
	if a.Name() != "renamed" {
		t.Fatal(a.Name())
	}
}

// ThreadTests.test_args_argument [A]: Go passes arguments by closure, so a
// list and a tuple are the same captured value.
func TestThreadArgs(t *testing.T) {
	for _, arg := range []any{1, "str", []int{1}, [1]int{1}} {
		var got any
		th := NewThread(func(context.Context) error { got = arg; return nil })
		_ = th.Start()
		_ = th.Join()
		if fmt.Sprint(got) != fmt.Sprint(arg) {
			t.Fatalf("got %v want %v", got, arg)
		}
	}
}

// ThreadTests.test_various_ops
func TestThreadVariousOps(t *testing.T) {
	const n = 10
	sema := must(NewBoundedSemaphore(3))
	mutex := NewRLock()
	var running, maxRunning int
	threads := make([]*Thread, n)
	for i := range threads {
		threads[i] = NewThread(func(context.Context) error {
			sema.Acquire()
			defer func() { _ = sema.Release() }()
			mutex.Acquire()
			running++
			if running > maxRunning {
				maxRunning = running
			}
			if running > 3 || running < 0 {
				t.Errorf("running %d", running)
			}
			_ = mutex.Release()
			time.Sleep(time.Millisecond)
			mutex.Acquire()
			running--
			_ = mutex.Release()
			return nil
		}, WithName(fmt.Sprintf("<thread %d>", i)))
		if threads[i].Ident() != 0 || !regexp.MustCompile(`^<Thread\(.*, initial( daemon)?\)>$`).MatchString(threads[i].String()) {
			t.Fatal(threads[i].String())
		}
	}
	ids := map[uint64]bool{GetIdent(): true}
	for _, th := range threads {
		_ = th.Start()
		ids[th.Ident()] = true
	}
	if len(ids) != n+1 || ids[0] {
		t.Fatalf("idents not distinct: %v", ids)
	}
	for _, th := range threads {
		_ = th.Join()
		if th.IsAlive() || th.Ident() == 0 {
			t.Fatal(th)
		}
		if !regexp.MustCompile(`^<Thread\(.*, stopped( daemon)? \d+\)>$`).MatchString(th.String()) {
			t.Fatal(th.String())
		}
	}
	if running != 0 {
		t.Fatal(running)
	}
}

// ThreadTests.test_ident_of_no_threading_threads and test_foreign_thread [A]
func TestForeignThread(t *testing.T) {
	var dummy *Thread
	var ident uint64
	var joinErr error
	var alive, registered bool
	done := make(chan struct{})
	go func() {
		defer close(done)
		dummy = CurrentThread()
		ident = GetIdent()
		alive = dummy.IsAlive()
		registered = LookupThread(ident) == dummy
		joinErr = dummy.Join()
	}()
	<-done
	if dummy.Ident() != ident || ident == 0 {
		t.Fatalf("dummy ident %d, get_ident %d", dummy.Ident(), ident)
	}
	if !alive || !registered || !dummy.IsDummy() || !strings.Contains(dummy.String(), "_DummyThread") {
		t.Fatalf("alive %v registered %v repr %s", alive, registered, dummy)
	}
	if !errors.Is(joinErr, ErrRuntime) {
		t.Fatalf("join of a dummy: %v", joinErr)
	}
	// After the foreign goroutine exits its record goes, within 5 s.
	eventually(t, "dummy removed", func() bool {
		lastPrune.Store(0)
		Enumerate()
		return LookupThread(ident) == nil
	})
}

// ThreadTests.test_limbo_cleanup [A]: a failed start leaves nothing
// registered (in Go a start fails only when repeated).
func TestThreadStartTwice(t *testing.T) {
	th := NewThread(noop)
	if err := th.Start(); err != nil {
		t.Fatal(err)
	}
	_ = th.Join()
	before := len(Enumerate())
	if err := th.Start(); !errors.Is(err, ErrAlreadyStarted) || !errors.Is(err, ErrRuntime) {
		t.Fatal(err)
	}
	if len(Enumerate()) != before || th.IsAlive() {
		t.Fatal("a failed start changed the registry")
	}
}

// ThreadTests.test_enumerate_after_join
func TestEnumerateAfterJoin(t *testing.T) {
	for i := 0; i < 99; i++ {
		th := NewThread(noop)
		_ = th.Start()
		_ = th.Join()
		for _, x := range Enumerate() {
			if x == th {
				t.Fatal("a joined thread is in Enumerate")
			}
		}
	}
}

// ThreadTests.test_join_from_multiple_threads
func TestJoinFromMultipleThreads(t *testing.T) {
	for n := 2; n < 20; n++ {
		worker := NewThread(func(context.Context) error { time.Sleep(5 * time.Millisecond); return nil })
		joiners := make([]*Thread, n)
		for i := range joiners {
			joiners[i] = NewThread(func(context.Context) error { return worker.Join() })
		}
		_ = worker.Start()
		for _, j := range joiners {
			_ = j.Start()
		}
		_ = worker.Join()
		for _, j := range joiners {
			_ = j.Join()
			if j.Err() != nil {
				t.Fatal(j.Err())
			}
		}
	}
}

// ThreadTests.test_join_with_timeout
func TestJoinWithTimeout(t *testing.T) {
	l := NewLock()
	l.Acquire()
	th := NewThread(func(context.Context) error { l.Acquire(); return l.Release() })
	_ = th.Start()
	done, err := th.JoinTimeout(10 * time.Millisecond)
	if done || err != nil || !th.IsAlive() {
		t.Fatalf("done %v err %v alive %v", done, err, th.IsAlive())
	}
	_ = l.Release()
	if err := th.Join(); err != nil || th.IsAlive() {
		t.Fatal(err)
	}
	if done, _ := th.JoinTimeout(0); !done {
		t.Fatal("JoinTimeout(0) on an ended thread")
	}
}

// JoinContext returns ctx.Err() with the thread still running.
func TestJoinContext(t *testing.T) {
	stop := make(chan struct{})
	th := NewThread(func(context.Context) error { <-stop; return nil })
	_ = th.Start()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if err := th.JoinContext(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatal(err)
	}
	close(stop)
	if err := th.JoinContext(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// ThreadTests.test_repr_daemon [A] and test_daemon_param
func TestThreadDaemon(t *testing.T) {
	Main(func() {
		th := NewThread(noop)
		if th.Daemon() || strings.Contains(th.String(), "daemon") {
			t.Fatal("a thread made by the main thread is a daemon:", th)
		}
		if err := th.SetDaemon(true); err != nil || !strings.Contains(th.String(), "daemon") {
			t.Fatal(err, th)
		}
		if NewThread(noop, WithDaemon(false)).Daemon() || !NewThread(noop, WithDaemon(true)).Daemon() {
			t.Fatal("WithDaemon not honoured")
		}
		var inherited bool
		parent := NewThread(func(context.Context) error {
			inherited = NewThread(noop).Daemon()
			return nil
		}, WithDaemon(true))
		_ = parent.Start()
		_ = parent.Join()
		if !inherited {
			t.Fatal("daemon flag not inherited from a daemon creator")
		}
	})
}

// ThreadTests.test_main_thread
func TestMainThread(t *testing.T) {
	Main(func() {
		m := MainThread()
		if m.Name() != "MainThread" || m.Ident() != CurrentThread().Ident() || m.Ident() != GetIdent() {
			t.Fatalf("main %v current %v ident %d", m, CurrentThread(), GetIdent())
		}
		var inWorker, workerMain uint64
		th := NewThread(func(context.Context) error {
			inWorker, workerMain = CurrentThread().Ident(), MainThread().Ident()
			return nil
		})
		_ = th.Start()
		_ = th.Join()
		if inWorker == workerMain || workerMain != m.Ident() {
			t.Fatal("worker sees itself as main")
		}
	})
}

// Main waits for non-daemon threads, also for one started by another
// non-daemon thread (ThreadJoinOnShutdown.test_thread_from_thread), and the
// main thread counts as ended first (test_1_join_on_shutdown).
func TestMainWaitsForNonDaemon(t *testing.T) {
	var order []string
	var mu sync.Mutex
	log := func(s string) { mu.Lock(); order = append(order, s); mu.Unlock() }
	Main(func() {
		main := CurrentThread()
		th := NewThread(func(context.Context) error {
			_ = main.Join()
			time.Sleep(50 * time.Millisecond)
			inner := NewThread(func(context.Context) error {
				time.Sleep(20 * time.Millisecond)
				log("end of inner")
				return nil
			})
			_ = inner.Start()
			log("end of thread")
			return nil
		})
		_ = th.Start()
		log("end of main")
	})
	want := "end of main,end of thread,end of inner"
	if got := strings.Join(order, ","); got != want {
		t.Fatalf("order %q, want %q", got, want)
	}
}

// ThreadTests.test_repr_stopped [A]
func TestThreadReprStopped(t *testing.T) {
	release := make(chan struct{})
	th := NewThread(func(context.Context) error { <-release; return nil })
	_ = th.Start()
	if !strings.Contains(th.String(), "started") {
		t.Fatal(th)
	}
	close(release)
	eventually(t, "stopped without join", func() bool { return strings.Contains(th.String(), "stopped") })
	_ = th.Join()
}

// ThreadTests.test_boolean_target [A]: any non-nil target runs.
func TestThreadBooleanTarget(t *testing.T) {
	var ran atomic.Bool
	var target func(context.Context) error = func(context.Context) error { ran.Store(true); return nil }
	th := NewThread(target)
	_ = th.Start()
	_ = th.Join()
	if !ran.Load() {
		t.Fatal("target did not run")
	}
	th = NewThread(nil)
	_ = th.Start()
	_ = th.Join()
}

// ThreadTests.test_leak_without_join [A]
func TestThreadLeakWithoutJoin(t *testing.T) {
	before := ActiveCount()
	th := NewThread(noop)
	_ = th.Start()
	eventually(t, "count back", func() bool { return !th.IsAlive() && ActiveCount() <= before })
}

// ThreadingExceptionTests: start twice, join self, join unstarted, SetDaemon
// on an active thread.
func TestThreadMisuse(t *testing.T) {
	var selfErr error
	th := NewThread(func(ctx context.Context) error {
		selfErr = ThreadFrom(ctx).Join()
		return nil
	}, WithDaemon(false))
	if err := th.Join(); !errors.Is(err, ErrNotStarted) || !errors.Is(err, ErrRuntime) {
		t.Fatal(err)
	}
	if ok, err := th.JoinTimeout(time.Second); ok || !errors.Is(err, ErrNotStarted) {
		t.Fatal(err)
	}
	_ = th.Start()
	if err := th.SetDaemon(true); !errors.Is(err, ErrThreadActive) || th.Daemon() {
		t.Fatal(err)
	}
	if err := th.Start(); !errors.Is(err, ErrAlreadyStarted) {
		t.Fatal(err)
	}
	_ = th.Join()
	if !errors.Is(selfErr, ErrJoinSelf) {
		t.Fatal(selfErr)
	}
	Main(func() {
		if err := CurrentThread().Join(); !errors.Is(err, ErrJoinSelf) {
			t.Fatal(err)
		}
	})
}

// A target's returned error and panic are kept in Err, the thread ends, and
// Join returns; the process survives.
func TestThreadErrAndPanic(t *testing.T) {
	SetExceptHook(func(ExceptHookArgs) {})
	defer SetExceptHook(nil)
	boom := errors.New("boom")
	th := NewThread(func(context.Context) error { return boom })
	_ = th.Start()
	_ = th.Join()
	if !errors.Is(th.Err(), boom) {
		t.Fatal(th.Err())
	}
	th = NewThread(func(context.Context) error { panic("kaboom") })
	_ = th.Start()
	if err := th.Join(); err != nil {
		t.Fatal(err)
	}
	var pe *PanicError
	if !errors.As(th.Err(), &pe) || pe.Value != "kaboom" || !strings.Contains(string(pe.Stack), "thread_test.go") {
		t.Fatal(th.Err())
	}
}

// Every Thread runs under the pprof label thread=<name>, and the settrace and
// setprofile functions run in the new thread before its target.
func TestThreadTraceProfileLabels(t *testing.T) {
	var traced, profiled atomic.Pointer[Thread]
	SetTrace(func(th *Thread) { traced.Store(th) })
	SetProfile(func(th *Thread) { profiled.Store(th) })
	defer SetTrace(nil)
	defer SetProfile(nil)
	var label string
	th := NewThread(func(ctx context.Context) error {
		label, _ = pprof.Label(ctx, "thread")
		return nil
	}, WithName("labelled"))
	_ = th.Start()
	_ = th.Join()
	if label != "labelled" || traced.Load() != th || profiled.Load() != th {
		t.Fatalf("label %q traced %v profiled %v", label, traced.Load(), profiled.Load())
	}
}

// Stack size: Python's limits and Go's refusal.
func TestStackSize(t *testing.T) {
	if StackSize() != 0 || SetStackSize(0) != nil {
		t.Fatal("default stack size")
	}
	if err := SetStackSize(4096); !errors.Is(err, ErrValue) {
		t.Fatal(err)
	}
	if err := SetStackSize(1 << 20); !errors.Is(err, ErrUnsupported) || !errors.Is(err, ErrRuntime) {
		t.Fatal(err)
	}
}

// ThreadFrom and the Context a target gets carry the thread and the
// creator's values.
func TestThreadContext(t *testing.T) {
	type key struct{}
	ctx := context.WithValue(context.Background(), key{}, "v")
	var got any
	var self *Thread
	th := NewThread(func(ctx context.Context) error {
		got, self = ctx.Value(key{}), ThreadFrom(ctx)
		return nil
	}, WithContext(ctx))
	_ = th.Start()
	_ = th.Join()
	if got != "v" || self != th {
		t.Fatal(got, self)
	}
}
