package contention

import (
	"cmp"
	"slices"
	"sync"
	"time"

	"github.com/threadmon/threadmon/threading"
)

// The recent statistics of each class, in a bounded ring: one sample at most
// every historyEvery, taken when the page polls (no goroutine of its own),
// historyLen samples (about five minutes), each of at most historyClasses
// classes (the most contended).

const (
	historyLen     = 60
	historyClasses = 500
)

var historyEvery = 5 * time.Second

type historySample struct {
	at    time.Time
	stats map[classKey]threading.Stats
}

type historyRing struct {
	mu      sync.Mutex
	samples []historySample // oldest first, at most historyLen
	taking  bool
}

var history = &historyRing{}

// sample records the classes' statistics, unless the last sample is younger
// than historyEvery.
func (h *historyRing) sample(now time.Time) {
	h.mu.Lock()
	if h.taking || (len(h.samples) > 0 && now.Sub(h.samples[len(h.samples)-1].at) < historyEvery) {
		h.mu.Unlock()
		return
	}
	h.taking = true
	h.mu.Unlock()
	cls := threading.Classes()
	slices.SortFunc(cls, func(a, b threading.ClassStats) int {
		return cmp.Compare(b.Stats.Contentions+b.Stats.Acquisitions/64, a.Stats.Contentions+a.Stats.Acquisitions/64)
	})
	s := historySample{at: now, stats: make(map[classKey]threading.Stats, min(len(cls), historyClasses))}
	for _, c := range cls[:min(len(cls), historyClasses)] {
		s.stats[classKey{c.Kind, c.Label}] = c.Stats
	}
	h.mu.Lock()
	h.taking = false
	h.samples = append(h.samples, s)
	if len(h.samples) > historyLen {
		h.samples = slices.Delete(h.samples, 0, len(h.samples)-historyLen)
	}
	h.mu.Unlock()
}

// RatePoint is one interval of a class's recent history: per-second rates
// of acquisitions and contentions, and the mean wait of the waits that
// blocked, between the previous sample and at.
type RatePoint struct {
	At              time.Time `json:"at"`
	Seconds         float64   `json:"seconds"`
	AcquisitionRate float64   `json:"acquisition_rate"`
	ContentionRate  float64   `json:"contention_rate"`
	MeanWaitSeconds float64   `json:"mean_wait_seconds"`
}

func (h *historyRing) of(kind, label string) []RatePoint {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := []RatePoint{}
	var prev *threading.Stats
	var prevAt time.Time
	for i := range h.samples {
		var st *threading.Stats
		for k, v := range h.samples[i].stats {
			if k.kind.String() == kind && k.label == label {
				st = &v
				break
			}
		}
		if st != nil && prev != nil {
			dt := h.samples[i].at.Sub(prevAt).Seconds()
			if dt > 0 && st.Acquisitions >= prev.Acquisitions && st.Contentions >= prev.Contentions {
				p := RatePoint{At: h.samples[i].at, Seconds: dt,
					AcquisitionRate: float64(st.Acquisitions-prev.Acquisitions) / dt,
					ContentionRate:  float64(st.Contentions-prev.Contentions) / dt}
				if n := st.Contentions - prev.Contentions; n > 0 {
					p.MeanWaitSeconds = (st.WaitTotal - prev.WaitTotal).Seconds() / float64(n)
				}
				out = append(out, p)
			}
		}
		prev, prevAt = st, h.samples[i].at
	}
	return out
}
