package contention

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/threadmon/threadmon/threading"
)

func TestMain(m *testing.M) {
	threading.SetLogger(nil)
	// leakOnEvent (leaks_experiment_test.go) and leakHolding
	// (holders_experiment_test.go) leak on purpose.
	goleak.VerifyTestMain(m, goleak.IgnoreAnyFunction("github.com/threadmon/threadmon/contention.leakOnEvent"),
		goleak.IgnoreAnyFunction("github.com/threadmon/threadmon/contention.leakHolding"))
}

// scenario starts threads that deadlock; all their blocking waits go through
// ctx, so cancelling it lets every thread finish.
type scenario struct {
	name    string
	threads []string // the names of the threads in the cycle
	prims   []string // labels of the primitives waited on in the cycle
	start   func(ctx context.Context) []*threading.Thread
}

func spawn(name string, fn func() error) *threading.Thread {
	t := threading.NewThread(func(context.Context) error { return fn() }, threading.WithName(name), threading.WithDaemon(true))
	_ = t.Start()
	return t
}

// ring makes n threads each holding lock i and waiting for lock i+1.
func ring(prefix string, n int) scenario {
	var names, prims []string
	for i := 0; i < n; i++ {
		names = append(names, fmt.Sprintf("%s-%d", prefix, i))
		prims = append(prims, fmt.Sprintf("%s-fork-%d", prefix, i))
	}
	return scenario{name: fmt.Sprintf("ring of %d", n), threads: names, prims: prims, start: func(ctx context.Context) []*threading.Thread {
		forks := make([]*threading.Lock, n)
		for i := range forks {
			forks[i] = threading.NewLock(threading.WithName(prims[i]))
		}
		b, _ := threading.NewBarrier(n)
		var ts []*threading.Thread
		for i := 0; i < n; i++ {
			ts = append(ts, spawn(names[i], func() error {
				forks[i].Acquire()
				defer forks[i].Release()
				if _, err := b.WaitContext(ctx); err != nil {
					return err
				}
				if err := forks[(i+1)%n].AcquireContext(ctx); err != nil {
					return err
				}
				return forks[(i+1)%n].Release()
			}))
		}
		return ts
	}}
}

