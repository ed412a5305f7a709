//go:build goexperiment.goroutineleakprofile

package leaktest

// How it works. The test binary runs itself once per (shape, variant,
// configuration), with envChild set. The child (TestMain, before any test)
// sets up the configuration, uses threadmon a little (warmUp), builds the
// shape, waits until the shape's goroutines are parked, takes the
// goroutineleak profile (debug=2: a goroutine dump where leaked goroutines
// say "(leaked)") and prints it. The parent finds the shape's goroutines in
// it by function name.
//
// What Go's leak detector reports: a goroutine blocked on a channel or a sync
// primitive that no runnable goroutine, and no global, can reach. A goroutine
// in a timed wait blocks on a channel that the runtime's timer heap can reach,
// so it is never reported, with sync (select with a timer) or with threadmon
// (XTimeout): the timed shapes expect "not reported".

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"runtime/pprof"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.uber.org/goleak"

	"github.com/threadmon/threadmon/contention"
	"github.com/threadmon/threadmon/metrics"
	"github.com/threadmon/threadmon/threading"
	"github.com/threadmon/threadmon/tracing"
)

const envChild = "THREADMON_LEAKTEST_CHILD"

// The configurations every shape runs in.
var configs = []string{"plain", "detector", "metrics+tracing", "lockorder"}

const (
	beginMark = "=== goroutineleak profile begin\n"
	endMark   = "=== goroutineleak profile end\n"
)

func TestMain(m *testing.M) {
	if spec := os.Getenv(envChild); spec != "" {
		// A child: it must exit from here, with its leaked goroutines
		// still parked, so neither m.Run nor goleak runs.
		os.Exit(runChild(spec))
	}
	goleak.VerifyTestMain(m)
}

// ---- the child ----

// keep holds what the child must keep reachable on purpose.
var keep struct {
	idle     *threading.Event
	idleT    *threading.Thread
	detector *contention.Detector
	reg      *prometheus.Registry
	exporter *tracetest.InMemoryExporter
	metrics  *metrics.Metrics
	tracer   *tracing.Tracer
}

func runChild(spec string) int {
	parts := strings.Split(spec, "|")
	if len(parts) != 3 {
		fmt.Fprintf(os.Stderr, "bad %s=%q\n", envChild, spec)
		return 2
	}
	i, err := strconv.Atoi(parts[0])
	if err != nil || i < 0 || i >= len(shapes) {
		fmt.Fprintf(os.Stderr, "bad shape index %q\n", parts[0])
		return 2
	}
	sh, named, config := shapes[i], parts[1] == "named", parts[2]
	afterParked, err := setUp(config)
	if err != nil {
		fmt.Fprintln(os.Stderr, "set up:", err)
		return 2
	}
	warmUp()
	sh.build(named)
	waitParked(append(append([]string{"warmIdleTarget"}, sh.leaks...), sh.live...))
	afterParked()
	// A goroutine that became runnable for a moment while the detection GC
	// ran is not reported by that cycle: take the profile again (at most
	// ten times, a few milliseconds apart) until every expected leak is
	// reported. Each profile resets and recomputes the leaked set.
	var prof string
	for attempt := 0; attempt < 10; attempt++ {
		if attempt > 0 {
			// A detector in the middle of a scan holds what it looks at
			// for a moment, and a profile taken then sees it reachable.
			time.Sleep(7 * time.Millisecond)
		}
		var buf bytes.Buffer
		if err := pprof.Lookup("goroutineleak").WriteTo(&buf, 2); err != nil {
			fmt.Fprintln(os.Stderr, "goroutineleak profile:", err)
			return 2
		}
		prof = buf.String()
		found := parseDump(prof)
		all := true
		for _, n := range sh.leaks {
			all = all && found[n].leaked
		}
		if all {
			break
		}
	}
	fmt.Print(beginMark + prof + endMark)
	return 0
}

func setUp(config string) (afterParked func(), err error) {
	switch config {
	case "plain":
		return func() {}, nil
	case "detector":
		keep.detector = contention.Start(contention.WithInterval(10 * time.Millisecond))
		return func() {
			// Let the detector look at the parked goroutines several
			// times. Nothing below may depend on how often it looked: it
			// runs on while the profile is taken.
			time.Sleep(50 * time.Millisecond)
		}, nil
	case "metrics+tracing":
		keep.reg = prometheus.NewRegistry()
		m, err := metrics.Register(keep.reg)
		if err != nil {
			return nil, err
		}
		keep.metrics = m
		keep.exporter = tracetest.NewInMemoryExporter()
		tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(keep.exporter))
		keep.tracer = tracing.Register(tracing.WithTracerProvider(tp))
		return func() {
			// One scrape while the shape's goroutines are parked.
			if _, err := keep.reg.Gather(); err != nil {
				fmt.Fprintln(os.Stderr, "gather:", err)
			}
		}, nil
	case "lockorder":
		contention.EnableLockOrder(func(*contention.OrderReport) {})
		return func() {}, nil
	}
	return nil, fmt.Errorf("unknown configuration %q", config)
}

