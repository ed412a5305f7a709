package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/threadmon/threadmon/contention"
)

// Each test here drives threadmon's sidecar with a hostile or broken target:
// a real HTTP server on 127.0.0.1 serving the bad payload, beside a good
// target. threadmon must stay up, answer every /api/* path within 2 s, keep
// the good target up, and stay within a memory bound.

// fakeTarget serves a recorded contention API: the given /graph, with an
// empty /contention and /lockorder, and /stack for every thread.
type fakeTarget struct {
	graph []byte
	hits  atomic.Int64
}

func (f *fakeTarget) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.hits.Add(1)
	w.Header().Set("Content-Type", "application/json")
	switch {
	case strings.HasSuffix(r.URL.Path, "/graph"):
		_, _ = w.Write(f.graph)
	case strings.HasSuffix(r.URL.Path, "/contention"):
		_, _ = io.WriteString(w, `{"by_wait":[],"by_count":[]}`)
	case strings.HasSuffix(r.URL.Path, "/lockorder"):
		_, _ = io.WriteString(w, `[]`)
	case strings.HasSuffix(r.URL.Path, "/stack"):
		_, _ = io.WriteString(w, `[]`)
	default:
		http.NotFound(w, r)
	}
}

// goodGraph is a valid graph: a worker holding a lock another waits on.
func goodGraph(names ...string) []byte {
	g := contention.Graph{Time: time.Now(), Edges: []contention.Edge{}}
	for i, name := range names {
		th := &contention.Thread{ID: fmt.Sprintf("t%d", i+1), Name: name, Ident: uint64(i + 1), State: "running", Holds: []string{}}
		g.Threads = append(g.Threads, th)
	}
	g.Primitives = []*contention.Primitive{{ID: "p1", Kind: "Lock", Label: "good-lock", Holders: []string{"t1"}}}
	g.Threads[0].Holds = []string{"p1"}
	if len(g.Threads) > 1 {
		g.Threads[1].State = "waiting"
		g.Threads[1].Wait = &contention.Wait{Primitive: "p1", Kind: "acquire", Since: g.Time.Add(-time.Second), Seq: 7}
		g.Edges = append(g.Edges, contention.Edge{From: "t2", To: "p1", Type: "waits_on", Kind: "acquire"})
	}
	g.Edges = append(g.Edges, contention.Edge{From: "p1", To: "t1", Type: "held_by"})
	b, _ := json.Marshal(g)
	return b
}

func startTarget(t *testing.T, h http.Handler) string {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

// memPeak samples the heap in use until stopped, and returns its peak.
func memPeak(t *testing.T) func() uint64 {
	t.Helper()
	runtime.GC()
	stop, done := make(chan struct{}), make(chan uint64)
	go func() {
		var peak uint64
		var m runtime.MemStats
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			runtime.ReadMemStats(&m)
			peak = max(peak, m.HeapInuse)
			select {
			case <-stop:
				done <- peak
				return
			case <-tick.C:
			}
		}
	}()
	return func() uint64 { close(stop); return <-done }
}

// apiPaths are the merged view's paths: each must answer within 2 s.
var apiPaths = []string{"/api/targets", "/api/graph", "/api/threads", "/api/primitives", "/api/deadlocks", "/api/contention?n=8",
	"/api/lockorder", "/api/longwaits", "/api/holders", "/api/summary"}

// checkServing checks that every /api/* path answers 200 within 2 s.
func checkServing(t *testing.T, base string) {
	t.Helper()
	c := &http.Client{Timeout: 2 * time.Second}
	defer c.CloseIdleConnections()
	for _, p := range apiPaths {
		start := time.Now()
		resp, err := c.Get(base + p)
		if err != nil {
			t.Fatalf("%s: %v (after %v)", p, err, time.Since(start))
		}
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("%s: %d %v", p, resp.StatusCode, err)
		}
	}
}

// goodTarget starts a well-behaved target.
func goodTarget(t *testing.T) string {
	return startTarget(t, &fakeTarget{graph: goodGraph("good-holder", "good-waiter")})
}

