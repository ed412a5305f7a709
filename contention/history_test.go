package contention

import (
	"testing"
	"time"

	"github.com/threadmon/threadmon/threading"
)

// The history ring keeps at most historyLen samples and turns them into
// rates.
func TestHistoryRingBounded(t *testing.T) {
	old := historyEvery
	historyEvery = time.Millisecond
	defer func() { historyEvery = old }()
	h := &historyRing{}
	l := threading.NewLock(threading.WithName("history-lock"))
	at := time.Now()
	for i := range historyLen + 20 {
		l.Acquire()
		_ = l.Release()
		h.sample(at.Add(time.Duration(i) * time.Second))
	}
	if len(h.samples) != historyLen {
		t.Fatalf("%d samples", len(h.samples))
	}
	ps := h.of("Lock", "history-lock")
	if len(ps) != historyLen-1 || ps[len(ps)-1].AcquisitionRate != 1 {
		t.Fatalf("%d points, last %+v", len(ps), ps[len(ps)-1])
	}
}
