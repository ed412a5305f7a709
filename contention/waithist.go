package contention

import (
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/threadmon/threadmon/internal/plumb"
	"github.com/threadmon/threadmon/threading"
)

// The wait-time distribution per class (kind and label, as in metrics),
// kept in-process so the page can draw it without Prometheus: log2 buckets
// from 1 µs (the first holds shorter waits, the last longer than 2^25 µs,
// about 33 s). Filled by an observer the handler attaches (waits that
// blocked only: the fast path costs nothing), for at most maxHistClasses
// classes.

const (
	histBuckets    = 27
	maxHistClasses = 2000
)

type classKey struct {
	kind  threading.Kind
	label string
}

type waitHist struct {
	buckets [histBuckets]atomic.Uint64
	idle    [histBuckets]atomic.Uint64 // waits to be notified, kept apart
}

type waitHists struct {
	threading.NopObserver
	m sync.Map // classKey: *waitHist
	n atomic.Int64
}

var (
	hists       = &waitHists{}
	histsAttach sync.Once
)

func bucketOf(d time.Duration) int {
	us := d.Seconds() * 1e6
	if us < 1 {
		return 0
	}
	return min(histBuckets-1, 1+int(math.Log2(us)))
}

// ObserveWait implements threading.Observer.
func (h *waitHists) ObserveWait(e *threading.WaitEvent) {
	if e.Primitive == nil {
		return
	}
	kind, label := plumb.ClassOf(e.Primitive)
	k := classKey{threading.Kind(kind), label}
	v, ok := h.m.Load(k)
	if !ok {
		if h.n.Load() >= maxHistClasses {
			return
		}
		var loaded bool
		v, loaded = h.m.LoadOrStore(k, &waitHist{})
		if !loaded {
			h.n.Add(1)
		}
	}
	b := bucketOf(e.Duration)
	if e.Kind.Idle() {
		v.(*waitHist).idle[b].Add(1)
	} else {
		v.(*waitHist).buckets[b].Add(1)
	}
}

// HistBucket is one bucket of a wait-time distribution: waits of at most
// le_seconds (and more than the previous bucket's).
type HistBucket struct {
	LeSeconds float64 `json:"le_seconds"`
	Count     uint64  `json:"count"`
	Idle      uint64  `json:"idle"`
}

func (h *waitHists) of(kind, label string) []HistBucket {
	out := []HistBucket{}
	var found *waitHist
	h.m.Range(func(k, v any) bool {
		if ck := k.(classKey); ck.kind.String() == kind && ck.label == label {
			found = v.(*waitHist)
			return false
		}
		return true
	})
	if found == nil {
		return out
	}
	for i := range histBuckets {
		le := math.Ldexp(1e-6, i)
		if i == histBuckets-1 {
			le = math.Inf(1)
		}
		c, idle := found.buckets[i].Load(), found.idle[i].Load()
		if c == 0 && idle == 0 {
			continue
		}
		if math.IsInf(le, 1) {
			le = -1 // JSON has no infinity: -1 is "longer than the rest"
		}
		out = append(out, HistBucket{LeSeconds: le, Count: c, Idle: idle})
	}
	return out
}