// warmUp uses threadmon the way a program does before the shape forms: an
// alien goroutine waits on a Lock, threads start and are joined, two locks
// are nested (an edge for lock-order checking), and one Thread stays alive
// waiting on an Event that a global holds: it is registered, parked and not
// leaked, and must never be reported.
func warmUp() {
	waitOnLockOnce()
	for i := 0; i < 3; i++ {
		t := threading.NewThread(func(context.Context) error { return nil }, threading.WithName(fmt.Sprintf("warm-%d", i)))
		if err := t.Start(); err != nil {
			panic(err)
		}
		if err := t.Join(); err != nil {
			panic(err)
		}
	}
	a, b := threading.NewLock(threading.WithName("warm-a")), threading.NewLock(threading.WithName("warm-b"))
	a.Acquire()
	b.Acquire()
	_ = b.Release()
	_ = a.Release()
	keep.idle = threading.NewEvent(threading.WithName("warm-idle"))
	keep.idleT = threading.NewThread(warmIdleTarget, threading.WithName("warm-idle"))
	if err := keep.idleT.Start(); err != nil {
		panic(err)
	}
}

func warmIdleTarget(context.Context) error {
	keep.idle.Wait()
	return nil
}

// pollUntil polls cond every millisecond for at most 20 s, and panics (the
// child then fails) if it never holds.
func pollUntil(what string, cond func() bool) {
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			panic("timed out waiting for " + what)
		}
		time.Sleep(time.Millisecond)
	}
}

// waitParked waits until every goroutine named is blocked (not running,
// runnable or in a syscall) in three goroutine dumps in a row.
func waitParked(names []string) {
	streak := 0
	var last map[string]goroutineState
	deadline := time.Now().Add(20 * time.Second)
	for streak < 3 {
		if time.Now().After(deadline) {
			panic(fmt.Sprintf("timed out waiting for %v to park; last seen: %v", names, last))
		}
		last = parseDump(allStacks())
		ok := true
		for _, n := range names {
			s, found := last[n]
			ok = ok && found && s.parked()
		}
		if ok {
			streak++
		} else {
			streak = 0
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func allStacks() string {
	buf := make([]byte, 1<<20)
	for i := 0; i < 8; i++ {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			return string(buf[:n])
		}
		buf = make([]byte, 2*len(buf))
	}
	return string(buf)
}

// ---- parsing a goroutine dump ----

type goroutineState struct {
	reason string // the wait reason in the header, "(leaked)" removed
	leaked bool
}

func (s goroutineState) parked() bool {
	for _, busy := range []string{"running", "runnable", "syscall"} {
		if strings.HasPrefix(s.reason, busy) {
			return false
		}
	}
	return s.reason != ""
}

// leakFuncs are the function names the parser looks for.
var leakFuncs = func() []string {
	seen := map[string]bool{"warmIdleTarget": true}
	out := []string{"warmIdleTarget"}
	for _, sh := range shapes {
		for _, n := range append(append([]string{}, sh.leaks...), sh.live...) {
			if !seen[n] {
				seen[n] = true
				out = append(out, n)
			}
		}
	}
	return out
}()

// parseDump maps each function of leakFuncs to the state of the goroutine
// whose stack runs it (as a frame, not as "created by").
func parseDump(dump string) map[string]goroutineState {
	out := map[string]goroutineState{}
	for _, block := range strings.Split(dump, "\n\n") {
		block = strings.TrimLeft(block, "\n")
		if !strings.HasPrefix(block, "goroutine ") {
			continue
		}
		header, body, _ := strings.Cut(block, "\n")
		open, end := strings.Index(header, "["), strings.LastIndex(header, "]")
		if open < 0 || end < open {
			continue
		}
		reason := header[open+1 : end]
		st := goroutineState{leaked: strings.Contains(reason, "(leaked)")}
		reason = strings.Replace(reason, " (leaked)", "", 1)
		if i := strings.Index(reason, ", "); i >= 0 { // ", 5 minutes"
			reason = reason[:i]
		}
		st.reason = reason
		for _, line := range strings.Split(body, "\n") {
			if strings.HasPrefix(line, "created by ") || strings.HasPrefix(line, "\t") {
				continue
			}
			for _, n := range leakFuncs {
				if strings.Contains(line, "."+n+"(") {
					out[n] = st
				}
			}
		}
	}
	return out
}

// ---- the parent ----

type outcome struct {
	err      string // the child failed
	leaks    []goroutineState
	live     []goroutineState
	idle     goroutineState
	reported int // leaks reported
	liveRep  int // live goroutines reported (must be 0)
}

func (o outcome) ok(sh shape) bool {
	return o.err == "" && o.reported == len(sh.leaks) && o.liveRep == 0 && !o.idle.leaked
}

func (o outcome) cell(sh shape) string {
	if o.err != "" {
		return "ERROR"
	}
	c := ""
	if len(sh.leaks) > 0 {
		c = fmt.Sprintf("rep %d/%d", o.reported, len(sh.leaks))
	}
	if len(sh.live) > 0 {
		if c != "" {
			c += ", "
		}
		c += fmt.Sprintf("timed rep %d/%d", o.liveRep, len(sh.live))
	}
	if o.idle.leaked {
		c += ", idle rep!"
	}
	if o.ok(sh) {
		return c + " ok"
	}
	return c + " FAIL"
}

func variantName(named bool) string {
	if named {
		return "named"
	}
	return "unnamed"
}

func runScenario(t *testing.T, exe string, i int, named bool, config string) outcome {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, exe, "-test.run=^$", "-test.count=1")
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%d|%s|%s", envChild, i, variantName(named), config),
		// Under -race a process sleeps 1 s at exit by default.
		"GORACE="+strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0"))
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		return outcome{err: fmt.Sprintf("child killed after 90s; stderr:\n%s", tail(stderr.String()))}
	}
	if err != nil {
		return outcome{err: fmt.Sprintf("child: %v; stderr:\n%s", err, tail(stderr.String()))}
	}
	out := stdout.String()
	b, e := strings.Index(out, beginMark), strings.Index(out, endMark)
	if b < 0 || e < b {
		return outcome{err: fmt.Sprintf("no profile in the child's output:\n%s\nstderr:\n%s", tail(out), tail(stderr.String()))}
	}
	found := parseDump(out[b+len(beginMark) : e])
	sh := shapes[i]
	var o outcome
	for _, n := range sh.leaks {
		s := found[n]
		o.leaks = append(o.leaks, s)
		if s.leaked {
			o.reported++
		}
	}
	for _, n := range sh.live {
		s := found[n]
		o.live = append(o.live, s)
		if s.leaked {
			o.liveRep++
		}
	}
	o.idle = found["warmIdleTarget"]
	return o
}

