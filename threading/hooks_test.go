package threading

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// recorder is an Observer that keeps everything it sees.
type recorder struct {
	mu      sync.Mutex
	waits   []WaitEvent
	holds   []HoldEvent
	threads []ThreadEvent
	misuse  []MisuseEvent
	reports []Report
}

func (r *recorder) ObserveWait(e *WaitEvent) {
	r.mu.Lock()
	r.waits = append(r.waits, *e)
	r.mu.Unlock()
}
func (r *recorder) ObserveHold(e *HoldEvent) {
	r.mu.Lock()
	r.holds = append(r.holds, *e)
	r.mu.Unlock()
}
func (r *recorder) ObserveThread(e *ThreadEvent) {
	r.mu.Lock()
	r.threads = append(r.threads, *e)
	r.mu.Unlock()
}
func (r *recorder) ObserveMisuse(e *MisuseEvent) {
	r.mu.Lock()
	r.misuse = append(r.misuse, *e)
	r.mu.Unlock()
}
func (r *recorder) ObserveReport(e *Report) {
	r.mu.Lock()
	r.reports = append(r.reports, *e)
	r.mu.Unlock()
}

func (r *recorder) waitsOn(p Primitive) []WaitEvent {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []WaitEvent
	for _, w := range r.waits {
		if w.Primitive == p {
			out = append(out, w)
		}
	}
	return out
}

func observe(t *testing.T) *recorder {
	r := &recorder{}
	t.Cleanup(AddObserver(r))
	return r
}

// A contended wait delivers one event: primitive, kind, waiter, holder,
// duration, outcome, context.
func TestWaitEvent(t *testing.T) {
	rec := observe(t)
	l := NewLock(WithName("evlock"))
	release := make(chan struct{})
	holder := NewThread(func(ctx context.Context) error {
		l.Acquire()
		<-release
		return l.Release()
	}, WithName("holder"))
	_ = holder.Start()
	eventually(t, "held", l.Locked)
	type key struct{}
	ctx := context.WithValue(context.Background(), key{}, 1)
	waiter := NewThread(func(context.Context) error { return l.AcquireContext(ctx) }, WithName("waiter"))
	_ = waiter.Start()
	waitWaiters(t, l, 1)
	time.Sleep(20 * time.Millisecond)
	close(release)
	_ = holder.Join()
	_ = waiter.Join()
	ev := rec.waitsOn(l)
	if len(ev) != 1 {
		t.Fatalf("%d events", len(ev))
	}
	e := ev[0]
	if e.Kind != WaitAcquire || e.Waiter != waiter || e.Holder != holder || e.HolderIdent != holder.Ident() ||
		e.Outcome != OutcomeAcquired || e.Duration < 10*time.Millisecond || e.Ctx.Value(key{}) != 1 || e.Start.IsZero() {
		t.Fatalf("%+v", e)
	}
	s := l.Stats()
	if s.Contentions != 1 || s.Acquisitions != 2 || s.WaitTotal < 10*time.Millisecond || s.Waiters != 0 {
		t.Fatalf("stats %+v", s)
	}
	_ = l.Release()
}

// Timeouts and cancellations are counted and reported with their outcome.
func TestWaitOutcomes(t *testing.T) {
	rec := observe(t)
	l := NewLock()
	l.Acquire()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		l.AcquireTimeout(10 * time.Millisecond)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
		defer cancel()
		_ = l.AcquireContext(ctx)
	}()
	wg.Wait()
	ev := rec.waitsOn(l)
	if len(ev) != 2 || ev[0].Outcome != OutcomeTimeout || ev[1].Outcome != OutcomeCancelled || !ev[0].Waiter.IsDummy() {
		t.Fatalf("%+v", ev)
	}
	if s := l.Stats(); s.Timeouts != 1 || s.Cancellations != 1 || s.Contentions != 2 {
		t.Fatalf("%+v", s)
	}
	_ = l.Release()
}

// While a thread waits, its record says on what, since when; the lock is
// registered from its first wait and known by its class.
func TestWaitingRecord(t *testing.T) {
	var l Lock
	l.Acquire()
	th := NewThread(func(context.Context) error { l.Acquire(); return l.Release() })
	_ = th.Start()
	var info WaitInfo
	eventually(t, "waiting", func() bool {
		var ok bool
		info, ok = th.Waiting()
		return ok
	})
	if info.Primitive != &l || info.Kind != WaitAcquire || info.Holder != GetIdent() || time.Since(info.Since) > time.Minute {
		t.Fatalf("%+v", info)
	}
	if !strings.HasPrefix(l.primClass(), "threading/hooks_test.go:") || l.primID() == 0 {
		t.Fatalf("class %q id %d", l.primClass(), l.primID())
	}
	found := false
	for _, p := range Primitives() {
		found = found || p == Primitive(&l)
	}
	if !found {
		t.Fatal("a waited-on lock is not registered")
	}
	_ = l.Release()
	_ = th.Join()
	if _, ok := th.Waiting(); ok {
		t.Fatal("still waiting")
	}
}

