package main

import (
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/threadmon/threadmon/contention"
	"github.com/threadmon/threadmon/threading"
)

// scaleWorkload parks 10,000 threads: 2,871 waiting to acquire Lock db,
// held by worker-3; 5,000 idle workers waiting to be notified (Event
// jobs-ready); 120 shard locks, each held by one thread and waited on by
// another; two threads deadlocked; the rest running (parked on a channel).
func scaleWorkload(t *testing.T) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	release := make(chan struct{})
	var threads []*threading.Thread
	start := func(name string, fn func(context.Context) error) {
		th := threading.NewThread(fn, threading.WithName(name), threading.WithDaemon(true))
		if err := th.Start(); err != nil {
			t.Fatal(err)
		}
		threads = append(threads, th)
	}
	hold := func(name string, l *threading.Lock, ready *sync.WaitGroup) {
		ready.Add(1)
		start(name, func(context.Context) error {
			l.Acquire()
			ready.Done()
			<-release
			return l.Release()
		})
	}
	wait := func(name string, l *threading.Lock) {
		start(name, func(context.Context) error {
			if l.AcquireContext(ctx) != nil {
				return nil
			}
			return l.Release()
		})
	}
	var ready sync.WaitGroup
	db := threading.NewLock(threading.WithName("db"))
	hold("worker-3", db, &ready)
	shards := make([]*threading.Lock, 120)
	for i := range shards {
		shards[i] = threading.NewLock(threading.WithName("shard-" + strconv.Itoa(i)))
		hold("shard-holder-"+strconv.Itoa(i), shards[i], &ready)
	}
	ready.Wait()
	for i := range 2871 {
		wait("db-client-"+strconv.Itoa(i), db)
	}
	for i, l := range shards {
		wait("shard-waiter-"+strconv.Itoa(i), l)
	}
	jobs := threading.NewEvent(threading.WithName("jobs-ready"))
	for i := range 5000 {
		start("idle-worker-"+strconv.Itoa(i), func(context.Context) error { _ = jobs.WaitContext(ctx); return nil })
	}
	// The deadlock: a takes x then y, b takes y then x.
	x, y := threading.NewLock(threading.WithName("ledger-x")), threading.NewLock(threading.WithName("ledger-y"))
	var both sync.WaitGroup
	both.Add(2)
	cross := func(name string, first, second *threading.Lock) {
		start(name, func(context.Context) error {
			first.Acquire()
			both.Done()
			both.Wait()
			if second.AcquireContext(ctx) == nil {
				_ = second.Release()
			}
			return first.Release()
		})
	}
	cross("ledger-a", x, y)
	cross("ledger-b", y, x)
	for i := range 10000 - len(threads) {
		start("runner-"+strconv.Itoa(i), func(context.Context) error { <-release; return nil })
	}
	return func() {
		cancel()
		close(release)
		jobs.Set()
		for _, th := range threads {
			_ = th.Join()
		}
	}
}

// headlessLog runs headless Chromium and returns its DOM dump and how long
// the page took from its script's start to its first render, in real time,
// from the console lines Chromium logs with their time.
func headlessLog(t *testing.T, bin, url string, extra ...string) (string, time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	args := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir=" + t.TempDir(), "--window-size=1400,1400", "--enable-logging=stderr", "--v=0"}
	args = append(append(args, extra...), "--dump-dom", url)
	cmd := exec.CommandContext(ctx, bin, args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium: %v\n%s", err, stderr.String())
	}
	// [pid:tid:MMDD/HHMMSS.micros:INFO:CONSOLE(n)] "threadmon: ..."
	stamp := regexp.MustCompile(`\d{4}/(\d{2})(\d{2})(\d{2})\.(\d{6}):INFO:CONSOLE[^\n]*"threadmon: (script start|first render)`)
	var at [2]time.Duration
	for _, m := range stamp.FindAllStringSubmatch(stderr.String(), -1) {
		h, _ := strconv.Atoi(m[1])
		mi, _ := strconv.Atoi(m[2])
		s, _ := strconv.Atoi(m[3])
		us, _ := strconv.Atoi(m[4])
		d := time.Duration(h)*time.Hour + time.Duration(mi)*time.Minute + time.Duration(s)*time.Second + time.Duration(us)*time.Microsecond
		if m[5] == "script start" {
			at[0] = d
		} else if at[1] == 0 {
			at[1] = d
		}
	}
	if at[0] == 0 || at[1] == 0 {
		return string(out), -1
	}
	return string(out), at[1] - at[0]
}

