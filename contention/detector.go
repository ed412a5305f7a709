package contention

import (
	"fmt"
	"hash/fnv"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/threadmon/threadmon/internal/plumb"
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
	// picks a victim among the threads of the deadlock that wait through a
	// Context (AcquireContext on a Lock, RLock or semaphore), the one that
	// began waiting last, and ends its wait with threading.ErrDeadlock, so
	// the others go on. With no such thread it only reports.
	PolicyBreak
)

// Report is a confirmed deadlock: one deadlocked component of the wait-for
// graph. It is plain data (names, idents, texts), holding nothing of the
// threads it names.
type Report struct {
	// Kind is KindDeadlock (a cycle of two threads or more),
	// KindSelfDeadlock (a thread waiting on what it holds itself: a cycle
	// of one) or KindOrphan (threads waiting on what a thread that has
	// ended holds).
	Kind string `json:"kind"`
	// ID identifies the deadlock: its threads and their waits, the witness
	// cycle's first, in cycle order (for a deadlock that is one cycle, the
	// cycle from its smallest thread id), then the others'. Past 64 threads
	// it ends with the count and a hash of the whole.
	ID      string         `json:"id"`
	Time    time.Time      `json:"time"`
	Threads []ReportThread `json:"threads"`
	// ThreadCount is the number of threads in the deadlock; Threads lists
	// at most 64 of them, the witness cycle first.
	ThreadCount int `json:"thread_count"`
	// Primitives are the labels of the primitives the listed threads wait
	// on.
	Primitives []string `json:"primitives"`
	// Text reads like a JVM thread dump's "Found one deadlock".
	Text string `json:"text"`
	// Blocked is, for KindHolderBlocked and KindLeakedHolder, what the
	// holder (the second thread) is blocked on outside threadmon.
	Blocked *Blocked `json:"blocked,omitempty"`
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
	// HeldBy is the name of a thread of the deadlock that holds it: the
	// next one on the witness cycle.
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

// WithStacks sets where the stacks of reported threads come from: fn gets
// their idents and returns the stacks it has, by ident. By default they come
// from a goroutine dump of this process, or, for a graph decoded from another
// process's JSON, from its threads' Stack fields. A sidecar that watches
// another process fetches them from that process's /stack.
func WithStacks(fn func(idents []uint64) map[uint64]string) Option {
	return func(dt *Detector) { dt.stacks = fn }
}

// WithMaxReports keeps only the latest n reports (0, the default: all). A
// sidecar watching a service it does not trust keeps a few per service, so
// a service that deadlocks anew on every poll cannot grow its memory.
func WithMaxReports(n int) Option { return func(dt *Detector) { dt.maxReports = n } }

// Detector looks for deadlocks in the background: a Checker fed a snapshot
// of this process every interval, and what it confirms delivered.
type Detector struct {
	checker  *Checker
	interval time.Duration
	policy   Policy
	callback func(*Report)
	longWait time.Duration
	// maxReports and stacks are the options its Checker takes.
	maxReports int
	stacks     func(idents []uint64) map[uint64]string

	// mu guards what follows. It is never held while a graph is searched
	// or a stack dump taken, so readers (LongWaits, HolderReports) do not
	// wait on either.
	mu        sync.Mutex
	longSeen  map[uint64]bool
	longWaits []*LongWait
	ended     endedHolders

	// Blocked holders (holders.go).
	blockedAfter    time.Duration
	holderDump      time.Time
	holderSeen      map[uint64]*holderSeen
	holderReported  map[string]bool
	holderReports   []*Report
	holderPublished map[uint64]bool

	stop chan struct{}
	done chan struct{}
	once sync.Once
}

func newDetector(opts []Option) *Detector {
	d := &Detector{interval: 250 * time.Millisecond, longWait: 10 * time.Second, longSeen: map[uint64]bool{},
		blockedAfter: time.Second, holderSeen: map[uint64]*holderSeen{}, holderReported: map[string]bool{}}
	for _, o := range opts {
		o(d)
	}
	if d.interval <= 0 {
		d.interval = 250 * time.Millisecond
	}
	d.checker = newChecker(d)
	return d
}

// Start starts a Detector. Pass it to Local to serve its reports.
func Start(opts ...Option) *Detector {
	d := newDetector(opts)
	if d.policy == PolicyBreak {
		d.checker.confirmed = func(r *Report) {
			// Before the report is shared. An orphan's waiters are not
			// broken: ending one wait frees nothing for the others.
			if r.Kind != KindOrphan {
				breakCycle(r)
			}
		}
	}
	d.stop, d.done = make(chan struct{}), make(chan struct{})
	go d.run()
	return d
}

// Stop stops the detector and waits for its goroutine to end.
func (d *Detector) Stop() {
	d.once.Do(func() {
		close(d.stop)
		<-d.done
		d.mu.Lock()
		clear(d.holderSeen)
		d.mu.Unlock()
		d.publishBlocked()
	})
}

// Reports returns the deadlocks found so far, oldest first.
func (d *Detector) Reports() []*Report { return d.checker.Reports() }

func (d *Detector) run() {
	defer close(d.done)
	t := time.NewTicker(d.interval)
	defer t.Stop()
	for {
		select {
		case <-d.stop:
			return
		case <-t.C:
			d.look()
		}
	}
}

// look takes a snapshot and checks it. The snapshot is let go when look
// returns: between looks the detector keeps only its reports and the keys
// of what it saw, plain strings and numbers.
func (d *Detector) look() {
	g := Snapshot()
	d.ended.mark(g)
	for _, r := range d.checker.check(g) {
		d.deliver(r)
	}
	for _, lw := range d.checkLongWaits(g) {
		deliverLongWait(lw)
	}
	for _, r := range d.checkBlockedHolders(g) {
		deliverBlocked(d, r)
	}
}

// check finds the deadlocked components of g, and returns reports for those
// already seen, unchanged, by the previous check: a deadlock that breaks in
// between is never reported, and each deadlock is reported once.
func (c *Checker) check(g *Graph) []*Report {
	comps := g.Components()
	keys := make([]string, len(comps))
	for i := range comps {
		keys[i] = componentKey(g, &comps[i])
	}
	var confirmed []int
	c.mu.Lock()
	next := map[string]bool{}
	present := make(map[string]bool, len(keys))
	for i, key := range keys {
		present[key] = true
		if _, ok := c.reported[key]; ok {
			continue
		}
		if c.pending[key] {
			c.reported[key] = nil // reported below
			confirmed = append(confirmed, i)
			continue
		}
		next[key] = true
	}
	c.pending = next
	// A deadlock that is gone (broken, or its waits timed out) cannot come
	// back with the same waits: forget it.
	for key := range c.reported {
		if !present[key] {
			delete(c.reported, key)
		}
	}
	c.mu.Unlock()

	var out []*Report
	for _, i := range confirmed {
		r := c.buildReport(g, &comps[i])
		if c.confirmed != nil {
			c.confirmed(r)
		}
		out = append(out, r)
	}
	if len(out) > 0 {
		c.mu.Lock()
		for j, r := range out {
			if _, ok := c.reported[keys[confirmed[j]]]; ok {
				c.reported[keys[confirmed[j]]] = r
			}
		}
		c.mu.Unlock()
		c.keep(out...)
	}
	return out
}

// keep adds reports to those Reports returns, the latest maxReports.
func (c *Checker) keep(rs ...*Report) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.reports = append(c.reports, rs...)
	if n := len(c.reports); c.maxReports > 0 && n > c.maxReports {
		c.reports = append([]*Report(nil), c.reports[n-c.maxReports:]...)
	}
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
	// Holders are the names of the threads holding what it waits on (at
	// most 64).
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
	// Waits to be notified (a Condition's wait, an Event, a Barrier, a
	// Join, a WaitGroup) are idle waiting, not contention: reported only
	// with WithIdleLongWaits, at info level (kept in LongWaits, not
	// published to the hooks that log errors and count reports).
	idleToo := idleLongWaitsOn(d)
	live := map[uint64]bool{}
	var found []*Thread
	d.mu.Lock()
	for _, t := range g.Threads {
		if t.Wait == nil || (!idleToo && idleKind(t.Wait.Kind)) {
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
	d.mu.Unlock()
	if len(found) == 0 {
		return nil
	}
	holdersOf := func(t *Thread) []*Thread {
		var hs []*Thread
		for _, h := range g.prims[t.Wait.Primitive].Holders {
			if len(hs) == maxReportThreads {
				break
			}
			hs = append(hs, g.threads[h])
		}
		return hs
	}
	var idents []uint64
	for _, t := range found {
		idents = append(idents, t.Ident)
		for _, h := range holdersOf(t) {
			idents = append(idents, h.Ident)
		}
	}
	stacks := d.checker.stacksOf(g, idents, recentEnough(g, found))
	var out []*LongWait
	for _, t := range found {
		p := g.prims[t.Wait.Primitive]
		lw := &LongWait{Time: g.Time, Thread: t.Name, Ident: t.Ident, WaitsOn: p.State, WaitKind: t.Wait.Kind,
			Since: t.Wait.Since, Seconds: t.Wait.Seconds, Holders: []string{}, Stacks: []string{stacks[t.Ident]}}
		var b strings.Builder
		what := "to " + t.Wait.Kind
		if idleKind(t.Wait.Kind) {
			what = "to be notified (" + t.Wait.Kind + ") by"
			b.WriteString("info: idle waiting, not contention\n")
		}
		fmt.Fprintf(&b, "%q (ident %d) has been waiting %s %s %q for %s\n", t.Name, t.Ident, what, p.Kind, p.Label,
			time.Duration(t.Wait.Seconds*float64(time.Second)).Round(time.Millisecond))
		fmt.Fprintf(&b, "%s\n", indent(stacks[t.Ident]))
		for _, ht := range holdersOf(t) {
			lw.Holders = append(lw.Holders, ht.Name)
			lw.Stacks = append(lw.Stacks, stacks[ht.Ident])
			fmt.Fprintf(&b, "held by %q (ident %d):\n%s\n", ht.Name, ht.Ident, indent(stacks[ht.Ident]))
		}
		if len(p.Holders) > maxReportThreads {
			fmt.Fprintf(&b, "and by %d more threads\n", len(p.Holders)-maxReportThreads)
		}
		if len(p.Holders) == 0 {
			b.WriteString("no thread holds it\n")
		}
		lw.Text = b.String()
		out = append(out, lw)
	}
	d.mu.Lock()
	d.longWaits = append(d.longWaits, out...)
	if n := len(d.longWaits); n > 100 {
		d.longWaits = append([]*LongWait(nil), d.longWaits[n-100:]...)
	}
	d.mu.Unlock()
	published := out[:0:0]
	for _, lw := range out {
		if !idleKind(lw.WaitKind) {
			published = append(published, lw)
		}
	}
	return published
}

// recentEnough is how old a goroutine dump may be to show the waits of the
// given threads of g: begun after every one of those waits did, and at most
// dumpTTL before the snapshot. So reports found in looks close together
// share a dump rather than stop the world each.
func recentEnough(g *Graph, waiting []*Thread) time.Time {
	t := g.Time.Add(-dumpTTL)
	for _, th := range waiting {
		if th.Wait != nil && th.Wait.Since.After(t) {
			t = th.Wait.Since
		}
	}
	return t
}

// stacksOf returns the stacks of the given threads of g: from the WithStacks
// function, or a goroutine dump begun no earlier than notBefore; for a graph
// from another process, its threads' Stack fields fill in what is missing.
func (c *Checker) stacksOf(g *Graph, idents []uint64, notBefore time.Time) map[uint64]string {
	var stacks map[uint64]string
	switch {
	case c.stacks != nil:
		stacks = c.stacks(idents)
	case !g.remote:
		stacks = goroutineStacks(idents, notBefore)
	}
	if stacks == nil {
		stacks = map[uint64]string{}
	}
	if g.remote {
		want := map[uint64]bool{}
		for _, id := range idents {
			want[id] = stacks[id] == ""
		}
		for _, t := range g.Threads {
			if want[t.Ident] && t.Stack != "" {
				stacks[t.Ident] = t.Stack
			}
		}
	}
	return stacks
}

func deliverLongWait(lw *LongWait) {
	var threads []*threading.Thread
	if th := threading.LookupThread(lw.Ident); th != nil {
		threads = append(threads, th)
	}
	plumb.Publish(&threading.Report{Kind: threading.ReportLongWait, Time: lw.Time, Threads: threads,
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
	// A self-deadlock is a deadlock (a cycle of one), counted as one;
	// threading also reported it as a smell the moment it began waiting.
	kind, what := threading.ReportDeadlock, "deadlock"
	switch r.Kind {
	case KindSelfDeadlock:
		what = "self-deadlock"
	case KindOrphan:
		kind, what = threading.ReportOrphan, "orphaned"
	}
	plumb.Publish(&threading.Report{
		Kind: kind, Time: r.Time, Threads: threads,
		Summary: "threading: " + what + ": " + strings.Join(r.Primitives, ", "), Detail: r.Text, Duration: longest,
	})
	if d.callback != nil {
		d.callback(r)
	}
	if d.policy == PolicyPanic {
		if r.Kind == KindOrphan {
			panic("threading: orphaned lock detected\n" + r.Text)
		}
		panic("threading: deadlock detected\n" + r.Text)
	}
}

// breakCycle ends the youngest cancellable wait among the listed threads.
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
	if plumb.BreakWait(v.Ident, v.seq) {
		r.Victim = v.Name
		r.Text += fmt.Sprintf("\nBroken: the wait of %q was ended with ErrDeadlock.\n", v.Name)
	}
}

// componentKey names a deadlocked component by its threads and their waits,
// in id order: two graphs give the same key exactly when they show the same
// threads in the same waits. It is what confirmation compares.
func componentKey(g *Graph, c *Component) string {
	switch c.Kind {
	case KindSelfDeadlock:
		return "self:" + waitsKey(g, c.Threads)
	case KindOrphan:
		// What makes an orphan is the primitive and its ended holders,
		// which cannot change: one report, whoever waits.
		return "orphan:" + c.Primitives[0] + "<" + strings.Join(c.EndedHolders, ",")
	}
	return waitsKey(g, c.Threads)
}

func waitsKey(g *Graph, ids []string) string {
	var b strings.Builder
	for i, id := range ids {
		if i > 0 {
			b.WriteByte('>')
		}
		b.WriteString(id)
		b.WriteByte('@')
		b.WriteString(strconv.FormatUint(g.threads[id].Wait.Seq, 10))
	}
	return b.String()
}

// reportThreads are the threads a report lists, at most 64: the witness
// cycle's, in order, then the others' in id order.
func reportThreads(c *Component) []string {
	listed := append(make([]string, 0, min(len(c.Threads), maxReportThreads)), c.Cycle...)
	onCycle := map[string]bool{}
	for _, id := range c.Cycle {
		onCycle[id] = true
	}
	for _, id := range c.Threads {
		if len(listed) == maxReportThreads {
			break
		}
		if !onCycle[id] {
			listed = append(listed, id)
		}
	}
	return listed
}

// reportID is the Report's ID (see there).
func reportID(g *Graph, c *Component, listed []string) string {
	id := waitsKey(g, listed)
	if len(listed) < len(c.Threads) {
		h := fnv.New64a()
		h.Write([]byte(componentKey(g, c)))
		id += fmt.Sprintf(">...(%d threads, %016x)", len(c.Threads), h.Sum64())
	}
	return id
}

func (ch *Checker) buildReport(g *Graph, c *Component) *Report {
	switch c.Kind {
	case KindSelfDeadlock, KindOrphan:
		return ch.buildStuckReport(g, c)
	}
	listed := reportThreads(c)
	r := &Report{Kind: KindDeadlock, ID: reportID(g, c, listed), Time: g.Time, ThreadCount: len(c.Threads)}
	member := make(map[string]bool, len(c.Threads))
	for _, id := range c.Threads {
		member[id] = true
	}
	// heldBy is the next thread on the witness cycle, or, past its listed
	// part, the thread of the component with the smallest id that holds
	// what t waits on.
	heldBy := func(i int, t *Thread) *Thread {
		if i+1 < len(c.Cycle) || (i+1 == len(c.Cycle) && c.CycleLength == len(c.Cycle)) {
			return g.threads[c.Cycle[(i+1)%len(c.Cycle)]]
		}
		best := ""
		for _, h := range g.prims[t.Wait.Primitive].Holders {
			if member[h] && h != t.ID && (best == "" || h < best) {
				best = h
			}
		}
		return g.threads[best]
	}
	idents := make([]uint64, len(listed))
	threads := make([]*Thread, len(listed))
	for i, id := range listed {
		threads[i] = g.threads[id]
		idents[i] = threads[i].Ident
	}
	stacks := ch.stacksOf(g, idents, recentEnough(g, threads))
	seenPrim := map[string]bool{}
	var b strings.Builder
	b.WriteString("Found one deadlock:\n=============================\n")
	for i, id := range listed {
		t := g.threads[id]
		p := g.prims[t.Wait.Primitive]
		holder := heldBy(i, t)
		rt := ReportThread{Name: t.Name, Ident: t.Ident, WaitsOn: p.State, WaitKind: t.Wait.Kind, Since: t.Wait.Since,
			HeldBy: holder.Name, Stack: stacks[t.Ident], Holds: []string{}, seq: t.Wait.Seq, cancellable: t.Wait.Cancellable}
		for _, h := range t.Holds {
			if hp := g.prims[h]; hp != nil {
				rt.Holds = append(rt.Holds, hp.State)
			}
		}
		r.Threads = append(r.Threads, rt)
		if !seenPrim[p.ID] {
			seenPrim[p.ID] = true
			r.Primitives = append(r.Primitives, fmt.Sprintf("%s %q", p.Kind, p.Label))
		}
		fmt.Fprintf(&b, "%q (ident %d):\n  waiting to %s %s %q, which is held by %q, for %s\n",
			t.Name, t.Ident, t.Wait.Kind, p.Kind, p.Label, holder.Name, g.Time.Sub(t.Wait.Since).Round(time.Millisecond))
		for _, h := range rt.Holds {
			fmt.Fprintf(&b, "  holding %s\n", h)
		}
	}
	if c.CycleLength > len(c.Cycle) {
		fmt.Fprintf(&b, "\nThe first %d threads above begin a cycle of %d threads.\n", len(c.Cycle), c.CycleLength)
	} else if len(c.Threads) > len(c.Cycle) {
		fmt.Fprintf(&b, "\nThe first %d threads above form a cycle; all %d threads of the deadlock wait on each other.\n",
			len(c.Cycle), len(c.Threads))
	}
	if len(c.Threads) > len(listed) {
		fmt.Fprintf(&b, "%d more threads of the deadlock are not listed.\n", len(c.Threads)-len(listed))
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

// CheckNow looks twice, confirm apart, and returns the deadlocks present in
// both looks. Each call starts afresh, so it takes a goroutine dump for
// every deadlock it returns; Local's /deadlocks keeps its own Checker
// instead.
func CheckNow(confirm time.Duration) []*Report {
	return NewChecker().confirm(Snapshot, confirm)
}

// Checker confirms deadlocks in the graphs it is handed: a deadlocked
// component is reported when two successive graphs show it with the same
// threads in the same waits, and once. A Detector uses one on snapshots of
// its process; a sidecar one per watched process, on the graphs it polls.
type Checker struct {
	maxReports int
	stacks     func(idents []uint64) map[uint64]string
	// confirmed, if set, is called with each new report before it is kept
	// or returned: a Detector's PolicyBreak breaks the deadlock there.
	confirmed func(*Report)
	// flight shares confirm's two looks among concurrent callers.
	flight singleflight.Group

	// mu guards what follows. It is never held while a graph is searched
	// or a stack dump taken. reports are the deadlocks reported, oldest
	// first. reported has the key (componentKey) of each one still
	// standing at the last check, to its report (nil while the report is
	// being built); pending the keys seen once, waiting for confirmation.
	mu       sync.Mutex
	reports  []*Report
	reported map[string]*Report
	pending  map[string]bool
}

// NewChecker returns an empty Checker. Of the options, WithStacks and
// WithMaxReports apply; a Checker only reports (the threads may be another
// process's).
func NewChecker(opts ...Option) *Checker {
	var cfg Detector // what the options set; the Checker takes its part
	for _, o := range opts {
		o(&cfg)
	}
	return newChecker(&cfg)
}

func newChecker(cfg *Detector) *Checker {
	return &Checker{maxReports: cfg.maxReports, stacks: cfg.stacks, reported: map[string]*Report{}, pending: map[string]bool{}}
}

// Check looks at the next graph and returns the deadlocks it confirms.
func (c *Checker) Check(g *Graph) []*Report {
	g.index()
	return c.check(g)
}

// Reports returns every deadlock confirmed so far (the latest
// WithMaxReports), oldest first.
func (c *Checker) Reports() []*Report {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*Report(nil), c.reports...)
}

// confirm looks twice at graphs from snap, gap apart, and returns the
// deadlocks standing in both, by ID; concurrent callers share the looks.
// A deadlock is reported, and its stacks dumped, once, when first
// confirmed; confirm keeps no history (Reports stays empty), only what
// stands.
func (c *Checker) confirm(snap func() *Graph, gap time.Duration) []*Report {
	v, _, _ := c.flight.Do("", func() (any, error) {
		c.Check(snap())
		time.Sleep(gap)
		c.Check(snap())
		c.mu.Lock()
		defer c.mu.Unlock()
		c.reports = nil
		out := []*Report{}
		for _, r := range c.reported {
			if r != nil {
				out = append(out, r)
			}
		}
		sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
		return out, nil
	})
	return v.([]*Report)
}