func scenarios() []scenario {
	return []scenario{
		ring("abba", 2),
		ring("trio", 3),
		ring("philosopher", 5),
		{name: "RLock and Lock", threads: []string{"mixed-1", "mixed-2"}, prims: []string{"mixed-rlock", "mixed-lock"},
			start: func(ctx context.Context) []*threading.Thread {
				r := threading.NewRLock(threading.WithName("mixed-rlock"))
				l := threading.NewLock(threading.WithName("mixed-lock"))
				b, _ := threading.NewBarrier(2)
				return []*threading.Thread{
					spawn("mixed-1", func() error {
						r.Acquire()
						r.Acquire()
						defer r.Release()
						defer r.Release()
						_, _ = b.WaitContext(ctx)
						if err := l.AcquireContext(ctx); err != nil {
							return err
						}
						return l.Release()
					}),
					spawn("mixed-2", func() error {
						l.Acquire()
						defer l.Release()
						_, _ = b.WaitContext(ctx)
						if err := r.AcquireContext(ctx); err != nil {
							return err
						}
						return r.Release()
					}),
				}
			}},
		{name: "semaphores as mutexes", threads: []string{"sem-1", "sem-2"}, prims: []string{"sem-a", "sem-b"},
			start: func(ctx context.Context) []*threading.Thread {
				a, _ := threading.NewSemaphore(1, threading.WithName("sem-a"))
				b, _ := threading.NewBoundedSemaphore(1, threading.WithName("sem-b"))
				bar, _ := threading.NewBarrier(2)
				return []*threading.Thread{
					spawn("sem-1", func() error {
						a.Acquire()
						defer a.Release()
						_, _ = bar.WaitContext(ctx)
						if err := b.AcquireContext(ctx); err != nil {
							return err
						}
						return b.Release()
					}),
					spawn("sem-2", func() error {
						b.Acquire()
						defer b.Release()
						_, _ = bar.WaitContext(ctx)
						if err := a.AcquireContext(ctx); err != nil {
							return err
						}
						return a.Release()
					}),
				}
			}},
		{name: "reader blocks its writer", threads: []string{"reader", "writer"}, prims: []string{"rw", "rw-guard"},
			start: func(ctx context.Context) []*threading.Thread {
				rw := threading.NewRWLock(threading.WithName("rw"))
				guard := threading.NewLock(threading.WithName("rw-guard"))
				reading, guarded := threading.NewEvent(), threading.NewEvent()
				return []*threading.Thread{
					spawn("reader", func() error {
						rw.RLock()
						defer rw.RUnlock()
						reading.Set()
						guarded.Wait()
						if err := guard.AcquireContext(ctx); err != nil { // held by the writer
							return err
						}
						return guard.Release()
					}),
					spawn("writer", func() error {
						guard.Acquire()
						defer guard.Release()
						guarded.Set()
						reading.Wait()
						rw.Lock() // waits for the reader
						rw.Unlock()
						return nil
					}),
				}
			}},
		{name: "join cycle", threads: []string{"joiner", "joinee"}, prims: []string{"join-lock"},
			start: func(ctx context.Context) []*threading.Thread {
				l := threading.NewLock(threading.WithName("join-lock"))
				held := threading.NewEvent()
				joinee := threading.NewThread(func(context.Context) error {
					held.Wait()
					if err := l.AcquireContext(ctx); err != nil {
						return err
					}
					return l.Release()
				}, threading.WithName("joinee"), threading.WithDaemon(true))
				_ = joinee.Start()
				joiner := spawn("joiner", func() error {
					l.Acquire()
					defer l.Release()
					held.Set()
					return joinee.JoinContext(ctx)
				})
				return []*threading.Thread{joiner, joinee}
			}},
		{name: "condition re-take", threads: []string{"cond-waiter", "cond-notifier"}, prims: []string{"cond-inner", "cond-outer"},
			start: func(ctx context.Context) []*threading.Thread {
				inner := threading.NewLock(threading.WithName("cond-inner"))
				outer := threading.NewLock(threading.WithName("cond-outer"))
				c := threading.NewCondition(inner, threading.WithName("cond"))
				waiting := threading.NewEvent()
				w := spawn("cond-waiter", func() error {
					outer.Acquire()
					defer outer.Release()
					c.Acquire()
					defer c.Release()
					waiting.Set()
					return c.WaitContext(ctx) // notified, then cannot re-take inner
				})
				n := spawn("cond-notifier", func() error {
					waiting.Wait()
					c.Acquire()
					defer c.Release()
					_ = c.Notify(1)
					if err := outer.AcquireContext(ctx); err != nil { // held by the waiter
						return err
					}
					return outer.Release()
				})
				return []*threading.Thread{w, n}
			}},
	}
}

func TestDeadlockShapes(t *testing.T) {
	for _, sc := range scenarios() {
		t.Run(sc.name, func(t *testing.T) {
			found := make(chan *Report, 4)
			d := Start(WithInterval(50*time.Millisecond), WithCallback(func(r *Report) { found <- r }))
			defer d.Stop()
			ctx, cancel := context.WithCancel(context.Background())
			threads := sc.start(ctx)
			var r *Report
			select {
			case r = <-found:
			case <-time.After(10 * time.Second):
				t.Fatal("no deadlock reported in 10 s")
			}
			var names []string
			for _, rt := range r.Threads {
				names = append(names, rt.Name)
				if rt.Stack == "" || rt.WaitsOn == "" || rt.HeldBy == "" {
					t.Errorf("incomplete thread in report: %+v", rt)
				}
			}
			sort.Strings(names)
			want := append([]string(nil), sc.threads...)
			sort.Strings(want)
			if strings.Join(names, ",") != strings.Join(want, ",") {
				t.Errorf("threads %v, want %v", names, want)
			}
			for _, p := range sc.prims {
				if !strings.Contains(strings.Join(r.Primitives, " "), p) {
					t.Errorf("primitive %s missing from %v", p, r.Primitives)
				}
			}
			if !strings.HasPrefix(r.Text, "Found one deadlock:") || !strings.Contains(r.Text, "which is held by") {
				t.Errorf("report text:\n%s", r.Text)
			}
			cancel()
			for _, th := range threads {
				if done, _ := th.JoinTimeout(10 * time.Second); !done {
					t.Fatalf("%s did not finish after cancel", th.Name())
				}
			}
			time.Sleep(150 * time.Millisecond)
			if n := len(d.Reports()); n != 1 {
				t.Fatalf("%d reports for one deadlock", n)
			}
		})
	}
}

