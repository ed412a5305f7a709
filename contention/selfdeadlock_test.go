package contention

import (
	"context"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/threadmon/threadmon/threading"
)

// until polls cond every few milliseconds for at most 10 s.
func until(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// reportSink collects what threading publishes.
type reportSink struct {
	threading.NopObserver
	mu sync.Mutex
	rs []*threading.Report
	d  *Detector // whose reports expectReport reads from /deadlocks, if set
}

func (s *reportSink) ObserveReport(r *threading.Report) {
	s.mu.Lock()
	s.rs = append(s.rs, r)
	s.mu.Unlock()
}

func (s *reportSink) find(kind threading.ReportKind, substr string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range s.rs {
		if r.Kind == kind && strings.Contains(r.Summary+r.Detail, substr) {
			return true
		}
	}
	return false
}

// count is how many reports of the given kind name thread among their
// threads.
func (s *reportSink) count(kind threading.ReportKind, thread string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, r := range s.rs {
		if r.Kind != kind {
			continue
		}
		for _, th := range r.Threads {
			if th.Name() == thread {
				n++
			}
		}
	}
	return n
}

// waitingOn reports whether th waits, with the given wait kind.
func waitingOn(th *threading.Thread, kind threading.WaitKind) bool {
	w, ok := th.Waiting()
	return ok && w.Kind == kind
}

// expectReport waits for the detector's report of the given kind naming
// thread name, and checks it is served by /deadlocks and published.
func expectReport(t *testing.T, found <-chan *Report, sink *reportSink, kind, name string) *Report {
	t.Helper()
	var r *Report
	deadline := time.After(10 * time.Second)
	for r == nil {
		select {
		case x := <-found:
			if x.Kind == kind && len(x.Threads) > 0 && strings.Contains(x.Text, name) {
				r = x
			}
		case <-deadline:
			t.Fatalf("no %s report naming %s in 10 s", kind, name)
		}
	}
	rec := httptest.NewRecorder()
	NewHandler(Local(sink.d)).ServeHTTP(rec, httptest.NewRequest("GET", "/deadlocks", nil))
	var served []Report
	if err := json.Unmarshal(rec.Body.Bytes(), &served); err != nil {
		t.Fatalf("/deadlocks: %v: %s", err, rec.Body)
	}
	ok := false
	for _, s := range served {
		ok = ok || s.ID == r.ID && s.Kind == kind
	}
	if !ok {
		t.Errorf("/deadlocks does not serve %s report %q: %s", kind, r.ID, rec.Body)
	}
	pk := threading.ReportDeadlock
	if kind == KindOrphan {
		pk = threading.ReportOrphan
	}
	if !sink.find(pk, name) {
		t.Errorf("no %v report naming %s published", pk, name)
	}
	return r
}

func startDetector(t *testing.T) (<-chan *Report, *reportSink, func()) {
	found := make(chan *Report, 16)
	sink := &reportSink{}
	remove := threading.AddObserver(sink)
	d := Start(WithInterval(20*time.Millisecond), WithCallback(func(r *Report) {
		select {
		case found <- r:
		default:
		}
	}))
	sink.d = d
	return found, sink, func() { d.Stop(); remove() }
}

func TestSelfDeadlocks(t *testing.T) {
	cases := []struct {
		name string
		// run makes the thread deadlock on itself; free (from the test's
		// goroutine) lets it go on.
		run  func(th func(func() error) *threading.Thread) (*threading.Thread, func())
		text string
	}{
		{"Lock re-acquired", func(spawnT func(func() error) *threading.Thread) (*threading.Thread, func()) {
			l := threading.NewLock(threading.WithName("self-lock"))
			th := spawnT(func() error { l.Acquire(); l.Acquire(); return l.Release() })
			return th, func() { _ = l.Release() } // any thread may release a Lock
		}, "which it holds itself"},
		{"Mutex re-locked", func(spawnT func(func() error) *threading.Thread) (*threading.Thread, func()) {
			var mu threading.Mutex
			th := spawnT(func() error { mu.Lock(); mu.Lock(); mu.Unlock(); return nil })
			return th, mu.Unlock
		}, "which it holds itself"},
		{"RWLock write after write", func(spawnT func(func() error) *threading.Thread) (*threading.Thread, func()) {
			rw := threading.NewRWLock(threading.WithName("self-ww"))
			th := spawnT(func() error { rw.Lock(); rw.Lock(); rw.Unlock(); return nil })
			return th, rw.Unlock
		}, "which it holds itself"},
		{"RWLock write after read", func(spawnT func(func() error) *threading.Thread) (*threading.Thread, func()) {
			rw := threading.NewRWLock(threading.WithName("self-wr"))
			th := spawnT(func() error { rw.RLock(); rw.Lock(); rw.Unlock(); return nil })
			return th, rw.RUnlock // allowed from another goroutine, as with sync.RWMutex
		}, "while it holds it for reading itself"},
		{"RWLock read after write", func(spawnT func(func() error) *threading.Thread) (*threading.Thread, func()) {
			var rw threading.RWMutex
			th := spawnT(func() error { rw.Lock(); rw.RLock(); rw.RUnlock(); return nil })
			return th, rw.Unlock
		}, "which it holds itself"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			found, sink, stop := startDetector(t)
			defer stop()
			name := "self-" + strings.ReplaceAll(c.name, " ", "-")
			th, free := c.run(func(fn func() error) *threading.Thread { return spawn(name, fn) })
			r := expectReport(t, found, sink, KindSelfDeadlock, name)
			if r.ThreadCount != 1 || r.Threads[0].Name != name || r.Threads[0].HeldBy != name {
				t.Errorf("report threads %+v", r.Threads)
			}
			if !strings.Contains(r.Text, c.text) {
				t.Errorf("report text lacks %q:\n%s", c.text, r.Text)
			}
			if !sink.find(threading.ReportSelfDeadlock, name) {
				t.Errorf("threading did not report the self-deadlock when it began")
			}
			free()
			if done, _ := th.JoinTimeout(10 * time.Second); !done {
				t.Fatal("thread did not finish")
			}
		})
	}
}

