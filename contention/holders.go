package contention

import (
	"fmt"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/threadmon/threadmon/internal/gdump"
	"github.com/threadmon/threadmon/internal/plumb"
	"github.com/threadmon/threadmon/threading"
)

// Blocked holders. A thread can wait on a lock whose holder is not waiting
// on anything threadmon knows: it is blocked outside threadmon, on a channel,
// a select, a sync.WaitGroup, a sync.Mutex, a sleep or I/O. The graph alone
// shows such a holder "running". The Detector finds out what it is blocked
// on from the shared goroutine dump, but only for a holder that has kept a
// thread waiting to acquire for at least the blocked-holder threshold
// (WithBlockedHolders, 1 s by default), and at most once every holderEvery:
// a dump stops the world. Polls (/graph) never take one: Snapshot reads what
// the Detector last found.
//
// A holder seen blocked in the same operation at the same source line in
// two dumps, the second taken once the waiter's wait passed the long-wait
// threshold, is reported once per (waiter's wait, holder's operation), as
// KindHolderBlocked; as KindLeakedHolder (a deadlock) where Go's
// goroutineleak profile, when this Go has it, says the holder has leaked.

// KindHolderBlocked and KindLeakedHolder are the kinds of the reports on
// blocked holders.
const (
	// KindHolderBlocked: a thread has waited past the long-wait threshold
	// on a lock whose holder is blocked outside threadmon.
	KindHolderBlocked = "holder_blocked"
	// KindLeakedHolder: the same, with the holder leaked for good (Go's
	// goroutineleak profile): a deadlock.
	KindLeakedHolder = "leaked_holder"
)

// holderEvery is the least time between two dumps taken for blocked
// holders. A variable so that tests can shorten it.
var holderEvery = 3 * time.Second

// Blocked is what a holder is blocked on outside threadmon, from a
// goroutine dump.
type Blocked struct {
	// Op is the runtime's wait reason: "chan send", "chan receive",
	// "select", "sync.WaitGroup.Wait", "sleep", "IO wait", ...
	Op string `json:"op"`
	// Site is the first frame outside the runtime, the standard library
	// and threadmon's own packages, as "dir/file.go:42" (empty when there
	// is none).
	Site string `json:"site,omitempty"`
	// Func is that frame's function.
	Func string `json:"func,omitempty"`
	// SinceMinutes is how long the goroutine has been blocked, in whole
	// minutes, as the runtime counts it (0 under a minute).
	SinceMinutes int `json:"since_minutes"`
	// At is when the dump that showed it began.
	At time.Time `json:"at"`
	// Leaked is true when Go's goroutineleak profile found it leaked.
	Leaked bool `json:"leaked,omitempty"`
}

// WithBlockedHolders sets after how long a wait to acquire the Detector
// finds out what the holder is blocked on outside threadmon (default 1 s;
// 0 or less turns it off).
func WithBlockedHolders(after time.Duration) Option {
	return func(d *Detector) { d.blockedAfter = after }
}

// blockedHolders is what the Detectors last found, by holder ident, for
// Snapshot to show. Goroutine ids are never reused.
var blockedHolders struct {
	mu sync.Mutex
	m  map[uint64]*Blocked
}

// lookupBlocked returns what ident was last found blocked on.
func lookupBlocked(ident uint64) *Blocked {
	blockedHolders.mu.Lock()
	defer blockedHolders.mu.Unlock()
	if b := blockedHolders.m[ident]; b != nil {
		c := *b
		return &c
	}
	return nil
}

// annotateBlocked sets Blocked on the holders of g that the Detector found
// blocked, where it still holds: a primitive that a thread has waited on
// since before the dump that showed it (so it has not let go of it since).
func (g *Graph) annotateBlocked() {
	blockedHolders.mu.Lock()
	n := len(blockedHolders.m)
	blockedHolders.mu.Unlock()
	if n == 0 {
		return
	}
	for _, t := range g.Threads {
		if t.Wait == nil {
			continue
		}
		for _, h := range waitedHolders(g, t) {
			ht := g.threads[h]
			if ht == nil || ht.Blocked != nil || ht.Wait != nil {
				continue
			}
			if b := lookupBlocked(ht.Ident); b != nil && t.Wait.Since.Before(b.At) {
				ht.Blocked = b
			}
		}
	}
}

