package gdump

import (
	"runtime"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestHeader(t *testing.T) {
	for in, want := range map[string]uint64{
		"goroutine 42 [running]:":                42,
		"goroutine 7 [chan receive, 3 minutes]:": 7,
		"garbage":                                0,
		"goroutine x [running]:":                 0,
		"goroutine 0 [idle]:":                    0,
	} {
		if got, _ := Header([]byte(in)); got != want {
			t.Errorf("Header(%q) = %d, want %d", in, got, want)
		}
	}
}

func TestBlocksOfARealDump(t *testing.T) {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	seen := 0
	Blocks(buf, func(id uint64, start, end int) {
		if got, ok := Header(buf[start:end]); !ok || got != id || start >= end {
			t.Errorf("block %d [%d,%d) has header %d", id, start, end, got)
		}
		seen++
	})
	if seen == 0 || seen > runtime.NumGoroutine()+8 {
		t.Fatalf("%d blocks for %d goroutines", seen, runtime.NumGoroutine())
	}
}

func TestStatus(t *testing.T) {
	for in, want := range map[string]string{
		"goroutine 7 [chan receive, 3 minutes]:\nmain.f()\n": "chan receive, 3 minutes",
		"goroutine 8 [select (leaked)]:":                     "select (leaked)",
		"goroutine 9 running":                                "",
		"":                                                   "",
	} {
		if got := Status(in); got != want {
			t.Errorf("Status(%q) = %q, want %q", in, got, want)
		}
	}
}
