package contention

import (
	"bytes"
	"fmt"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/threadmon/threadmon/threading"
)

// Policy is what a Detector does with a confirmed deadlock.
type Policy int

const (
	// PolicyReport publishes the report to threading's observers and logger
	// and calls the callback, if any. The default.
	PolicyReport Policy = iota
	// PolicyPanic reports, then panics with the report's text: for tests.
	PolicyPanic
	// PolicyBreak reports, then breaks the deadlock as a database does: it
	// picks a victim among the threads of the cycle that wait through a
	// Context (AcquireContext on a Lock, RLock or semaphore), the one that
	// began waiting last, and ends its wait with threading.ErrDeadlock, so
	// the others go on. With no such thread it only reports.
	PolicyBreak
)

// Report is a confirmed deadlock.
type Report struct {
	// ID identifies the deadlock: its threads and their waits.
	ID      string         `json:"id"`
	Time    time.Time      `json:"time"`
	Threads []ReportThread `json:"threads"`
	// Primitives are the labels of the primitives in the cycle.
	Primitives []string `json:"primitives"`
	// Text reads like a JVM thread dump's "Found one deadlock".
	Text string `json:"text"`
	// Victim is the thread whose wait was ended with ErrDeadlock to break
	// the deadlock (PolicyBreak), or "".
	Victim string `json:"victim,omitempty"`
}

// ReportThread is one thread of a deadlock.
type ReportThread struct {
	Name  string `json:"name"`
	Ident uint64 `json:"ident"`
	// WaitsOn is the primitive it waits on (its String()), WaitKind what
	// for, Since since when.
	WaitsOn  string    `json:"waits_on"`
	WaitKind string    `json:"wait_kind"`
	Since    time.Time `json:"since"`
	// HeldBy is the name of the thread of the cycle that holds it.
	HeldBy string `json:"held_by"`
	// Holds are the primitives it holds.
	Holds []string `json:"holds"`
	// Stack is where it waits, from a goroutine dump.
	Stack string `json:"stack"`

	seq         uint64
	cancellable bool
}

// Option configures a Detector.
type Option func(*Detector)

// WithInterval sets how often the detector looks (default 250 ms). A
// deadlock is confirmed on the look after the one that found it, so it is
// reported within about two intervals.
func WithInterval(d time.Duration) Option { return func(dt *Detector) { dt.interval = d } }

// WithPolicy sets the policy (default PolicyReport).
func WithPolicy(p Policy) Option { return func(dt *Detector) { dt.policy = p } }

// WithLongWait sets the long-wait threshold (default 10 s; 0 turns it off): a
// wait that lasts longer is reported once, as threading.ReportLongWait, with
// the holder and the stacks of both.
func WithLongWait(d time.Duration) Option { return func(dt *Detector) { dt.longWait = d } }

// WithCallback is called once for each deadlock found, on the detector's
// goroutine.
func WithCallback(fn func(*Report)) Option { return func(dt *Detector) { dt.callback = fn } }

// Detector looks for deadlocks in the background.
type Detector struct {
	interval time.Duration
	policy   Policy
	callback func(*Report)
	longWait time.Duration

	mu        sync.Mutex
	reports   []*Report
	reported  map[string]bool
	pending   map[string]bool
	longSeen  map[uint64]bool
	longWaits []*LongWait

	stop chan struct{}
	done chan struct{}
	once sync.Once
}

var (
	defaultMu  sync.Mutex
	defaultDet *Detector
)

// Start starts a Detector. The first one started is the default, whose
// reports Handler serves.
func Start(opts ...Option) *Detector {
	d := &Detector{interval: 250 * time.Millisecond, longWait: 10 * time.Second, reported: map[string]bool{},
		pending: map[string]bool{}, longSeen: map[uint64]bool{}, stop: make(chan struct{}), done: make(chan struct{})}
	for _, o := range opts {
		o(d)
	}
	if d.interval <= 0 {
		d.interval = 250 * time.Millisecond
	}
	threading.SetNameReaders() // readers blocking a writer belong in the graph
	defaultMu.Lock()
	if defaultDet == nil {
		defaultDet = d
	}
	defaultMu.Unlock()
	go d.run()
	return d
}