// waitedHolders are the threads t waits for: the holders of what it waits
// on, or for an RWLock the writer or the readers.
func waitedHolders(g *Graph, t *Thread) []string {
	p := g.prims[t.Wait.Primitive]
	if p == nil {
		return nil
	}
	switch t.Wait.On {
	case "writer":
		if p.Writer != "" {
			return []string{p.Writer}
		}
	case "readers":
		return p.Readers
	}
	return p.Holders
}

// holderSeen is a holder's operation as the Detector saw it: in how many
// dumps in a row, the last one when.
type holderSeen struct {
	b     Blocked
	looks int
}

// blockedPair is a waiter and a holder it waits for.
type blockedPair struct{ waiter, holder *Thread }

// checkBlockedHolders finds what the holders that keep threads waiting to
// acquire are blocked on, and returns the reports on those confirmed.
func (d *Detector) checkBlockedHolders(g *Graph) []*Report {
	if d.blockedAfter <= 0 || g.remote {
		return nil
	}
	var pairs []blockedPair
	holders := map[uint64]*Thread{}
	for _, t := range g.Threads {
		if t.Wait == nil || idleKind(t.Wait.Kind) || t.Wait.Seconds < d.blockedAfter.Seconds() {
			continue
		}
		for _, h := range waitedHolders(g, t) {
			ht := g.threads[h]
			// A holder waiting in threadmon is in the graph already; one
			// that has ended is an orphan's.
			if ht == nil || ht == t || ht.Wait != nil || (ht.State != "running" && ht.State != "unknown") {
				continue
			}
			pairs = append(pairs, blockedPair{t, ht})
			holders[ht.Ident] = ht
		}
	}
	d.mu.Lock()
	// Forget holders no longer keeping anyone waiting.
	for id := range d.holderSeen {
		if holders[id] == nil {
			delete(d.holderSeen, id)
		}
	}
	due := len(holders) > 0 && g.Time.Sub(d.holderDump) >= holderEvery
	if due {
		d.holderDump = g.Time
	}
	d.mu.Unlock()
	d.publishBlocked()
	if !due {
		return nil
	}
	dump := sharedDump(g.Time)
	parsed := make(map[uint64]Blocked, len(holders))
	for id := range holders {
		if b, ok := parseBlocked(dump.stack(id)); ok {
			parsed[id] = b
		}
	}
	d.mu.Lock()
	for id := range holders {
		b, ok := parsed[id]
		if !ok {
			delete(d.holderSeen, id)
			continue
		}
		b.At = dump.at
		if old := d.holderSeen[id]; old != nil && old.b.Op == b.Op && old.b.Site == b.Site {
			old.looks++
			old.b = b
		} else {
			d.holderSeen[id] = &holderSeen{b: b, looks: 1}
		}
	}
	var found []blockedPair
	for _, p := range pairs {
		hs := d.holderSeen[p.holder.Ident]
		if hs == nil || hs.looks < 2 || d.longWait <= 0 || hs.b.At.Sub(p.waiter.Wait.Since) < d.longWait {
			continue
		}
		key := fmt.Sprintf("%d@%d<%d:%s@%s", p.waiter.Ident, p.waiter.Wait.Seq, p.holder.Ident, hs.b.Op, hs.b.Site)
		if d.holderReported[key] {
			continue
		}
		d.holderReported[key] = true
		found = append(found, p)
	}
	// Keep the keys of waits still going on only.
	live := map[string]bool{}
	for _, p := range pairs {
		live[fmt.Sprintf("%d@%d<", p.waiter.Ident, p.waiter.Wait.Seq)] = true
	}
	for key := range d.holderReported {
		prefix, _, _ := strings.Cut(key, "<")
		if !live[prefix+"<"] {
			delete(d.holderReported, key)
		}
	}
	d.mu.Unlock()
	d.publishBlocked()
	if len(found) == 0 {
		return nil
	}
	var leaked map[uint64]bool
	if lr := CheckLeaks(); lr.Available {
		leaked = map[uint64]bool{}
		for _, lg := range lr.Goroutines {
			leaked[lg.Ident] = true
		}
	}
	var out []*Report
	for _, p := range found {
		d.mu.Lock()
		hs := d.holderSeen[p.holder.Ident]
		b := hs.b
		if leaked[p.holder.Ident] {
			hs.b.Leaked = true
			b.Leaked = true
		}
		d.mu.Unlock()
		out = append(out, d.blockedReport(g, p, &b, dump))
	}
	d.publishBlocked()
	d.mu.Lock()
	d.holderReports = append(d.holderReports, out...)
	if n := len(d.holderReports); n > 100 {
		d.holderReports = append([]*Report(nil), d.holderReports[n-100:]...)
	}
	d.mu.Unlock()
	return out
}

