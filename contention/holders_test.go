package contention

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/threadmon/threadmon/threading"
)

func TestParseBlocked(t *testing.T) {
	block := "goroutine 12 [chan send, 2 minutes]:\n" +
		"runtime.gopark(0x1?, 0x2?)\n\t/usr/local/go/src/runtime/proc.go:435 +0xce\n" +
		"runtime.chansend1(0xc0000a2000?, 0x1?)\n\t/usr/local/go/src/runtime/chan.go:161 +0x1d\n" +
		"github.com/threadmon/threadmon/threading.(*Thread).run(0x1)\n\t/src/threadmon/threading/thread.go:200 +0x10\n" +
		"example.com/svc/pkg.(*Server).flush(0xc000010000)\n\t/src/svc/pkg/file.go:42 +0x25\n" +
		"created by example.com/svc/pkg.Start in goroutine 1\n\t/src/svc/pkg/start.go:10 +0x99"
	b, ok := parseBlocked(block)
	if !ok || b.Op != "chan send" || b.Site != "pkg/file.go:42" || b.SinceMinutes != 2 || b.Func != "example.com/svc/pkg.(*Server).flush" {
		t.Fatalf("parseBlocked = %+v, %v", b, ok)
	}
	for _, h := range []string{"goroutine 3 [running]:\nmain.f()\n\t/a/b.go:1 +0x1", "goroutine 3 [runnable]:\n", ""} {
		if b, ok := parseBlocked(h); ok {
			t.Fatalf("%q: blocked %+v", h, b)
		}
	}
	b, ok = parseBlocked("goroutine 4 [sync.WaitGroup.Wait, locked to thread]:\nsync.runtime_SemacquireWaitGroup(0x1)\n\t/go/src/runtime/sema.go:114 +0x2e\nsync.(*WaitGroup).Wait(0x1)\n\t/go/src/sync/waitgroup.go:206 +0x85\nnet/http.(*Server).Serve(0x1)\n\t/go/src/net/http/server.go:1 +0x1\nmain.main()\n\t/app/cmd/main.go:7 +0x1")
	if !ok || b.Op != "sync.WaitGroup.Wait" || b.Site != "cmd/main.go:7" {
		t.Fatalf("WaitGroup: %+v", b)
	}
}

// withHolderEvery shortens the time between blocked-holder dumps for one
// test.
func withHolderEvery(t *testing.T, d time.Duration) {
	old := holderEvery
	holderEvery = d
	t.Cleanup(func() { holderEvery = old })
}