// healthy checks, after a hostile case, that threadmon answers every
// /api/* path within 2 s, that the good target is up, and that the heap in
// use peaked under limit.
func healthy(t *testing.T, base, good string, peak func() uint64, limit uint64) {
	t.Helper()
	checkServing(t, base)
	waitFor(t, "the good target up", func() bool { return targetStates(t, base)[good].Up })
	if p := peak(); p > limit {
		t.Fatalf("heap in use peaked at %d MiB, over %d MiB", p>>20, limit>>20)
	}
}

func targetStates(t *testing.T, base string) map[string]TargetState {
	t.Helper()
	c := &http.Client{Timeout: 2 * time.Second}
	defer c.CloseIdleConnections()
	resp, err := c.Get(base + "/api/targets")
	if err != nil {
		t.Fatalf("/api/targets: %v", err)
	}
	defer resp.Body.Close()
	var states []TargetState
	if err := json.NewDecoder(resp.Body).Decode(&states); err != nil {
		t.Fatal(err)
	}
	out := map[string]TargetState{}
	for _, s := range states {
		out[s.URL] = s
	}
	return out
}

// waitDown waits until target url has been polled and marked down, and
// returns its reason.
func waitDown(t *testing.T, base, url string) TargetState {
	t.Helper()
	var s TargetState
	waitFor(t, url+" marked down", func() bool {
		s = targetStates(t, base)[url]
		return !s.LastPoll.IsZero() && !s.Up && s.Reason != "not polled yet"
	})
	return s
}

// hostileCase runs threadmon over a good target and the hostile ones, waits
// until each hostile one is marked down with a reason containing want[url],
// and checks threadmon serves, the good target stays up, and the heap stays
// under limit.
func hostileCase(t *testing.T, limit uint64, want map[string]string, extra ...string) string {
	t.Helper()
	good := startTarget(t, &fakeTarget{graph: goodGraph("good-holder", "good-waiter")})
	peak := memPeak(t)
	targets := []string{good}
	for u := range want {
		targets = append(targets, u)
	}
	base, _ := sidecarServer(t, append(targets, extra...)...)
	for u, reason := range want {
		s := waitDown(t, base, u)
		if !strings.Contains(s.Reason, reason) {
			t.Errorf("%s: reason %q, want %q", u, s.Reason, reason)
		}
	}
	for range 3 { // a few more rounds of polls
		checkServing(t, base)
		time.Sleep(100 * time.Millisecond)
	}
	if s := targetStates(t, base)[good]; !s.Up {
		t.Fatalf("the good target is down: %+v", s)
	}
	if p := peak(); p > limit {
		t.Fatalf("heap in use peaked at %d MiB, over %d MiB", p>>20, limit>>20)
	}
	return base
}

// Crash: holds, waits, holders naming ids not in the graph, and a redirect
// to such a graph: marked down with the reason, never checked.
func TestHostileUnresolvedIDs(t *testing.T) {
	bad := func(doc string) string { return startTarget(t, &fakeTarget{graph: []byte(doc)}) }
	holds := bad(`{"threads":[{"id":"t1","name":"a","state":"waiting","wait":{"primitive":"p1","seq":1},"holds":["p9"]},` +
		`{"id":"t2","name":"b","state":"waiting","wait":{"primitive":"p2","seq":2},"holds":["p1"]}],` +
		`"primitives":[{"id":"p1","holders":["t2"]},{"id":"p2","holders":["t1"]}],"edges":[]}`)
	waits := bad(`{"threads":[{"id":"t1","state":"waiting","wait":{"primitive":"p7","seq":1},"holds":[]}],"primitives":[],"edges":[]}`)
	holders := bad(`{"threads":[],"primitives":[{"id":"p1","holders":["t5"]}],"edges":[]}`)
	redirect := startTarget(t, http.RedirectHandler(holds+"/graph", http.StatusFound))
	hostileCase(t, 512<<20, map[string]string{
		holds:    `holds "p9", which is not in the graph`,
		waits:    `waits on "p7", which is not in the graph`,
		holders:  `held by "t5", which is not in the graph`,
		redirect: "redirect refused",
	})
}