// publishBlocked shares what the detector knows of blocked holders with
// Snapshot: the holders seen blocked, replacing what it published before.
func (d *Detector) publishBlocked() {
	d.mu.Lock()
	mine := make(map[uint64]*Blocked, len(d.holderSeen))
	for id, hs := range d.holderSeen {
		b := hs.b
		mine[id] = &b
	}
	old := d.holderPublished
	d.holderPublished = make(map[uint64]bool, len(mine))
	for id := range mine {
		d.holderPublished[id] = true
	}
	d.mu.Unlock()
	blockedHolders.mu.Lock()
	defer blockedHolders.mu.Unlock()
	for id := range old {
		if mine[id] == nil {
			delete(blockedHolders.m, id)
		}
	}
	if len(mine) > 0 && blockedHolders.m == nil {
		blockedHolders.m = map[uint64]*Blocked{}
	}
	for id, b := range mine {
		blockedHolders.m[id] = b
	}
}

func (d *Detector) blockedReport(g *Graph, p blockedPair, b *Blocked, dump *stackDump) *Report {
	w, h := p.waiter, p.holder
	prim := g.prims[w.Wait.Primitive]
	kind := KindHolderBlocked
	if b.Leaked {
		kind = KindLeakedHolder
	}
	r := &Report{Kind: kind, ID: fmt.Sprintf("%s@%d<%s", w.ID, w.Wait.Seq, h.ID), Time: g.Time, ThreadCount: 2,
		Primitives: []string{fmt.Sprintf("%s %q", prim.Kind, prim.Label)}, Blocked: b}
	holds := func(t *Thread) []string {
		out := []string{}
		for _, id := range t.Holds {
			if hp := g.prims[id]; hp != nil {
				out = append(out, hp.State)
			}
		}
		return out
	}
	r.Threads = []ReportThread{
		{Name: w.Name, Ident: w.Ident, WaitsOn: prim.State, WaitKind: w.Wait.Kind, Since: w.Wait.Since, HeldBy: h.Name,
			Holds: holds(w), Stack: dump.stack(w.Ident), seq: w.Wait.Seq, cancellable: w.Wait.Cancellable},
		{Name: h.Name, Ident: h.Ident, WaitsOn: b.Op, WaitKind: "blocked", Since: b.At.Add(-time.Duration(b.SinceMinutes) * time.Minute),
			Holds: holds(h), Stack: dump.stack(h.Ident)},
	}
	var t strings.Builder
	if b.Leaked {
		t.WriteString("Found one deadlock (leaked holder):\n=============================\n")
	} else {
		t.WriteString("Holder blocked:\n=============================\n")
	}
	site := b.Site
	if site == "" {
		site = "(no frame outside the runtime and threadmon)"
	}
	fmt.Fprintf(&t, "%q (ident %d):\n  waiting to %s %s %q, which is held by %q, for %s\n", w.Name, w.Ident, w.Wait.Kind,
		prim.Kind, prim.Label, h.Name, g.Time.Sub(w.Wait.Since).Round(time.Millisecond))
	fmt.Fprintf(&t, "%q (ident %d):\n  blocked outside threadmon on %s at %s", h.Name, h.Ident, b.Op, site)
	if b.SinceMinutes > 0 {
		fmt.Fprintf(&t, ", for %d minutes", b.SinceMinutes)
	}
	t.WriteString("\n")
	if b.Leaked {
		t.WriteString("  Go's goroutineleak profile finds it leaked: it can never go on.\n")
	}
	t.WriteString("\nStacks:\n===================================================\n")
	for _, rt := range r.Threads {
		fmt.Fprintf(&t, "%q (ident %d):\n%s\n", rt.Name, rt.Ident, indent(rt.Stack))
	}
	r.Text = t.String()
	return r
}