// A reader that holds an RWLock and asks for it again while a writer waits
// for it deadlocks with the writer: reader → writer (it queues behind it) →
// reader (the writer waits for it to leave).
func TestRWLockReaderWriterCycle(t *testing.T) {
	found, sink, stop := startDetector(t)
	defer stop()
	rw := threading.NewRWLock(threading.WithName("rr-w"))
	step := make(chan struct{})
	a := spawn("rr-reader", func() error {
		rw.RLock()
		<-step
		rw.RLock() // behind the writer
		rw.RUnlock()
		return nil
	})
	until(t, "the reader to hold", func() bool { return rw.Readers() == 1 })
	w := spawn("rr-writer", func() error { rw.Lock(); rw.Unlock(); return nil })
	until(t, "the writer to wait", func() bool { return waitingOn(w, threading.WaitAcquire) })
	close(step)
	r := expectReport(t, found, sink, KindDeadlock, "rr-reader")
	if r.ThreadCount != 2 || !strings.Contains(r.Text, "rr-writer") {
		t.Errorf("report:\n%s", r.Text)
	}
	if !sink.find(threading.ReportSelfDeadlock, "rr-reader") {
		t.Errorf("threading did not report the recursive read lock behind a writer")
	}
	rw.RUnlock() // the first read lock, on the reader's behalf
	for _, th := range []*threading.Thread{a, w} {
		if done, _ := th.JoinTimeout(10 * time.Second); !done {
			t.Fatalf("%s did not finish", th.Name())
		}
	}
}

// Three parties: A reads the RWLock, W queues to write it, C holds a Lock
// and queues to read behind W, A asks for C's Lock: A → C → W → A.
func TestRWLockThreePartyCycle(t *testing.T) {
	found, sink, stop := startDetector(t)
	defer stop()
	rw := threading.NewRWLock(threading.WithName("tri-rw"))
	l := threading.NewLock(threading.WithName("tri-lock"))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	held, step := make(chan struct{}), make(chan struct{})
	a := spawn("tri-a", func() error {
		rw.RLock()
		defer rw.RUnlock()
		close(held)
		<-step
		if err := l.AcquireContext(ctx); err != nil {
			return err
		}
		return l.Release()
	})
	<-held
	w := spawn("tri-w", func() error { rw.Lock(); rw.Unlock(); return nil })
	until(t, "the writer to wait", func() bool { return waitingOn(w, threading.WaitAcquire) })
	c := spawn("tri-c", func() error {
		l.Acquire()
		defer l.Release()
		rw.RLock()
		rw.RUnlock()
		return nil
	})
	until(t, "C to wait", func() bool { return waitingOn(c, threading.WaitRead) })
	close(step)
	r := expectReport(t, found, sink, KindDeadlock, "tri-a")
	if r.ThreadCount != 3 {
		t.Errorf("report:\n%s", r.Text)
	}
	for _, n := range []string{"tri-w", "tri-c"} {
		if !strings.Contains(r.Text, n) {
			t.Errorf("report lacks %s:\n%s", n, r.Text)
		}
	}
	cancel()
	for _, th := range []*threading.Thread{a, w, c} {
		if done, _ := th.JoinTimeout(10 * time.Second); !done {
			t.Fatalf("%s did not finish", th.Name())
		}
	}
}