// With SetWaitStackSampling(1), a wait records where it blocked.
func TestWaitStacks(t *testing.T) {
	SetWaitStackSampling(1)
	defer SetWaitStackSampling(DefaultWaitStackSampling)
	l := NewLock()
	l.Acquire()
	th := NewThread(func(context.Context) error { l.Acquire(); return l.Release() })
	_ = th.Start()
	var info WaitInfo
	eventually(t, "waiting", func() bool { var ok bool; info, ok = th.Waiting(); return ok })
	frames := info.Stack()
	var files []string
	for {
		f, more := frames.Next()
		files = append(files, f.Function)
		if !more {
			break
		}
	}
	if !strings.Contains(strings.Join(files, " "), "TestWaitStacks") {
		t.Fatal(files)
	}
	_ = l.Release()
	_ = th.Join()
}

// Thread lifecycle events, misuse events, and sampled holds.
func TestThreadMisuseAndHoldEvents(t *testing.T) {
	rec := observe(t)
	SetExceptHook(func(ExceptHookArgs) {})
	defer SetExceptHook(nil)
	th := NewThread(func(context.Context) error { return errors.New("x") })
	_ = th.Start()
	_ = th.Join()
	var l Lock
	_ = l.Release()
	SetHoldSampling(1)
	defer SetHoldSampling(0)
	m := NewLock(WithName("held"))
	m.Acquire()
	time.Sleep(5 * time.Millisecond)
	_ = m.Release()
	SetHoldSampling(0)
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.threads) < 2 || rec.threads[0].Kind != ThreadStarted || rec.threads[len(rec.threads)-1].Kind != ThreadEnded ||
		rec.threads[len(rec.threads)-1].Err == nil {
		t.Fatalf("threads %+v", rec.threads)
	}
	if len(rec.misuse) != 1 || !errors.Is(rec.misuse[0].Err, ErrReleaseUnlocked) || rec.misuse[0].Op != "release" {
		t.Fatalf("misuse %+v", rec.misuse)
	}
	if len(rec.holds) != 1 || rec.holds[0].Primitive != m || rec.holds[0].Duration < 4*time.Millisecond {
		t.Fatalf("holds %+v", rec.holds)
	}
}

type panicky struct{ NopObserver }

func (panicky) ObserveWait(*WaitEvent) { panic("observer bug") }

// An observer that panics never breaks the observed code.
func TestObserverPanicRecovered(t *testing.T) {
	defer AddObserver(panicky{})()
	l := NewLock()
	l.Acquire()
	go func() { time.Sleep(10 * time.Millisecond); _ = l.Release() }()
	if !l.AcquireTimeout(5 * time.Second) {
		t.Fatal("not acquired")
	}
	_ = l.Release()
}

// A Lock re-acquired by its holder is reported (and still blocks).
func TestSelfDeadlockReport(t *testing.T) {
	rec := observe(t)
	l := NewLock(WithName("self"))
	l.Acquire()
	if l.AcquireTimeout(10 * time.Millisecond) {
		t.Fatal("a Lock was re-acquired by its holder")
	}
	_ = l.Release()
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.reports) != 1 || rec.reports[0].Kind != ReportSelfDeadlock || rec.reports[0].Primitives[0] != l {
		t.Fatalf("%+v", rec.reports)
	}
}

// The registry forgets collected primitives, and class totals never go
// backwards.
func TestRegistryWeakAndClasses(t *testing.T) {
	name := fmt.Sprintf("short-lived-%d", time.Now().UnixNano())
	total := func() (acq uint64, live int) {
		for _, c := range Classes() {
			if c.Label == name && c.Kind == KindLock {
				return c.Stats.Acquisitions, c.Live
			}
		}
		return 0, 0
	}
	func() {
		l := NewLock(WithName(name))
		for i := 0; i < 10; i++ {
			l.Acquire()
			_ = l.Release()
		}
		if acq, live := total(); acq != 10 || live != 1 {
			t.Fatalf("acq %d live %d", acq, live)
		}
		// Counted after the last look, and still in the class's totals
		// once the lock is gone.
		for i := 0; i < 5; i++ {
			l.Acquire()
			_ = l.Release()
		}
	}()
	eventually(t, "collected", func() bool {
		runtime.GC()
		_, live := total()
		return live == 0
	})
	if acq, _ := total(); acq != 15 {
		t.Fatalf("retired acquisitions %d, want 15", acq)
	}
}

// The fast path allocates nothing, with observers attached.
func TestFastPathAllocs(t *testing.T) {
	defer AddObserver(NopObserver{})()
	var l Lock
	var r RLock
	var rw RWLock
	s := must(NewSemaphore(1))
	var ev Event
	ev.Set()
	n := testing.AllocsPerRun(1000, func() {
		l.Lock()
		l.Unlock()
		r.Acquire()
		_ = r.Release()
		rw.RLock()
		rw.RUnlock()
		rw.Lock()
		rw.Unlock()
		s.Acquire()
		_ = s.Release()
		ev.Wait()
	})
	if n != 0 {
		t.Fatalf("%v allocations", n)
	}
}