// A goroutine holds a Lock and blocks on a channel receive nobody sends
// on; a thread waits for the Lock. The graph shows the holder blocked on
// "chan receive" at this file's line, and one holder-blocked report fires.
func TestBlockedHolderShown(t *testing.T) {
	withHolderEvery(t, 50*time.Millisecond)
	d := Start(WithInterval(10*time.Millisecond), WithLongWait(300*time.Millisecond), WithBlockedHolders(100*time.Millisecond))
	defer d.Stop()
	l := threading.NewLock(threading.WithName("bh-lock"))
	block, held, site := make(chan struct{}), make(chan uint64), make(chan int, 1)
	released := make(chan struct{})
	go func() {
		defer close(released)
		l.Acquire()
		held <- threading.GetIdent()
		_, _, line, _ := runtime.Caller(0)
		site <- line + 2
		<-block
		_ = l.Release()
	}()
	holder := <-held
	want := fmt.Sprintf("contention/holders_test.go:%d", <-site)
	waiter := threading.NewThread(func(ctx context.Context) error {
		if err := l.AcquireContext(ctx); err != nil {
			return err
		}
		return l.Release()
	}, threading.WithName("bh-waiter"))
	if err := waiter.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		close(block)
		<-released
		if err := waiter.Join(); err != nil {
			t.Errorf("waiter: %v", err)
		}
	}()
	deadline := time.Now().Add(10 * time.Second)
	var shown *Blocked
	for shown == nil && time.Now().Before(deadline) {
		if th := Snapshot().Thread(threadID(holder)); th != nil && th.Blocked != nil {
			shown = th.Blocked
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	if shown == nil || shown.Op != "chan receive" || shown.Site != want {
		t.Fatalf("holder shown blocked on %+v, want chan receive at %s", shown, want)
	}
	// On the graph's JSON, its DOT, and the thread view the page reads.
	g := Snapshot()
	js, _ := json.Marshal(g)
	if th := g.Thread(threadID(holder)); th != nil && th.Blocked != nil {
		if !strings.Contains(string(js), `"blocked":{"op":"chan receive","site":"`+want+`"`) || !strings.Contains(string(js), `"since_minutes":0`) {
			t.Errorf("graph JSON lacks the holder's blocked: %s", js)
		}
		if dot := g.DOT(); !strings.Contains(dot, "blocked on chan receive at "+want) {
			t.Errorf("DOT lacks it:\n%s", dot)
		}
		if v := ThreadViewOf(g, threadID(holder)); v == nil || v.Thread.Blocked == nil {
			t.Errorf("thread view lacks it: %+v", v)
		}
	}
	var reps []*Report
	for time.Now().Before(deadline) {
		if reps = d.HolderReports(); len(reps) > 0 {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	if len(reps) != 1 {
		t.Fatalf("%d holder-blocked reports, want 1", len(reps))
	}
	r := reps[0]
	if r.Kind != KindHolderBlocked && r.Kind != KindLeakedHolder {
		t.Fatalf("kind %q", r.Kind)
	}
	for _, s := range []string{"bh-waiter", "bh-lock", "chan receive", want, fmt.Sprintf("goroutine %d", holder)} {
		if !strings.Contains(r.Text, s) {
			t.Fatalf("report does not name %q:\n%s", s, r.Text)
		}
	}
	// Once: more looks (and dumps) do not report it again.
	seen := holderDumps(d)
	for n := 0; n < 1000 && holderDumps(d) < seen+3 && time.Now().Before(deadline); n++ {
		time.Sleep(10 * time.Millisecond)
	}
	if n := len(d.HolderReports()); n != 1 {
		t.Fatalf("%d reports after more looks, want 1", n)
	}
}

// holderDumps counts the dumps the detector has taken for blocked holders,
// by the time of the last one (for waiting on more looks).
func holderDumps(d *Detector) int64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.holderDump.UnixNano() / int64(holderEvery)
}

// Look-alikes: a holder that is merely slow, running or sleeping briefly
// and then releasing, is never reported blocked.
func TestSlowHolderNotBlocked(t *testing.T) {
	withHolderEvery(t, 50*time.Millisecond)
	d := Start(WithInterval(10*time.Millisecond), WithLongWait(300*time.Millisecond), WithBlockedHolders(100*time.Millisecond))
	defer d.Stop()
	l := threading.NewLock(threading.WithName("slow-lock"))
	stop := make(chan struct{})
	done := make(chan struct{}, 3)
	// Sleeps briefly while holding, then releases, over and over.
	go func() {
		defer func() { done <- struct{}{} }()
		for i := 0; i < 1000; i++ {
			select {
			case <-stop:
				return
			default:
			}
			l.Acquire()
			time.Sleep(20 * time.Millisecond)
			_ = l.Release()
			runtime.Gosched()
		}
	}()
	// Runs (spins) while holding a second lock for 700 ms, well past the
	// long-wait threshold.
	spin := threading.NewLock(threading.WithName("spin-lock"))
	spinning := make(chan struct{})
	go func() {
		defer func() { done <- struct{}{} }()
		spin.Acquire()
		close(spinning)
		end := time.Now().Add(700 * time.Millisecond)
		for x := 0; time.Now().Before(end); x++ {
			_ = x * x
		}
		_ = spin.Release()
	}()
	<-spinning
	waiters := threading.NewThread(func(ctx context.Context) error {
		if err := spin.AcquireContext(ctx); err != nil {
			return err
		}
		_ = spin.Release()
		for i := 0; i < 20; i++ {
			if err := l.AcquireContext(ctx); err != nil {
				return err
			}
			_ = l.Release()
			time.Sleep(10 * time.Millisecond)
		}
		return nil
	}, threading.WithName("slow-waiter"))
	if err := waiters.Start(); err != nil {
		t.Fatal(err)
	}
	if err := waiters.Join(); err != nil {
		t.Fatal(err)
	}
	close(stop)
	<-done
	<-done
	for _, r := range d.HolderReports() {
		t.Fatalf("slow holder reported blocked:\n%s", r.Text)
	}
}