// Wedge: a null entry in a target's graph. The view is built without it,
// every /api/* path answers, and threadmon stops promptly when told to.
func TestHostileNullEntries(t *testing.T) {
	nulls := map[string]string{}
	for _, doc := range []string{
		`{"threads":[null],"primitives":[],"edges":[]}`,
		`{"threads":[],"primitives":[null],"edges":[]}`,
		`{"threads":[{"id":"t1","wait":null,"holds":null}],"primitives":[],"edges":[null]}`,
	} {
		u := startTarget(t, &fakeTarget{graph: []byte(doc)})
		nulls[u] = "not the contention JSON"
	}
	lockorder := startTarget(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/lockorder") {
			_, _ = io.WriteString(w, `[null]`)
			return
		}
		(&fakeTarget{graph: goodGraph("x")}).ServeHTTP(w, r)
	}))
	nulls[lockorder] = "lock-order report 0 is null"
	hostileCase(t, 512<<20, nulls)

	// The same targets, threadmon run as main runs it: it stops within
	// seconds of being told to.
	ctx, cancel := context.WithCancel(context.Background())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var targets []string
	for u := range nulls {
		targets = append(targets, u)
	}
	done := make(chan error, 1)
	go func() {
		done <- serveUntil(ctx, serverOptions{log: zap.NewNop(), sidecar: sidecarOptions{targets: targets, interval: 50 * time.Millisecond}}, ln)
	}()
	base := "http://" + ln.Addr().String()
	waitFor(t, "serving", func() bool {
		resp, err := http.Get(base + "/healthz")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil
	})
	time.Sleep(300 * time.Millisecond)
	checkServing(t, base)
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("threadmon did not stop within 10 s of being told to")
	}
	http.DefaultClient.CloseIdleConnections()
}

// denseGraph is n threads each holding every one of n RWLocks for reading
// and waiting to write one: one deadlock, millions of elementary cycles.
func denseGraph(n int) []byte {
	g := contention.Graph{Time: time.Now()}
	for j := range n {
		p := &contention.Primitive{ID: fmt.Sprintf("p%d", j), Kind: "RWLock", Label: fmt.Sprintf("rw-%d", j)}
		for i := range n {
			p.Holders = append(p.Holders, fmt.Sprintf("t%d", i))
		}
		g.Primitives = append(g.Primitives, p)
	}
	for i := range n {
		th := &contention.Thread{ID: fmt.Sprintf("t%d", i), Name: fmt.Sprintf("dense-%d", i), Ident: uint64(i + 1), State: "waiting",
			Wait: &contention.Wait{Primitive: fmt.Sprintf("p%d", (i+1)%n), Kind: "acquire", Since: g.Time.Add(-time.Second), Seq: uint64(i + 1)}}
		for j := range n {
			th.Holds = append(th.Holds, fmt.Sprintf("p%d", j))
		}
		g.Threads = append(g.Threads, th)
		g.Edges = append(g.Edges, contention.Edge{From: th.ID, To: th.Wait.Primitive, Type: "waits_on", Kind: "acquire"})
	}
	b, _ := json.Marshal(g)
	return b
}

// Memory: a dense graph of a few KB whose cycles, enumerated, take
// gigabytes. It is one deadlock, found within a bounded heap.
func TestHostileDenseGraph(t *testing.T) {
	doc := denseGraph(12)
	dense := startTarget(t, &fakeTarget{graph: doc})
	good := startTarget(t, &fakeTarget{graph: goodGraph("good-holder", "good-waiter")})
	peak := memPeak(t)
	base, _ := sidecarServer(t, good, dense)
	waitFor(t, "the dense deadlock", func() bool { return targetStates(t, base)[dense].Deadlocks == 1 })
	checkServing(t, base)
	if s := targetStates(t, base)[good]; !s.Up {
		t.Fatalf("good target: %+v", s)
	}
	if p := peak(); p > 256<<20 {
		t.Fatalf("heap in use peaked at %d MiB for a %d-byte graph", p>>20, len(doc))
	}
}

