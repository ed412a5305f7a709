package contention

import (
	"bytes"
	"fmt"
	"runtime/pprof"
	"strings"
	"sync"
	"time"

	"github.com/threadmon/threadmon/internal/gdump"
	"github.com/threadmon/threadmon/internal/plumb"
	"github.com/threadmon/threadmon/threading"
)

// Leaked goroutines, from Go's goroutineleak profile (Go 1.26 built with
// GOEXPERIMENT=goroutineleakprofile): goroutines blocked on something no
// runnable goroutine can reach, so they can never go on. threading's
// registries hold only identities and weak pointers to what goroutines wait
// on, so the profile sees through threadmon's primitives as through sync's.
//
// Each check runs a full garbage collection, so it is made only on demand
// (a /leaks request or CheckLeaks) and at most once per leakEvery (a minute
// by default): asked again sooner, the last result is served.

// LeakReport is the result of a leak check.
type LeakReport struct {
	// Available is false when this Go does not offer the goroutineleak
	// profile; Message then says so.
	Available bool      `json:"available"`
	Message   string    `json:"message,omitempty"`
	Time      time.Time `json:"time"`
	// Cached is true when this is the result of an earlier check, served
	// again because the last check is more recent than the interval.
	Cached     bool              `json:"cached"`
	Goroutines []LeakedGoroutine `json:"goroutines"`
}

// LeakedGoroutine is one leaked goroutine, joined with the thread registry.
type LeakedGoroutine struct {
	Ident uint64 `json:"ident"`
	// Thread is its thread's name, if it has a record.
	Thread string `json:"thread,omitempty"`
	// Status is the runtime's, as "sync.Mutex.Lock (leaked)".
	Status string `json:"status"`
	// WaitsOn and WaitKind are the thread's wait, if threadmon knows it.
	WaitsOn  string `json:"waits_on,omitempty"`
	WaitKind string `json:"wait_kind,omitempty"`
	Stack    string `json:"stack"`
}

var leaks struct {
	mu       sync.Mutex
	every    time.Duration
	last     *LeakReport
	reported map[uint64]bool // goroutines already reported leaked
}

// SetLeakCheckInterval sets how often a leak check may run (default one
// minute); d <= 0 restores the default.
func SetLeakCheckInterval(d time.Duration) {
	leaks.mu.Lock()
	leaks.every = d
	leaks.mu.Unlock()
}

// CheckLeaks returns the goroutines that Go's goroutineleak profile finds
// leaked, or the last result if a check ran less than the interval ago.
func CheckLeaks() *LeakReport {
	leaks.mu.Lock()
	every := leaks.every
	if every <= 0 {
		every = time.Minute
	}
	if l := leaks.last; l != nil && time.Since(l.Time) < every {
		c := *l
		c.Cached = true
		leaks.mu.Unlock()
		return &c
	}
	r := checkLeaks()
	leaks.last = r
	report := newLeaksReport(r)
	leaks.mu.Unlock()
	if report != nil {
		plumb.Publish(report) // outside the lock: observers may ask again
	}
	return r
}

func init() {
	plumb.LeakedGoroutines = func() (int, bool) {
		leaks.mu.Lock()
		defer leaks.mu.Unlock()
		if leaks.last == nil || !leaks.last.Available {
			return 0, false
		}
		return len(leaks.last.Goroutines), true
	}
}

// newLeaksReport is the report, for threading's observers and logger, of
// the leaked goroutines a check found that no earlier check did (each is
// reported once), or nil. Called with leaks.mu held.
func newLeaksReport(r *LeakReport) *threading.Report {
	if leaks.reported == nil {
		leaks.reported = map[uint64]bool{}
	}
	var fresh []LeakedGoroutine
	now := map[uint64]bool{}
	for _, g := range r.Goroutines {
		now[g.Ident] = true
		if !leaks.reported[g.Ident] {
			fresh = append(fresh, g)
		}
	}
	leaks.reported = now // a goroutine that is gone is forgotten
	if len(fresh) == 0 {
		return nil
	}
	var b strings.Builder
	var threads []*threading.Thread
	fmt.Fprintf(&b, "Go's goroutineleak profile finds %d goroutine(s) blocked for good:\n", len(fresh))
	for _, g := range fresh {
		name := g.Thread
		if name == "" {
			name = fmt.Sprintf("goroutine %d", g.Ident)
		}
		fmt.Fprintf(&b, "\n%q [%s]", name, g.Status)
		if g.WaitsOn != "" {
			fmt.Fprintf(&b, ", waiting (%s) on %s", g.WaitKind, g.WaitsOn)
		}
		b.WriteString("\n" + indent(g.Stack) + "\n")
		if t := threading.LookupThread(g.Ident); t != nil {
			threads = append(threads, t)
		}
	}
	return &threading.Report{Kind: threading.ReportLeak, Time: r.Time, Threads: threads,
		Summary: fmt.Sprintf("threading: %d goroutine(s) leaked (blocked for good)", len(fresh)), Detail: b.String()}
}

func checkLeaks() *LeakReport {
	r := &LeakReport{Time: time.Now(), Goroutines: []LeakedGoroutine{}}
	p := pprof.Lookup("goroutineleak")
	if p == nil {
		r.Message = "this Go has no goroutineleak profile: it needs Go 1.26 built with GOEXPERIMENT=goroutineleakprofile (or a later Go that has it on by default)"
		return r
	}
	r.Available = true
	var buf bytes.Buffer
	if err := p.WriteTo(&buf, 2); err != nil {
		r.Message = "goroutineleak profile: " + err.Error()
		return r
	}
	dump := buf.Bytes()
	gdump.Blocks(dump, func(id uint64, start, end int) {
		block := string(dump[start:end])
		status := gdump.Status(block)
		if !strings.Contains(status, "(leaked)") {
			return
		}
		g := LeakedGoroutine{Ident: id, Status: status, Stack: block}
		if t := threading.LookupThread(id); t != nil {
			g.Thread = t.Name()
			if w, ok := t.Waiting(); ok && w.Primitive != nil {
				g.WaitsOn, g.WaitKind = w.Primitive.String(), w.Kind.String()
			}
		}
		r.Goroutines = append(r.Goroutines, g)
	})
	return r
}