func tail(s string) string {
	if len(s) > 4000 {
		return "..." + s[len(s)-4000:]
	}
	return s
}

func describe(names []string, states []goroutineState) string {
	var parts []string
	for k, n := range names {
		verdict := "not reported"
		if states[k].leaked {
			verdict = "REPORTED"
		}
		parts = append(parts, fmt.Sprintf("%s [%s] %s", n, states[k].reason, verdict))
	}
	return strings.Join(parts, "; ")
}

// TestGoroutineLeakProfile runs every shape in every configuration and
// checks the goroutineleak profile: every goroutine stuck forever is
// reported, with threadmon as with sync, and no goroutine in a timed wait
// (nor a parked thread whose Event a global holds) is.
func TestGoroutineLeakProfile(t *testing.T) {
	if pprof.Lookup("goroutineleak") == nil {
		t.Fatal("no goroutineleak profile: build with GOEXPERIMENT=goroutineleakprofile")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	type key struct {
		i      int
		named  bool
		config string
	}
	var mu sync.Mutex
	results := map[key]outcome{}
	t.Run("scenarios", func(t *testing.T) {
		for i, sh := range shapes {
			for _, named := range sh.variants {
				for _, config := range configs {
					name := fmt.Sprintf("%s/%s/%s", sh.name, variantName(named), config)
					t.Run(name, func(t *testing.T) {
						t.Parallel()
						o := runScenario(t, exe, i, named, config)
						mu.Lock()
						results[key{i, named, config}] = o
						mu.Unlock()
						switch {
						case o.err != "":
							t.Error(o.err)
						case !o.ok(sh):
							t.Errorf("want every stuck goroutine reported and none of the timed ones:\n  stuck: %s\n  timed: %s\n  idle thread on a reachable Event: %s",
								describe(sh.leaks, o.leaks), describe(sh.live, o.live),
								describe([]string{"warmIdleTarget"}, []goroutineState{o.idle}))
						default:
							t.Logf("stuck: %s; timed: %s", describe(sh.leaks, o.leaks), describe(sh.live, o.live))
						}
					})
				}
			}
		}
	})

	// The summary: shape x configuration.
	var sb strings.Builder
	fmt.Fprintf(&sb, "goroutineleak profile, %s, GOARCH=%s, race=%v\n", runtime.Version(), runtime.GOARCH, raceEnabled)
	fmt.Fprintf(&sb, "cells: stuck goroutines reported / expected; timed-wait goroutines reported / present (expected 0)\n")
	fmt.Fprintf(&sb, "%-70s", "shape/variant")
	for _, c := range configs {
		fmt.Fprintf(&sb, " | %-24s", c)
	}
	sb.WriteString("\n")
	var failed []string
	for i, sh := range shapes {
		for _, named := range sh.variants {
			row := sh.name + "/" + variantName(named)
			fmt.Fprintf(&sb, "%-70s", row)
			for _, c := range configs {
				o, ok := results[key{i, named, c}]
				cell := "not run"
				if ok {
					cell = o.cell(sh)
					if !o.ok(sh) {
						failed = append(failed, row+"/"+c)
					}
				}
				fmt.Fprintf(&sb, " | %-24s", cell)
			}
			sb.WriteString("\n")
		}
	}
	sort.Strings(failed)
	fmt.Fprintf(&sb, "%d scenarios failed", len(failed))
	t.Log("\n" + sb.String())
}