// SSRF: a target that redirects elsewhere is refused; the host it points at
// is never asked, and nothing of it is served.
func TestHostileRedirect(t *testing.T) {
	inside := &fakeTarget{graph: goodGraph("inside-secret")}
	insideURL := startTarget(t, inside)
	redirect := startTarget(t, http.RedirectHandler(insideURL+"/graph", http.StatusTemporaryRedirect))
	base := hostileCase(t, 512<<20, map[string]string{redirect: "redirect refused"})
	_, body := do(t, "GET", base+"/api/graph", "")
	if strings.Contains(body, "inside-secret") || inside.hits.Load() != 0 {
		t.Fatalf("the redirect was followed: %d requests", inside.hits.Load())
	}
}

// Credentials in a target's URL are used (basic authentication) and shown
// nowhere: not in /api/targets, the page's data, /metrics or the logs.
func TestCredentialsRedacted(t *testing.T) {
	var authed atomic.Bool
	fake := &fakeTarget{graph: goodGraph("authed")}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, p, ok := r.BasicAuth()
		if !ok || u != "ops" || p != "hunter2secret" {
			http.Error(w, "no", http.StatusUnauthorized)
			return
		}
		authed.Store(true)
		fake.ServeHTTP(w, r)
	}))
	defer srv.Close()
	closed, _ := net.Listen("tcp", "127.0.0.1:0")
	downURL := "http://ops:hunter2secret@" + closed.Addr().String() + "/x?token=1"
	closed.Close()
	withCreds := strings.Replace(srv.URL, "http://", "http://ops:hunter2secret@", 1)
	core, logs := observer.New(zap.DebugLevel)
	good, peak := goodTarget(t), memPeak(t)
	base, _ := sidecarWith(t, serverOptions{log: zap.New(core), sidecar: sidecarOptions{targets: []string{good, withCreds, downURL}}})
	waitFor(t, "both polled", func() bool {
		st := targetStates(t, base)
		return len(st) == 3 && authed.Load() && st[strings.Replace(withCreds, "hunter2secret", "xxxxx", 1)].Up
	})
	waitDown(t, base, strings.Replace(downURL, "hunter2secret", "xxxxx", 1))
	var all bytes.Buffer
	for _, p := range append(apiPaths, "/metrics") {
		_, body := do(t, "GET", base+p, "")
		all.WriteString(body)
	}
	for _, e := range logs.All() {
		fmt.Fprintf(&all, "%s %v\n", e.Message, e.ContextMap())
	}
	if strings.Contains(all.String(), "hunter2secret") {
		t.Fatalf("the password was shown:\n%s", all.String())
	}
	if !strings.Contains(all.String(), "ops:xxxxx@") {
		t.Fatalf("the target is not shown redacted:\n%s", all.String())
	}
	healthy(t, base, good, peak, 512<<20)
}

// A target URL with a query string: the API's paths go after its path,
// its query after them.
func TestTargetWithQuery(t *testing.T) {
	fake := &fakeTarget{graph: goodGraph("queried")}
	var wrong atomic.Value
	u := startTarget(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, "/x/") || r.URL.Query().Get("tenant") != "a b" {
			wrong.Store(r.URL.String())
			http.NotFound(w, r)
			return
		}
		fake.ServeHTTP(w, r)
	}))
	target := u + "/x/?tenant=a+b"
	good, peak := goodTarget(t), memPeak(t)
	base, _ := sidecarServer(t, good, target)
	waitFor(t, "the target up", func() bool { return targetStates(t, base)[u+"/x?tenant=a+b"].Up })
	if w := wrong.Load(); w != nil {
		t.Fatalf("asked for %s", w)
	}
	healthy(t, base, good, peak, 512<<20)
}