// Default is the first running Detector, or nil.
func Default() *Detector {
	defaultMu.Lock()
	defer defaultMu.Unlock()
	return defaultDet
}

// Stop stops the detector and waits for its goroutine to end.
func (d *Detector) Stop() {
	d.once.Do(func() {
		close(d.stop)
		<-d.done
		defaultMu.Lock()
		if defaultDet == d {
			defaultDet = nil
		}
		defaultMu.Unlock()
	})
}

// Reports returns the deadlocks found so far, oldest first.
func (d *Detector) Reports() []*Report {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]*Report(nil), d.reports...)
}

func (d *Detector) run() {
	defer close(d.done)
	t := time.NewTicker(d.interval)
	defer t.Stop()
	for {
		select {
		case <-d.stop:
			return
		case <-t.C:
			g := Snapshot()
			for _, r := range d.check(g) {
				d.deliver(r)
			}
			for _, lw := range d.checkLongWaits(g) {
				deliverLongWait(lw)
			}
		}
	}
}

// check finds the cycles of g, and returns reports for those already seen,
// unchanged, by the previous check: a cycle that breaks in between is never
// reported, and each deadlock is reported once.
func (d *Detector) check(g *Graph) []*Report {
	d.mu.Lock()
	defer d.mu.Unlock()
	next := map[string]bool{}
	present := map[string]bool{}
	var out []*Report
	for _, c := range g.cycles() {
		key := cycleKey(g, c)
		present[key] = true
		if d.reported[key] {
			continue
		}
		if d.pending[key] {
			r := buildReport(g, c, key)
			if d.policy == PolicyBreak {
				breakCycle(r) // before the report is shared
			}
			d.reported[key] = true
			d.reports = append(d.reports, r)
			out = append(out, r)
			continue
		}
		next[key] = true
	}
	d.pending = next
	// A deadlock that is gone (broken, or its waits timed out) cannot come
	// back with the same waits: forget it.
	for key := range d.reported {
		if !present[key] {
			delete(d.reported, key)
		}
	}
	return out
}

// LongWait is a wait that lasted past the long-wait threshold.
type LongWait struct {
	Time     time.Time `json:"time"`
	Thread   string    `json:"thread"`
	Ident    uint64    `json:"ident"`
	WaitsOn  string    `json:"waits_on"`
	WaitKind string    `json:"wait_kind"`
	Since    time.Time `json:"since"`
	Seconds  float64   `json:"seconds"`
	// Holders are the names of the threads holding what it waits on.
	Holders []string `json:"holders"`
	// Stacks are the waiter's stack, then each holder's.
	Stacks []string `json:"stacks"`
	Text   string   `json:"text"`
}

// LongWaits returns the long waits reported so far (the latest 100).
func (d *Detector) LongWaits() []*LongWait {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]*LongWait(nil), d.longWaits...)
}

