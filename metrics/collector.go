package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/threadmon/threadmon/internal/plumb"
	"github.com/threadmon/threadmon/threading"
)

// collector reads threading's registry at scrape time.
type collector struct {
	labels                                                *labeler
	acquisitions, contentions, timeouts, cancels, waiters *prometheus.Desc
	threads, leaked                                       *prometheus.Desc
}

func newCollector(l *labeler) *collector {
	desc := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName(Namespace, "", name), help, labels, nil)
	}
	return &collector{
		labels:       l,
		acquisitions: desc("acquisitions_total", "Successful acquisitions (for events, barriers and joins: successful waits).", "kind", "name"),
		contentions:  desc("contentions_total", "Callers that had to wait; wait is idle for kinds whose waits are waits to be notified (Condition, Cond, Event, Barrier, Thread, WaitGroup, Group), else contention.", "kind", "name", "wait"),
		timeouts:     desc("timeouts_total", "Waits that ended because their timeout passed.", "kind", "name"),
		cancels:      desc("cancellations_total", "Waits ended by a context or by the deadlock breaker.", "kind", "name"),
		waiters:      desc("waiters", "Callers waiting now.", "kind", "name"),
		threads:      desc("threads", "Live threads (Threads, the main thread and dummy threads) by state.", "state"),
		leaked:       desc("goroutines_leaked", "Goroutines Go's goroutineleak profile found blocked for good at the last leak check (contention's /leaks); absent until a check ran with the profile available."),
	}
}

// Describe implements prometheus.Collector.
func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.acquisitions, c.contentions, c.timeouts, c.cancels, c.waiters, c.threads, c.leaked} {
		ch <- d
	}
}

type series struct{ kind, name string }

// Collect implements prometheus.Collector: one sample per kind and label, the
// sum over the primitives of that label, including collected ones.
func (c *collector) Collect(ch chan<- prometheus.Metric) {
	sums := make(map[series]*threading.Stats)
	var order []series
	for _, cl := range threading.Classes() {
		kind := cl.Kind.String()
		label := cl.Label
		if cl.Kind == threading.KindThread {
			continue // threads are counted below, by state
		}
		k := series{kind, c.labels.get(kind, label)}
		s := sums[k]
		if s == nil {
			s = &threading.Stats{}
			sums[k] = s
			order = append(order, k)
		}
		s.Acquisitions += cl.Stats.Acquisitions
		s.Contentions += cl.Stats.Contentions
		s.Timeouts += cl.Stats.Timeouts
		s.Cancellations += cl.Stats.Cancellations
		s.Waiters += cl.Stats.Waiters
	}
	for _, k := range order {
		s := sums[k]
		ch <- prometheus.MustNewConstMetric(c.acquisitions, prometheus.CounterValue, float64(s.Acquisitions), k.kind, k.name)
		ch <- prometheus.MustNewConstMetric(c.contentions, prometheus.CounterValue, float64(s.Contentions), k.kind, k.name, kindWait(k.kind))
		ch <- prometheus.MustNewConstMetric(c.timeouts, prometheus.CounterValue, float64(s.Timeouts), k.kind, k.name)
		ch <- prometheus.MustNewConstMetric(c.cancels, prometheus.CounterValue, float64(s.Cancellations), k.kind, k.name)
		ch <- prometheus.MustNewConstMetric(c.waiters, prometheus.GaugeValue, float64(s.Waiters), k.kind, k.name)
	}
	var running, waiting float64
	for _, t := range threading.Enumerate() {
		if _, ok := t.Waiting(); ok {
			waiting++
		} else {
			running++
		}
	}
	ch <- prometheus.MustNewConstMetric(c.threads, prometheus.GaugeValue, running, "running")
	ch <- prometheus.MustNewConstMetric(c.threads, prometheus.GaugeValue, waiting, "waiting")
	// The last leak check's count, if package contention ran one: reading
	// it never forces the garbage collection a check costs.
	if f := plumb.LeakedGoroutines; f != nil {
		if n, ok := f(); ok {
			ch <- prometheus.MustNewConstMetric(c.leaked, prometheus.GaugeValue, float64(n))
		}
	}
}

// kindWait is the wait label of the contentions of a kind: idle for the
// kinds whose waits are waits to be notified, contention for the others.
func kindWait(kind string) string {
	switch kind {
	case "Condition", "Cond", "Event", "Barrier", "Thread", "WaitGroup", "Group":
		return WaitIdle
	}
	return WaitContention
}