// Goroutine identity agrees with the runtime.
func TestGoid(t *testing.T) {
	if !goidTrusted {
		t.Log("goid.Get disagrees with the runtime; using runtime.Stack")
	}
	if curGoid() != stackGoid() || curGoid() == 0 {
		t.Fatal(curGoid(), stackGoid())
	}
}

// BreakWait ends a Context wait with ErrDeadlock and leaves the primitive
// consistent; it refuses waits without a Context and stale sequence numbers.
func TestBreakWait(t *testing.T) {
	l := NewLock()
	s := must(NewSemaphore(0))
	l.Acquire()
	for _, acquire := range []func(context.Context) error{l.AcquireContext, s.AcquireContext} {
		errc := make(chan error, 1)
		th := NewThread(func(ctx context.Context) error { errc <- acquire(context.Background()); return nil })
		_ = th.Start()
		var w WaitInfo
		eventually(t, "waiting", func() bool { var ok bool; w, ok = th.Waiting(); return ok })
		if breakWait(th, w.Seq+1000) {
			t.Fatal("a stale sequence number broke a wait")
		}
		if !breakWait(th, w.Seq) {
			t.Fatal("BreakWait refused")
		}
		if err := <-errc; !errors.Is(err, ErrDeadlock) || !errors.Is(err, ErrRuntime) {
			t.Fatal(err)
		}
		_ = th.Join()
		if breakWait(th, w.Seq) {
			t.Fatal("broke an ended wait")
		}
	}
	if st := l.Stats(); st.Cancellations != 1 || st.Waiters != 0 {
		t.Fatalf("%+v", st)
	}
	_ = l.Release()
	if !l.TryAcquire() {
		t.Fatal("lock not free after the broken wait")
	}
	_ = l.Release()
	_ = s.Release()
	if !s.TryAcquire() {
		t.Fatal("semaphore lost its permit")
	}
	// A wait without a Context cannot be broken.
	l.Acquire()
	th := NewThread(func(context.Context) error { l.Acquire(); return l.Release() })
	_ = th.Start()
	var w WaitInfo
	eventually(t, "waiting", func() bool { var ok bool; w, ok = th.Waiting(); return ok })
	if breakWait(th, w.Seq) {
		t.Fatal("broke a wait without a Context")
	}
	_ = l.Release()
	_ = th.Join()
}

// A thread that ends holding a lock is reported.
func TestHeldAtExitReport(t *testing.T) {
	rec := observe(t)
	l := NewLock(WithName("forgotten"))
	th := NewThread(func(context.Context) error { l.Acquire(); return nil }, WithName("leaker"))
	_ = th.Start()
	_ = th.Join()
	_ = l.Release()
	clean := NewThread(func(context.Context) error { l.Acquire(); return l.Release() })
	_ = clean.Start()
	_ = clean.Join()
	rec.mu.Lock()
	defer rec.mu.Unlock()
	var held []Report
	for _, r := range rec.reports {
		if r.Kind == ReportHeldAtExit {
			held = append(held, r)
		}
	}
	if len(held) != 1 || held[0].Threads[0] != th || held[0].Primitives[0] != l || !strings.Contains(held[0].Summary, "leaker ended holding") {
		t.Fatalf("%+v", held)
	}
}

// A binary semaphore's holder is named while the permit is released by its
// holder; a release by another goroutine (a signal) turns naming off for
// good. Larger semaphores name no holder. Readers of an RWLock are named.
func TestSemaphoreHolders(t *testing.T) {
	pool := must(NewSemaphore(2))
	pool.Acquire()
	if h := pool.holders(); h != nil {
		t.Fatalf("a 2-permit semaphore names %v", h)
	}
	_ = pool.Release()
	s := must(NewSemaphore(1))
	s.Acquire()
	if h := s.holders(); len(h) != 1 || h[0] != GetIdent() {
		t.Fatalf("holders %v", h)
	}
	_ = s.Release()
	if h := s.holders(); len(h) != 0 {
		t.Fatalf("holders after release %v", h)
	}
	s.Acquire()
	done := make(chan struct{})
	go func() { _ = s.Release(); close(done) }() // released by another goroutine
	<-done
	s.Acquire()
	if h := s.holders(); h != nil {
		t.Fatalf("a signal-used semaphore still names holders: %v", h)
	}
	var rw RWLock
	rw.RLock()
	if h := rw.holders(); len(h) != 1 || h[0] != GetIdent() {
		t.Fatalf("reader holders %v", h)
	}
	rw.RUnlock()
	if h := rw.holders(); len(h) != 0 {
		t.Fatalf("reader holders after RUnlock %v", h)
	}
}
