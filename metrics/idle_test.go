package metrics

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/threadmon/threadmon/threading"
)

// A wait to be notified (an Event) is labelled wait="idle", a wait to
// acquire (a Lock) wait="contention", in the histogram and in the
// contentions counter, so dashboards and alerts can tell them apart.
func TestIdleWaitsLabelledApart(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := Register(reg)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	lockName, eventName := uniq("idle-test-lock"), uniq("idle-test-event")
	lock := threading.NewLock(threading.WithName(lockName))
	contend(t, lock, 5*time.Millisecond)
	ev := threading.NewEvent(threading.WithName(eventName))
	th := threading.NewThread(func(context.Context) error { ev.Wait(); return nil })
	_ = th.Start()
	for i := 0; i < 2000 && ev.Stats().Waiters == 0; i++ {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(5 * time.Millisecond)
	ev.Set()
	_ = th.Join()

	for _, c := range []struct{ kind, name, wait string }{
		{"Lock", lockName, WaitContention},
		{"Event", eventName, WaitIdle},
	} {
		lbl := map[string]string{"kind": c.kind, "name": c.name, "wait": c.wait}
		if h := sample(t, reg, "threading_wait_seconds", lbl).GetHistogram(); h.GetSampleCount() != 1 {
			t.Errorf("%v: %d waits", lbl, h.GetSampleCount())
		}
		if n := sample(t, reg, "threading_contentions_total", lbl).GetCounter().GetValue(); n != 1 {
			t.Errorf("%v: %v contentions", lbl, n)
		}
	}
}
