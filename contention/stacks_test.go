package contention

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/threadmon/threadmon/threading"
)

// What a page polls never takes a goroutine dump (a stop-the-world): not
// /graph, /threads, /contention, /primitives, /graph.dot, nor /deadlocks
// once a standing deadlock has been reported. Checked twice: by counting
// runtime.Stack calls, and by the runtime's own count of non-GC
// stop-the-world pauses, which a dump per request would raise by one per
// request at least.
func TestPollingTakesNoDump(t *testing.T) {
	addr, stop, err := Serve("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	defer http.DefaultClient.CloseIdleConnections()
	get := func(path string) string {
		resp, err := http.Get("http://" + addr + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %d %s", path, resp.StatusCode, b)
		}
		return string(b)
	}
	// Threads that wait: a deadlock, and a thread waiting on a held lock.
	ctx, cancel := context.WithCancel(context.Background())
	threads := ring("poll", 2).start(ctx)
	held := threading.NewLock(threading.WithName("poll-held"))
	held.Acquire()
	threads = append(threads, spawn("poll-waiter", func() error {
		if err := held.AcquireContext(ctx); err != nil {
			return nil
		}
		return held.Release()
	}))
	defer func() {
		cancel()
		_ = held.Release()
		for _, th := range threads {
			_ = th.Join()
		}
	}()
	// Reported once (with its stacks), before the polling.
	for !strings.Contains(get("/deadlocks"), "Found one deadlock") {
		time.Sleep(10 * time.Millisecond)
	}
	for held.Stats().Waiters == 0 {
		time.Sleep(time.Millisecond)
	}

	const rounds = 20
	calls := stackCalls.Load()
	_, pauses, _, _ := stwSeconds()
	for i := 0; i < rounds; i++ {
		for _, p := range []string{"/graph", "/threads", "/contention", "/primitives", "/graph.dot"} {
			get(p)
		}
	}
	for i := 0; i < 3; i++ { // /deadlocks takes 100 ms
		if !strings.Contains(get("/deadlocks"), "Found one deadlock") {
			t.Fatal("the standing deadlock is no longer served")
		}
	}
	_, pausesAfter, _, _ := stwSeconds()
	if n := stackCalls.Load() - calls; n != 0 {
		t.Errorf("polling took %d goroutine dumps", n)
	}
	if n := pausesAfter - pauses; n >= rounds {
		t.Errorf("polling /graph and /threads %d times each stopped the world %d times", rounds, n)
	}
}

// Concurrent callers share one dump; the next dump's buffer is sized from
// the last one, so it takes a single runtime.Stack call.
func TestSharedDump(t *testing.T) {
	oldTTL := dumpTTL
	dumpTTL = time.Hour
	defer func() {
		dumpTTL = oldTTL
		dumps.mu.Lock()
		dumps.last = nil
		dumps.mu.Unlock()
	}()
	// Enough goroutines that a dump outgrows the first buffer.
	release := make(chan struct{})
	var parked sync.WaitGroup
	for i := 0; i < 3000; i++ {
		parked.Add(1)
		go func() { defer parked.Done(); <-release }()
	}
	defer func() { close(release); parked.Wait() }()

	dumps.mu.Lock()
	dumps.last, dumps.size = nil, 0
	dumps.mu.Unlock()
	start := make(chan struct{})
	got := make([]*stackDump, 8)
	var wg sync.WaitGroup
	for i := range got {
		wg.Add(1)
		go func() { defer wg.Done(); <-start; got[i] = sharedDump(time.Time{}) }()
	}
	close(start)
	wg.Wait()
	for _, d := range got[1:] {
		if d != got[0] {
			t.Fatal("concurrent callers took separate dumps")
		}
	}
	if len(got[0].buf) <= minDumpBuf {
		t.Fatalf("a dump of 3000 goroutines took %d bytes", len(got[0].buf))
	}
	if sharedDump(time.Time{}) != got[0] {
		t.Fatal("a recent dump was not reused")
	}
	calls := stackCalls.Load()
	d := sharedDump(time.Now()) // too old now: a new one, in one call
	if d == got[0] || stackCalls.Load()-calls != 1 {
		t.Fatalf("the second dump took %d runtime.Stack calls", stackCalls.Load()-calls)
	}
	if s := d.stack(uint64(threading.GetIdent())); !strings.Contains(s, "TestSharedDump") {
		t.Fatalf("this goroutine's stack:\n%s", s)
	}
	if d.stack(1<<62) != "" {
		t.Fatal("a stack for a goroutine that does not exist")
	}
}