// With no detector ever started, a reader holding an RWLock is in the
// graph when a writer waits, and readers past those named are counted.
func TestReadersKnownWithoutSetup(t *testing.T) {
	rw := threading.NewRWLock(threading.WithName("known-readers"))
	const n = 6
	var hold, release sync.WaitGroup
	hold.Add(n)
	release.Add(1)
	var readers []*threading.Thread
	for i := 0; i < n; i++ {
		readers = append(readers, spawn("known-reader", func() error {
			rw.RLock()
			hold.Done()
			release.Wait()
			rw.RUnlock()
			return nil
		}))
	}
	hold.Wait()
	w := spawn("known-writer", func() error { rw.Lock(); rw.Unlock(); return nil })
	until(t, "the writer to wait", func() bool { return waitingOn(w, threading.WaitAcquire) })
	g := Snapshot()
	wt := g.Thread(threadID(w.Ident()))
	if wt.Wait == nil || wt.Wait.On != "readers" {
		t.Fatalf("writer's wait %+v", wt.Wait)
	}
	p := g.Primitive(wt.Wait.Primitive)
	if len(p.Readers) == 0 || len(p.Readers)+p.UnnamedReaders != n {
		t.Errorf("readers %v, unnamed %d, want %d in all", p.Readers, p.UnnamedReaders, n)
	}
	if p.Writer != wt.ID {
		t.Errorf("writer %q, want %q", p.Writer, wt.ID)
	}
	release.Done()
	for _, th := range append(readers, w) {
		if done, _ := th.JoinTimeout(10 * time.Second); !done {
			t.Fatalf("%s did not finish", th.Name())
		}
	}
}

// A thread that ends holding a Lock leaves its waiters orphaned.
func TestOrphanedLock(t *testing.T) {
	found, sink, stop := startDetector(t)
	defer stop()
	l := threading.NewLock(threading.WithName("orphan-lock"))
	quitter := spawn("orphan-quitter", func() error { l.Acquire(); return nil })
	_ = quitter.Join()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	waiter := spawn("orphan-waiter", func() error { return l.AcquireContext(ctx) })
	r := expectReport(t, found, sink, KindOrphan, "orphan-waiter")
	if !strings.Contains(r.Text, `held by finished thread "orphan-quitter"`) || !strings.Contains(r.Text, "which ended at") {
		t.Errorf("report text:\n%s", r.Text)
	}
	if r.Threads[0].HeldBy != "orphan-quitter" {
		t.Errorf("held by %q", r.Threads[0].HeldBy)
	}
	cancel()
	if done, _ := waiter.JoinTimeout(10 * time.Second); !done {
		t.Fatal("waiter did not finish")
	}
}

// A plain goroutine (no thread, no record) that ends holding a Lock leaves
// its waiters orphaned too, found once they have waited orphanAge.
func TestOrphanedByGoroutine(t *testing.T) {
	found, sink, stop := startDetector(t)
	defer stop()
	l := threading.NewLock(threading.WithName("orphan-g-lock"))
	done := make(chan struct{})
	go func() { l.Acquire(); close(done) }()
	<-done
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	waiter := spawn("orphan-g-waiter", func() error { return l.AcquireContext(ctx) })
	r := expectReport(t, found, sink, KindOrphan, "orphan-g-waiter")
	if !strings.Contains(r.Text, "held by finished \"goroutine ") || !strings.Contains(r.Text, "which ended before") {
		t.Errorf("report text:\n%s", r.Text)
	}
	cancel()
	if done, _ := waiter.JoinTimeout(10 * time.Second); !done {
		t.Fatal("waiter did not finish")
	}
}

// PolicyBreak ends a self-deadlocked wait made through a Context.
func TestSelfDeadlockBroken(t *testing.T) {
	d := Start(WithInterval(20*time.Millisecond), WithPolicy(PolicyBreak))
	defer d.Stop()
	l := threading.NewLock(threading.WithName("self-broken"))
	th := spawn("self-broken", func() error {
		l.Acquire()
		defer l.Release()
		return l.AcquireContext(context.Background())
	})
	if done, _ := th.JoinTimeout(10 * time.Second); !done {
		_ = l.Release()
		t.Fatal("the self-deadlock was not broken")
	}
	if !errors.Is(th.Err(), threading.ErrDeadlock) {
		t.Fatalf("err %v", th.Err())
	}
	// The wait is broken before the report is stored: wait for it.
	deadline := time.Now().Add(10 * time.Second)
	for len(d.Reports()) == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if rs := d.Reports(); len(rs) != 1 || rs[0].Kind != KindSelfDeadlock || rs[0].Victim != "self-broken" {
		t.Fatalf("reports %+v", rs)
	}
}