// With the default interval, a deadlock is reported within 1 s of forming.
func TestDetectionLatency(t *testing.T) {
	found := make(chan time.Time, 1)
	d := Start(WithCallback(func(*Report) { found <- time.Now() }))
	defer d.Stop()
	ctx, cancel := context.WithCancel(context.Background())
	threads := ring("latency", 2).start(ctx)
	var formed time.Time
	for formed.IsZero() {
		n := 0
		var last time.Time
		for _, th := range threads {
			if w, ok := th.Waiting(); ok && w.Kind == threading.WaitAcquire {
				n++
				if w.Since.After(last) {
					last = w.Since
				}
			}
		}
		if n == 2 {
			formed = last
		}
		time.Sleep(time.Millisecond)
	}
	select {
	case at := <-found:
		latency := at.Sub(formed)
		t.Logf("deadlock reported %v after it formed (interval 250 ms)", latency.Round(time.Millisecond))
		if latency > 5*time.Second {
			t.Fatalf("latency %v", latency)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("not reported")
	}
	cancel()
	for _, th := range threads {
		_ = th.Join()
	}
}

// Look-alikes are never reported: a long hold that ends, a chain that
// drains, a busy producer-consumer.
func TestLookAlikesNotReported(t *testing.T) {
	var mu sync.Mutex
	var reports []*Report
	d := Start(WithInterval(5*time.Millisecond), WithCallback(func(r *Report) { mu.Lock(); reports = append(reports, r); mu.Unlock() }))
	defer d.Stop()
	for rep := 0; rep < 5; rep++ {
		// A long hold that ends.
		a := threading.NewLock(threading.WithName("long-hold"))
		a.Acquire()
		var ts []*threading.Thread
		for i := 0; i < 3; i++ {
			ts = append(ts, spawn(fmt.Sprintf("hold-waiter-%d", i), func() error { a.Acquire(); return a.Release() }))
		}
		time.Sleep(30 * time.Millisecond)
		_ = a.Release()
		// A chain that drains: t1 holds A, t2 holds B and waits A, t3 waits B.
		la := threading.NewLock(threading.WithName("chain-a"))
		lb := threading.NewLock(threading.WithName("chain-b"))
		la.Acquire()
		ts = append(ts, spawn("chain-2", func() error {
			lb.Acquire()
			defer lb.Release()
			la.Acquire()
			return la.Release()
		}))
		for lb.Stats().Contentions == 0 && !lb.Locked() {
			time.Sleep(time.Millisecond)
		}
		ts = append(ts, spawn("chain-3", func() error { lb.Acquire(); return lb.Release() }))
		time.Sleep(30 * time.Millisecond)
		_ = la.Release()
		// A busy producer-consumer.
		c := threading.NewCondition(nil, threading.WithName("pc"))
		var queue []int
		ts = append(ts, spawn("producer", func() error {
			for i := 0; i < 500; i++ {
				c.Acquire()
				for len(queue) >= 4 {
					_ = c.Wait()
				}
				queue = append(queue, i)
				_ = c.NotifyAll()
				_ = c.Release()
			}
			return nil
		}), spawn("consumer", func() error {
			for n := 0; n < 500; n++ {
				c.Acquire()
				for len(queue) == 0 {
					_ = c.Wait()
				}
				queue = queue[1:]
				_ = c.NotifyAll()
				_ = c.Release()
			}
			return nil
		}))
		for _, th := range ts {
			if done, _ := th.JoinTimeout(10 * time.Second); !done {
				t.Fatalf("%s stuck", th.Name())
			}
		}
	}
	time.Sleep(20 * time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	if len(reports) != 0 {
		t.Fatalf("false alarm:\n%s", reports[0].Text)
	}
}

// The HTTP API: the live graph while a deadlock stands, DOT with the cycle in
// red, the report, read-only methods, JSON 404s.
func TestHandler(t *testing.T) {
	addr, stop, err := Serve("")
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	base := "http://" + addr
	get := func(path string) (int, []byte) {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	if code, body := get("/deadlocks"); code != 200 || strings.TrimSpace(string(body)) != "[]" {
		t.Fatalf("/deadlocks with none: %d %s", code, body)
	}
	ctx, cancel := context.WithCancel(context.Background())
	sc := ring("http", 2)
	threads := sc.start(ctx)
	defer func() {
		cancel()
		for _, th := range threads {
			_ = th.Join()
		}
	}()
	var reports []Report
	deadline := time.Now().Add(10 * time.Second)
	for len(reports) == 0 && time.Now().Before(deadline) {
		_, body := get("/deadlocks")
		if err := json.Unmarshal(body, &reports); err != nil {
			t.Fatalf("/deadlocks: %v: %s", err, body)
		}
	}
	if len(reports) != 1 || len(reports[0].Threads) != 2 {
		t.Fatalf("reports %+v", reports)
	}
	_, body := get("/threads")
	var ths []Thread
	if err := json.Unmarshal(body, &ths); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, th := range ths {
		if strings.HasPrefix(th.Name, "http-") && th.State == "waiting" && th.Wait != nil && len(th.Holds) == 1 && th.Stack == "" {
			ids = append(ids, th.ID)
		}
	}
	if len(ids) != 2 {
		t.Fatalf("threads: %s", body)
	}
	// A thread's stack, on demand.
	var stacks []ThreadStack
	_, body = get("/stack?id=" + ids[0] + "&id=" + ids[1])
	if err := json.Unmarshal(body, &stacks); err != nil || len(stacks) != 2 {
		t.Fatalf("/stack: %v %s", err, body)
	}
	for i, s := range stacks {
		if s.ID != ids[i] || !strings.HasPrefix(s.Name, "http-") || !strings.Contains(s.Stack, "AcquireContext") {
			t.Fatalf("/stack: %+v", s)
		}
	}
	for _, bad := range []string{"/stack", "/stack?ident=x", "/stack?id=t0"} {
		if code, body := get(bad); code != 400 && code != 404 {
			t.Fatalf("%s: %d %s", bad, code, body)
		}
	}
	var g Graph
	_, body = get("/graph")
	if err := json.Unmarshal(body, &g); err != nil || len(g.Edges) < 4 {
		t.Fatalf("graph: %v %s", err, body)
	}
	if len(g.Deadlocked) != 1 || len(g.Deadlocked[0].Threads) != 2 || g.Deadlocked[0].CycleLength != 2 ||
		len(g.Deadlocked[0].Primitives) != 2 || strings.Contains(string(body), `"stack"`) {
		t.Fatalf("graph's deadlocked components: %+v", g.Deadlocked)
	}
	var prims []Primitive
	_, body = get("/primitives")
	if err := json.Unmarshal(body, &prims); err != nil {
		t.Fatal(err)
	}
	if code, dot := get("/graph.dot"); code != 200 || !strings.HasPrefix(string(dot), "digraph") || !strings.Contains(string(dot), "color=red") {
		t.Fatalf("dot: %d %s", code, dot)
	}
	resp, err := http.Post(base+"/threads", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET, HEAD" {
		t.Fatalf("POST: %d", resp.StatusCode)
	}
	code, body := get("/nope")
	var e map[string]string
	if code != 404 || json.Unmarshal(body, &e) != nil || e["error"] == "" {
		t.Fatalf("404: %d %s", code, body)
	}
}

// PolicyBreak ends one cancellable wait with ErrDeadlock; the others go on.
func TestPolicyBreak(t *testing.T) {
	found := make(chan *Report, 1)
	d := Start(WithInterval(50*time.Millisecond), WithPolicy(PolicyBreak), WithCallback(func(r *Report) { found <- r }))
	defer d.Stop()
	a := threading.NewLock(threading.WithName("txn-a"))
	b := threading.NewLock(threading.WithName("txn-b"))
	bar, _ := threading.NewBarrier(2)
	errs := make([]error, 2)
	txn := func(i int, first, second *threading.Lock) *threading.Thread {
		return spawn(fmt.Sprintf("txn-%d", i), func() error {
			first.Acquire()
			defer first.Release()
			_, _ = bar.Wait()
			if err := second.AcquireContext(context.Background()); err != nil {
				errs[i] = err
				return nil
			}
			return second.Release()
		})
	}
	t1, t2 := txn(0, a, b), txn(1, b, a)
	var r *Report
	select {
	case r = <-found:
	case <-time.After(10 * time.Second):
		t.Fatal("not reported")
	}
	for _, th := range []*threading.Thread{t1, t2} {
		if done, _ := th.JoinTimeout(10 * time.Second); !done {
			t.Fatal("the deadlock was not broken")
		}
	}
	broken := 0
	for _, err := range errs {
		if errors.Is(err, threading.ErrDeadlock) {
			broken++
		}
	}
	if broken != 1 || r.Victim == "" {
		t.Fatalf("errors %v, victim %q", errs, r.Victim)
	}
	if a.Locked() || b.Locked() {
		t.Fatal("a lock was left held")
	}
}

type reportCatcher struct {
	threading.NopObserver
	mu   sync.Mutex
	long []*threading.Report
}

func (c *reportCatcher) ObserveReport(r *threading.Report) {
	if r.Kind == threading.ReportLongWait {
		c.mu.Lock()
		c.long = append(c.long, r)
		c.mu.Unlock()
	}
}

// A wait past the threshold is reported once, with its holder and stacks.
func TestLongWait(t *testing.T) {
	catcher := &reportCatcher{}
	defer threading.AddObserver(catcher)()
	d := Start(WithInterval(20*time.Millisecond), WithLongWait(100*time.Millisecond))
	defer d.Stop()
	l := threading.NewLock(threading.WithName("slow-lock"))
	release := make(chan struct{})
	holder := spawn("slow-holder", func() error { l.Acquire(); <-release; return l.Release() })
	for !l.Locked() {
		time.Sleep(time.Millisecond)
	}
	waiter := spawn("slow-waiter", func() error { l.Acquire(); return l.Release() })
	deadline := time.Now().Add(10 * time.Second)
	for len(d.LongWaits()) == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond) // several more looks: still reported once
	close(release)
	_ = holder.Join()
	_ = waiter.Join()
	lws := d.LongWaits()
	if len(lws) != 1 {
		t.Fatalf("%d long waits", len(lws))
	}
	lw := lws[0]
	if lw.Thread != "slow-waiter" || len(lw.Holders) != 1 || lw.Holders[0] != "slow-holder" || len(lw.Stacks) != 2 ||
		lw.Stacks[0] == "" || lw.Stacks[1] == "" || lw.Seconds < 0.1 || !strings.Contains(lw.Text, "slow-lock") {
		t.Fatalf("%+v", lw)
	}
	catcher.mu.Lock()
	defer catcher.mu.Unlock()
	if len(catcher.long) != 1 || catcher.long[0].Duration < 100*time.Millisecond {
		t.Fatalf("published %d long-wait reports", len(catcher.long))
	}
}

// /contention ranks classes by total wait and by count, and validates n.
func TestContentionEndpoint(t *testing.T) {
	addr, stop, err := Serve("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	name := fmt.Sprintf("hot-lock-%d", time.Now().UnixNano())
	hot := threading.NewLock(threading.WithName(name))
	for i := 0; i < 3; i++ {
		hot.Acquire()
		th := spawn("contender", func() error { hot.Acquire(); return hot.Release() })
		for hot.Stats().Waiters == 0 {
			time.Sleep(time.Millisecond)
		}
		time.Sleep(5 * time.Millisecond)
		_ = hot.Release()
		_ = th.Join()
	}
	resp, err := http.Get("http://" + addr + "/contention?n=1000")
	if err != nil {
		t.Fatal(err)
	}
	var top Top
	err = json.NewDecoder(resp.Body).Decode(&top)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, c := range top.ByCount {
		if c.Label == name && c.Contentions == 3 && c.WaitSeconds >= 0.015 {
			found = true
		}
	}
	if !found || len(top.ByWait) != len(top.ByCount) {
		t.Fatalf("%s not ranked: %+v", name, top.ByCount)
	}
	for _, bad := range []string{"0", "-1", "x", "1001"} {
		resp, err := http.Get("http://" + addr + "/contention?n=" + bad)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("n=%s: %d", bad, resp.StatusCode)
		}
	}
}