func bodyAttr(t *testing.T, dom, name string) int {
	t.Helper()
	m := regexp.MustCompile(name + `="(\d+)"`).FindStringSubmatch(dom)
	if m == nil {
		t.Fatalf("the page did not render (no %s):\n%.3000s", name, dom)
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// The page at 10,000 goroutines, in headless Chromium: grouped ("2,871
// threads wait to acquire Lock db, held by worker-3"), under 5,000 DOM
// elements, first render under 2 s, the summary it polls under 2 MB; search,
// a group opened, a primitive and a thread drilled into, and the deadlock
// report staying put (the same element) across refreshes.
func TestPageAt10000Goroutines(t *testing.T) {
	if raceEnabled {
		t.Skip("10,000 goroutines exceed the race detector's limit of 8,128")
	}
	// The drill-down's "where they wait" from a goroutine dump is what this
	// test checks: no sampled stacks, so no waiter has a site of its own.
	threading.SetWaitStackSampling(0)
	defer threading.SetWaitStackSampling(threading.DefaultWaitStackSampling)
	if testing.Short() {
		t.Skip("heavy: 10,000 goroutines and several Chromium runs")
	}
	bin := chromium(t)
	base := serve(t, "")
	stop := scaleWorkload(t)
	defer stop()

	var s contention.Summary
	waitFor(t, "10,000 threads and the deadlock", func() bool {
		getJSON(t, base+"/api/summary", &s)
		var reps []contention.Report
		getJSON(t, base+"/api/deadlocks", &reps)
		return s.Counts.Threads >= 10000 && s.Counts.Contention >= 2871+120+2 && len(reps) > 0
	})
	size := func(path string) int {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return len(b)
	}
	sum, graph := size("/api/summary"), size("/api/graph")
	t.Logf("/api/summary %d B, /api/graph %d B", sum, graph)
	if sum > 2<<20 {
		t.Fatalf("/api/summary is %d B at 10,000 goroutines: over 2 MB", sum)
	}
	var dbID, holderID string
	for _, p := range s.Primitives {
		if p.Label == "db" {
			dbID = p.ID
			if len(p.Holders) == 1 {
				holderID = p.Holders[0]
			}
		}
	}
	if dbID == "" || holderID == "" {
		t.Fatalf("Lock db or its holder not in the summary: %+v", s.Primitives[:min(5, len(s.Primitives))])
	}

	// The first render, and the report staying put across refreshes.
	dom, first := headlessLog(t, bin, base+"/", "--virtual-time-budget=6000")
	elements, polls := bodyAttr(t, dom, "data-elements"), bodyAttr(t, dom, "data-polls")
	t.Logf("first render %v (real time, script start to drawn), %d DOM elements, %d polls", first, elements, polls)
	if elements >= 5000 {
		t.Fatalf("%d DOM elements at 10,000 goroutines", elements)
	}
	if first < 0 || first > 2*time.Second {
		t.Fatalf("first render took %v", first)
	}
	for _, want := range []string{
		"2,871 threads wait to acquire Lock db, held by worker-3",
		"5,000 threads waiting to be notified (event) by Event jobs-ready",
		"Deadlock: ledger-",
		"Found one deadlock",      // the report's head, shown
		"<summary>Stacks <button", // its stacks, folding, with a copy button
		"copy the report",
		"2871 waiting", // the graph counts db's waiters
	} {
		if !strings.Contains(strings.ReplaceAll(dom, "2,871 waiting", "2871 waiting"), want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if n := strings.Count(dom, "db-client-"); n > 0 {
		t.Errorf("the collapsed group shows %d of its threads", n)
	}
	if polls < 3 {
		t.Fatalf("only %d polls in the run", polls)
	}
	reps := regexp.MustCompile(`<div class="report report-d[^"]*" data-born="(\d+)"`).FindAllStringSubmatch(dom, -1)
	if len(reps) != 1 || reps[0][1] != "1" {
		t.Fatalf("the deadlock report is not the one element drawn at the first poll, after %d polls: %v", polls, reps)
	}

	// Search.
	dom, _ = headlessLog(t, bin, base+"/#q=shard-waiter-7", "--virtual-time-budget=3000")
	for _, want := range []string{"shard-waiter-7<", "shard-waiter-77<", "match"} {
		if !strings.Contains(dom, want) {
			t.Errorf("search: page lacks %q", want)
		}
	}
	if strings.Contains(dom, "idle-worker-") || strings.Contains(dom, "2,871 threads") {
		t.Error("search: threads that do not match are shown")
	}

	// A group opened: its longest waits, and a way to list more.
	dom, _ = headlessLog(t, bin, base+"/#group="+strings.ReplaceAll("acquire "+dbID, " ", "+"), "--virtual-time-budget=3000")
	if n := strings.Count(dom, ">db-client-"); n != 10 || !strings.Contains(dom, "show 200 more of 2,861") {
		t.Errorf("opened group: %d threads listed", n)
	}

	// A primitive drilled into.
	dom, _ = headlessLog(t, bin, base+"/#primitive="+dbID, "--virtual-time-budget=3000")
	// Where the waiters wait is found by a dump only when asked for.
	for _, want := range []string{"Lock db", "Held by", "worker-3", "2,871 waiting to acquire", "Wait times", "Rates over the last minutes",
		"find where they wait"} {
		if !strings.Contains(dom, want) {
			t.Errorf("primitive view lacks %q", want)
		}
	}
	// A thread drilled into: what it holds, and its stack on demand.
	dom, _ = headlessLog(t, bin, base+"/#thread="+holderID, "--virtual-time-budget=3000")
	for _, want := range []string{"Thread worker-3", "Holds", "Lock db", `<pre class="stack">goroutine `, "copy"} {
		if !strings.Contains(dom, want) {
			t.Errorf("thread view lacks %q", want)
		}
	}
	shot := filepath.Join(t.TempDir(), "threadmon-10k.png")
	if p := os.Getenv("THREADMON_SCREENSHOT_10K"); p != "" {
		shot = p
	}
	headless(t, bin, "--screenshot="+shot, base+"/#primitive="+dbID)
	t.Logf("screenshot: %s", shot)
}
