package contention

import (
	"bytes"
	"net/http"
	"runtime/pprof"
	"strings"
	"sync"
	"time"

	"github.com/threadmon/threadmon/internal/gdump"
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
	mu    sync.Mutex
	every time.Duration
	last  *LeakReport
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
	defer leaks.mu.Unlock()
	every := leaks.every
	if every <= 0 {
		every = time.Minute
	}
	if l := leaks.last; l != nil && time.Since(l.Time) < every {
		c := *l
		c.Cached = true
		return &c
	}
	r := checkLeaks()
	leaks.last = r
	return r
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
		header, _, _ := strings.Cut(block, "\n")
		status := leakStatus(header)
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

// leakStatus is what is between the brackets of "goroutine 12 [status]:".
func leakStatus(header string) string {
	i := strings.IndexByte(header, '[')
	j := strings.LastIndexByte(header, ']')
	if i < 0 || j < i {
		return ""
	}
	return header[i+1 : j]
}

func serveLeaks(w http.ResponseWriter, _ *http.Request) { writeJSON(w, CheckLeaks()) }