// A down target's data stays in the view marked stale, with the time of
// its last good poll, and is dropped dropAfter later.
func TestStaleData(t *testing.T) {
	var down atomic.Bool
	fake := &fakeTarget{graph: goodGraph("soon-stale", "soon-stale-waiter")}
	flaky := startTarget(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if down.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		fake.ServeHTTP(w, r)
	}))
	good, peak := goodTarget(t), memPeak(t)
	base, _ := sidecarWith(t, serverOptions{sidecar: sidecarOptions{targets: []string{good, flaky}, dropAfter: 1500 * time.Millisecond}})
	type node struct {
		Name   string `json:"name"`
		Target int    `json:"target"`
		Stale  bool   `json:"stale"`
	}
	var g struct {
		Threads []node `json:"threads"`
	}
	find := func() *node {
		getJSON(t, base+"/api/graph", &g)
		for i := range g.Threads {
			if strings.HasSuffix(g.Threads[i].Name, "/soon-stale") {
				return &g.Threads[i]
			}
		}
		return nil
	}
	waitFor(t, "the flaky target's threads", func() bool { n := find(); return n != nil && !n.Stale })
	lastOK := targetStates(t, base)[flaky].LastOK
	down.Store(true)
	waitFor(t, "its threads marked stale", func() bool { n := find(); return n != nil && n.Stale })
	s := targetStates(t, base)[flaky]
	if s.Up || !s.Stale || s.LastOK.Before(lastOK) || s.LastOK.IsZero() {
		t.Fatalf("stale target: %+v", s)
	}
	checkServing(t, base)
	waitFor(t, "its threads dropped", func() bool { return find() == nil })
	if s := targetStates(t, base)[flaky]; s.Stale || s.Threads != 0 {
		t.Fatalf("dropped target: %+v", s)
	}
	healthy(t, base, good, peak, 512<<20)
}