// HolderReports returns the blocked-holder reports so far (the latest
// 100), leaked holders among them.
func (d *Detector) HolderReports() []*Report {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]*Report(nil), d.holderReports...)
}

func deliverBlocked(d *Detector, r *Report) {
	var threads []*threading.Thread
	for _, t := range r.Threads {
		if th := threading.LookupThread(t.Ident); th != nil {
			threads = append(threads, th)
		}
	}
	kind, what := threading.ReportLongWait, "holder blocked"
	if r.Kind == KindLeakedHolder {
		kind, what = threading.ReportDeadlock, "leaked holder"
	}
	plumb.Publish(&threading.Report{Kind: kind, Time: r.Time, Threads: threads,
		Summary: fmt.Sprintf("threading: %s: %s waits on %s, held by %s, blocked on %s at %s", what,
			r.Threads[0].Name, r.Primitives[0], r.Threads[1].Name, r.Blocked.Op, r.Blocked.Site),
		Detail: r.Text, Duration: r.Time.Sub(r.Threads[0].Since)})
	if r.Kind == KindLeakedHolder {
		d.checker.keep(r)
		if d.callback != nil {
			d.callback(r)
		}
	}
}

// parseBlocked reads a goroutine's block from a dump: what it is blocked on
// (its header's wait reason) and where (the first frame outside the
// runtime, the standard library and threadmon). ok is false for a
// goroutine that is not blocked (running, runnable) or not in the dump.
func parseBlocked(block string) (b Blocked, ok bool) {
	_, frames, _ := strings.Cut(block, "\n")
	status := gdump.Status(block)
	if status == "" {
		return b, false
	}
	parts := strings.Split(status, ", ")
	op := parts[0]
	for _, suffix := range []string{" (leaked)", " (durable)"} {
		op = strings.TrimSuffix(op, suffix)
	}
	switch op {
	case "running", "runnable", "preempted", "idle", "dead", "":
		return b, false
	}
	b.Op = op
	for _, p := range parts[1:] {
		if n, ok := strings.CutSuffix(p, " minutes"); ok {
			b.SinceMinutes, _ = strconv.Atoi(n)
		}
	}
	lines := strings.Split(frames, "\n")
	for i := 0; i+1 < len(lines); i += 2 {
		fn, loc := lines[i], strings.TrimSpace(lines[i+1])
		if strings.HasPrefix(fn, "created by ") {
			break
		}
		if !userFrame(fn, loc) {
			continue
		}
		if j := strings.LastIndex(loc, " +0x"); j >= 0 {
			loc = loc[:j]
		}
		file, line, _ := strings.Cut(loc, ":")
		b.Site = path.Base(path.Dir(file)) + "/" + path.Base(file) + ":" + line
		b.Func = funcName(fn)
		break
	}
	return b, true
}

// funcName strips the arguments from a dump's function line.
func funcName(fn string) string {
	if i := strings.LastIndexByte(fn, '('); i > 0 && strings.HasSuffix(fn, ")") {
		return fn[:i]
	}
	return fn
}

// userFrame reports whether a frame is the user's: not the runtime's, the
// standard library's or threadmon's own (threadmon's tests count as user
// code).
func userFrame(fn, loc string) bool {
	name := funcName(fn)
	if strings.HasPrefix(name, "main.") {
		return true
	}
	if strings.HasPrefix(name, "github.com/threadmon/threadmon/") {
		file, _, _ := strings.Cut(loc, ":")
		return strings.HasSuffix(file, "_test.go")
	}
	// A standard library package's path has no dot in its first element.
	first, _, _ := strings.Cut(name, "/")
	if !strings.Contains(name, "/") {
		first, _, _ = strings.Cut(name, ".")
	}
	return strings.Contains(first, ".")
}
