package threading

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestSanitizeName(t *testing.T) {
	long := strings.Repeat("é", 1<<19) // 1 MiB
	for _, c := range []struct{ in, want string }{
		{"db", "db"},
		{"", ""},
		{"a\xffb", "a\uFFFDb"},
		{"\xc3", "\uFFFD"},
	} {
		if got := sanitizeName(c.in); got != c.want {
			t.Errorf("sanitizeName(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	for _, in := range []string{long, long + "\xff", "\xff" + long, strings.Repeat("x", MaxNameLen+1)} {
		got := sanitizeName(in)
		if len(got) > MaxNameLen || !utf8.ValidString(got) || !strings.HasSuffix(got, "…") {
			t.Errorf("sanitizeName(%d bytes) = %d bytes, valid %v: %q", len(in), len(got), utf8.ValidString(got), got[:min(len(got), 20)])
		}
	}
	if got := sanitizeName(strings.Repeat("x", MaxNameLen)); len(got) != MaxNameLen {
		t.Errorf("a name of MaxNameLen bytes was cut to %d", len(got))
	}
}

// Any name is accepted; what every primitive and thread exposes is valid
// UTF-8 and bounded.
func TestNamesExposedSafely(t *testing.T) {
	bad := "conn\xff\xfe" + strings.Repeat("ß", 1<<19)
	l := NewLock(WithName(bad))
	th := NewThread(nil, WithName(bad))
	s, _ := NewSemaphore(1, WithName(bad))
	for _, n := range []string{l.primName(), th.Name(), s.primName(), l.String(), label(l)} {
		if !utf8.ValidString(n) || len(n) > MaxNameLen+64 {
			t.Fatalf("exposed name of %d bytes, valid %v", len(n), utf8.ValidString(n))
		}
	}
	th.SetName(bad)
	if n := th.Name(); !utf8.ValidString(n) || len(n) > MaxNameLen {
		t.Fatalf("SetName kept %d bytes", len(n))
	}
}

// A service that names a lock per connection: 200,000 distinct names, each
// lock used (and contended) once and dropped. The registry's class totals
// stay bounded, and the retained heap after GC stays small.
func TestDistinctNamesBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("allocates 200,000 locks")
	}
	const n = 200_000
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	var kept []*Lock // alive through a scrape, then dropped
	for i := 0; i < n; i++ {
		l := NewLock(WithName(fmt.Sprintf("conn-%d-%s", i, strings.Repeat("x", 40))))
		l.Acquire()
		_ = l.Release()
		if i%200 == 0 {
			kept = append(kept, l)
		}
	}
	scraped := connAcquisitions()
	if scraped < uint64(len(kept)) {
		t.Fatalf("a scrape saw %d acquisitions, %d locks are alive", scraped, len(kept))
	}
	runtime.KeepAlive(kept) // alive through the scrape (only len(kept) is used above)
	kept = nil
	// Cleanups run after the locks are collected; wait for the registry to
	// retire them.
	deadline := time.Now().Add(30 * time.Second)
	for {
		runtime.GC()
		primReg.mu.RLock()
		live := len(primReg.m)
		primReg.mu.RUnlock()
		if live < 1000 || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	runtime.GC()
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	grown := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	primReg.mu.RLock()
	retired, live := len(primReg.retired), len(primReg.m)
	primReg.mu.RUnlock()
	t.Logf("after %d distinct names: heap grew %.1f MB, %d retired classes, %d live entries", n, float64(grown)/(1<<20), retired, live)
	if retired > maxRetiredClasses+16 {
		t.Errorf("%d retired classes kept, bound %d", retired, maxRetiredClasses)
	}
	if grown > 20<<20 {
		t.Errorf("retained heap grew %d MB with nothing alive, budget 20 MB", grown>>20)
	}
	// Totals never go backwards: what a scrape saw is still counted.
	if acq := connAcquisitions(); acq < scraped {
		t.Errorf("class totals went back from %d to %d acquisitions", scraped, acq)
	}
	// Leave room in the bounded table for the other tests' classes.
	primReg.mu.Lock()
	for k := range primReg.retired {
		if strings.HasPrefix(k.label, "conn-") || k.label == OverflowLabel {
			delete(primReg.retired, k)
		}
	}
	primReg.mu.Unlock()
}

func connAcquisitions() uint64 {
	var acq uint64
	for _, c := range Classes() {
		if c.Kind == KindLock && (strings.HasPrefix(c.Label, "conn-") || c.Label == OverflowLabel) {
			acq += c.Stats.Acquisitions
		}
	}
	return acq
}