// Memory with concurrent readers: a large view read by 20 clients at once
// is serialized once per round, so the heap does not grow with readers.
func TestConcurrentReaders(t *testing.T) {
	if testing.Short() {
		t.Skip("reads a large view many times")
	}
	// Under -race everything is several times slower and larger: a quarter
	// of the view keeps the test about memory, not about the race detector.
	threads := 40_000
	if raceEnabled {
		threads = 10_000
	}
	names := make([]string, threads)
	for i := range names {
		names[i] = fmt.Sprintf("reader-test-worker-with-a-long-name-%06d", i)
	}
	doc := goodGraph(names...)
	// THREADMON_BIG_VIEW=5 serves it from 5 targets (a 30 MB view).
	n, _ := strconv.Atoi(os.Getenv("THREADMON_BIG_VIEW"))
	var bigs []string
	for range max(n, 1) {
		bigs = append(bigs, startTarget(t, &fakeTarget{graph: doc}))
	}
	good := goodTarget(t)
	base, _ := sidecarWith(t, serverOptions{sidecar: sidecarOptions{targets: append([]string{good}, bigs...), interval: 500 * time.Millisecond}})
	waitFor(t, "the big targets up", func() bool {
		st := targetStates(t, base)
		for _, b := range bigs {
			if !st[b].Up {
				return false
			}
		}
		return true
	})
	_, body := do(t, "GET", base+"/api/graph", "")
	size := uint64(len(body))
	runtime.GC()
	peak := memPeak(t)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var lat []time.Duration
	readers := 20
	if r, err := strconv.Atoi(os.Getenv("THREADMON_READERS")); err == nil {
		readers = r
	}
	for range readers {
		wg.Go(func() {
			c := &http.Client{Timeout: 10 * time.Second}
			defer c.CloseIdleConnections()
			for range 5 {
				start := time.Now()
				resp, err := c.Get(base + "/api/graph")
				if err != nil {
					t.Error(err)
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				mu.Lock()
				lat = append(lat, time.Since(start))
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if readers == 0 {
		time.Sleep(4 * time.Second)
		lat = append(lat, 0)
	}
	p := peak()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	t.Logf("view %d MiB, target's graph %d MiB; %d readers x 5: heap in use peaked at %d MiB, p99 %v",
		size>>20, len(doc)>>20, readers, p>>20, lat[len(lat)*99/100])
	if limit := 8*size + 64<<20; p > limit {
		t.Fatalf("heap in use peaked at %d MiB for a %d MiB view: over %d MiB", p>>20, size>>20, limit>>20)
	}
	if lat[len(lat)*99/100] > 2*time.Second {
		t.Fatalf("p99 %v", lat[len(lat)*99/100])
	}
	healthy(t, base, good, func() uint64 { return p }, 8*size+64<<20) // the peak measured above
}

// openFDs counts this process's open file descriptors (Linux).
func openFDs(t *testing.T) int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd")
	}
	return len(ents)
}

// No connection can be held for long: past the cap, idle and silent
// connections are closed to make room, and a new client is answered
// within 2 s.
func TestConnectionCap(t *testing.T) {
	good, peak := goodTarget(t), memPeak(t)
	const maxConns = 32
	base, _ := sidecarWith(t, serverOptions{maxConns: maxConns, sidecar: sidecarOptions{targets: []string{good}}})
	addr := strings.TrimPrefix(base, "http://")
	before := openFDs(t)
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	// Silent connections, and keep-alive ones left idle after a request.
	for i := range 300 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		if i%2 == 0 {
			fmt.Fprintf(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
		}
	}
	time.Sleep(200 * time.Millisecond)
	c := &http.Client{Timeout: 2 * time.Second}
	defer c.CloseIdleConnections()
	for range 5 {
		start := time.Now()
		resp, err := c.Get(base + "/api/targets")
		if err != nil {
			t.Fatalf("a new client, with 300 connections held: %v after %v", err, time.Since(start))
		}
		resp.Body.Close()
	}
	// Our 300 client sockets plus the server's, at most the cap (and the
	// client's one).
	if server := openFDs(t) - before - len(conns); server > maxConns+4 {
		t.Fatalf("the server holds %d connections, over the cap of %d", server, maxConns)
	}
	healthy(t, base, good, peak, 512<<20)
}

// A hostile target cannot make threadmon keep more than -max-retained.
func TestRetainedCap(t *testing.T) {
	names := make([]string, 5000)
	for i := range names {
		names[i] = fmt.Sprintf("w-%d", i)
	}
	big := startTarget(t, &fakeTarget{graph: goodGraph(names...)})
	good, peak := goodTarget(t), memPeak(t)
	base, _ := sidecarWith(t, serverOptions{sidecar: sidecarOptions{targets: []string{good, big}, maxRetained: 64 << 10}})
	s := waitDown(t, base, big)
	if !strings.Contains(s.Reason, "-max-retained") {
		t.Fatalf("reason %q", s.Reason)
	}
	healthy(t, base, good, peak, 512<<20)
}

// The Bearer scheme is case-insensitive.
func TestBearerAnyCase(t *testing.T) {
	base := serve(t, "s3cret")
	want := map[string]int{
		"Bearer s3cret": 200, "bearer s3cret": 200, "BEARER  s3cret": 200, " bEaReR s3cret ": 200,
		"Basic s3cret": 401, "Bearer": 401, "Bearers3cret": 401, "Bearer s3cre": 401,
	}
	for h, code := range want {
		req, _ := http.NewRequest("GET", base+"/api/threads", nil)
		req.Header.Set("Authorization", h)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != code {
			t.Fatalf("%q: %d, want %d", h, resp.StatusCode, code)
		}
	}
}

// The token comes from -token-file, -token or $THREADMON_TOKEN.
func TestTokenSources(t *testing.T) {
	file := t.TempDir() + "/token"
	if err := os.WriteFile(file, []byte("from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := func(v string) func(string) string { return func(string) string { return v } }
	for _, tc := range []struct {
		flag, file, env, want string
		err                   bool
	}{
		{"", file, "from-env", "from-file", false},
		{"from-flag", "", "from-env", "from-flag", false},
		{"", "", "from-env", "from-env", false},
		{"", "", "", "", false},
		{"x", file, "", "", true},
		{"", t.TempDir() + "/none", "", "", true},
	} {
		got, err := loadToken(tc.flag, tc.file, env(tc.env))
		if (err != nil) != tc.err || got != tc.want {
			t.Fatalf("%+v: %q %v", tc, got, err)
		}
	}
}