func (d *Detector) checkLongWaits(g *Graph) []*LongWait {
	if d.longWait <= 0 {
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	live := map[uint64]bool{}
	var found []*Thread
	for _, t := range g.Threads {
		if t.Wait == nil {
			continue
		}
		live[t.Wait.Seq] = true
		if t.Wait.Seconds >= d.longWait.Seconds() && !d.longSeen[t.Wait.Seq] {
			d.longSeen[t.Wait.Seq] = true
			found = append(found, t)
		}
	}
	for seq := range d.longSeen {
		if !live[seq] {
			delete(d.longSeen, seq)
		}
	}
	if len(found) == 0 {
		return nil
	}
	var idents []uint64
	for _, t := range found {
		idents = append(idents, t.Ident)
		for _, h := range g.prims[t.Wait.Primitive].Holders {
			idents = append(idents, g.threads[h].Ident)
		}
	}
	stacks := goroutineStacks(idents)
	var out []*LongWait
	for _, t := range found {
		p := g.prims[t.Wait.Primitive]
		lw := &LongWait{Time: g.Time, Thread: t.Name, Ident: t.Ident, WaitsOn: p.State, WaitKind: t.Wait.Kind,
			Since: t.Wait.Since, Seconds: t.Wait.Seconds, Holders: []string{}, Stacks: []string{stacks[t.Ident]}}
		var b strings.Builder
		fmt.Fprintf(&b, "%q (ident %d) has been waiting to %s %s %q for %s\n", t.Name, t.Ident, t.Wait.Kind, p.Kind, p.Label,
			time.Duration(t.Wait.Seconds*float64(time.Second)).Round(time.Millisecond))
		fmt.Fprintf(&b, "%s\n", indent(stacks[t.Ident]))
		for _, h := range p.Holders {
			ht := g.threads[h]
			lw.Holders = append(lw.Holders, ht.Name)
			lw.Stacks = append(lw.Stacks, stacks[ht.Ident])
			fmt.Fprintf(&b, "held by %q (ident %d):\n%s\n", ht.Name, ht.Ident, indent(stacks[ht.Ident]))
		}
		if len(p.Holders) == 0 {
			b.WriteString("no thread holds it\n")
		}
		lw.Text = b.String()
		d.longWaits = append(d.longWaits, lw)
		out = append(out, lw)
	}
	if n := len(d.longWaits); n > 100 {
		d.longWaits = append([]*LongWait(nil), d.longWaits[n-100:]...)
	}
	return out
}

func deliverLongWait(lw *LongWait) {
	var threads []*threading.Thread
	if th := threading.LookupThread(lw.Ident); th != nil {
		threads = append(threads, th)
	}
	threading.Publish(&threading.Report{Kind: threading.ReportLongWait, Time: lw.Time, Threads: threads,
		Summary: fmt.Sprintf("threading: long wait: %s waits on %s", lw.Thread, lw.WaitsOn), Detail: lw.Text,
		Duration: time.Duration(lw.Seconds * float64(time.Second))})
}

func (d *Detector) deliver(r *Report) {
	threads := make([]*threading.Thread, 0, len(r.Threads))
	for _, t := range r.Threads {
		if th := threading.LookupThread(t.Ident); th != nil {
			threads = append(threads, th)
		}
	}
	var longest time.Duration
	for _, t := range r.Threads {
		if w := r.Time.Sub(t.Since); w > longest {
			longest = w
		}
	}
	threading.Publish(&threading.Report{
		Kind: threading.ReportDeadlock, Time: r.Time, Threads: threads,
		Summary: "threading: deadlock: " + strings.Join(r.Primitives, ", "), Detail: r.Text, Duration: longest,
	})
	if d.callback != nil {
		d.callback(r)
	}
	if d.policy == PolicyPanic {
		panic("threading: deadlock detected\n" + r.Text)
	}
}

// breakCycle ends the youngest cancellable wait of the cycle.
func breakCycle(r *Report) {
	victim := -1
	for i, t := range r.Threads {
		if t.cancellable && (victim < 0 || t.Since.After(r.Threads[victim].Since)) {
			victim = i
		}
	}
	if victim < 0 {
		return
	}
	v := r.Threads[victim]
	if th := threading.LookupThread(v.Ident); th != nil && threading.BreakWait(th, v.seq) {
		r.Victim = v.Name
		r.Text += fmt.Sprintf("\nBroken: the wait of %q was ended with ErrDeadlock.\n", v.Name)
	}
}

// cycleKey names a cycle by its threads and their waits: the same key means
// the same threads still blocked in the same waits.
func cycleKey(g *Graph, c []string) string {
	parts := make([]string, len(c))
	for i, id := range c {
		parts[i] = id + "@" + strconv.FormatUint(g.threads[id].Wait.Seq, 10)
	}
	return strings.Join(parts, ">")
}

func buildReport(g *Graph, c []string, key string) *Report {
	r := &Report{ID: key, Time: g.Time}
	idents := make([]uint64, len(c))
	for i, id := range c {
		idents[i] = g.threads[id].Ident
	}
	var stacks map[uint64]string
	if g.remote {
		stacks = map[uint64]string{}
		for _, id := range c {
			stacks[g.threads[id].Ident] = g.threads[id].Stack
		}
	} else {
		stacks = goroutineStacks(idents)
	}
	var b strings.Builder
	b.WriteString("Found one deadlock:\n=============================\n")
	for i, id := range c {
		t := g.threads[id]
		p := g.prims[t.Wait.Primitive]
		holder := g.threads[c[(i+1)%len(c)]]
		rt := ReportThread{Name: t.Name, Ident: t.Ident, WaitsOn: p.State, WaitKind: t.Wait.Kind, Since: t.Wait.Since,
			HeldBy: holder.Name, Stack: stacks[t.Ident], Holds: []string{}, seq: t.Wait.Seq, cancellable: t.Wait.Cancellable}
		for _, h := range t.Holds {
			rt.Holds = append(rt.Holds, g.prims[h].State)
		}
		r.Threads = append(r.Threads, rt)
		r.Primitives = append(r.Primitives, fmt.Sprintf("%s %q", p.Kind, p.Label))
		fmt.Fprintf(&b, "%q (ident %d):\n  waiting to %s %s %q, which is held by %q, for %s\n",
			t.Name, t.Ident, t.Wait.Kind, p.Kind, p.Label, holder.Name, g.Time.Sub(t.Wait.Since).Round(time.Millisecond))
		for _, h := range rt.Holds {
			fmt.Fprintf(&b, "  holding %s\n", h)
		}
	}
	b.WriteString("\nStacks of the threads listed above:\n===================================================\n")
	for _, t := range r.Threads {
		fmt.Fprintf(&b, "%q (ident %d):\n%s\n", t.Name, t.Ident, indent(t.Stack))
	}
	b.WriteString("\nFound 1 deadlock.\n")
	r.Text = b.String()
	return r
}

func indent(s string) string {
	if s == "" {
		return "\t(stack not available)"
	}
	return "\t" + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n\t")
}

// goroutineStacks returns the stacks of the given goroutines from one dump of
// all goroutines. Costly (it stops the world briefly), so it is taken only
// for a report.
func goroutineStacks(idents []uint64) map[uint64]string {
	want := map[uint64]bool{}
	for _, id := range idents {
		want[id] = true
	}
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		if len(buf) >= 64<<20 {
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	out := map[uint64]string{}
	for _, block := range bytes.Split(buf, []byte("\n\n")) {
		header, _, _ := bytes.Cut(block, []byte("\n"))
		fields := strings.Fields(string(header))
		if len(fields) < 2 || fields[0] != "goroutine" {
			continue
		}
		id, err := strconv.ParseUint(fields[1], 10, 64)
		if err == nil && want[id] {
			out[id] = string(block)
		}
	}
	return out
}

// CheckNow looks twice, confirm apart, and returns the deadlocks present in
// both looks: what /deadlocks serves when no Detector runs.
func CheckNow(confirm time.Duration) []*Report {
	c := NewChecker()
	c.Check(Snapshot())
	time.Sleep(confirm)
	out := c.Check(Snapshot())
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Checker confirms deadlocks in graphs it is handed, as a Detector does in
// its own process: a cycle is reported when two successive graphs show it
// with the same threads in the same waits, and once. A sidecar uses one per
// watched process, on the graphs it polls.
type Checker struct{ d *Detector }

// NewChecker returns an empty Checker.
func NewChecker() *Checker {
	return &Checker{d: &Detector{reported: map[string]bool{}, pending: map[string]bool{}}}
}

// Check looks at the next graph and returns the deadlocks it confirms.
func (c *Checker) Check(g *Graph) []*Report {
	g.index()
	return c.d.check(g)
}

// Reports returns every deadlock confirmed so far.
func (c *Checker) Reports() []*Report { return c.d.Reports() }
