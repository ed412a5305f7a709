package contention

import (
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"runtime"
	"runtime/metrics"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/threadmon/threadmon/threading"
)

// stwSeconds reads the runtime's stop-the-world pause histograms: the total
// time and count of non-GC ("other") pauses, and of GC pauses. A histogram
// gives bucket counts, so the time is estimated at each bucket's midpoint.
func stwSeconds() (other float64, otherN uint64, gc float64, gcN uint64) {
	s := []metrics.Sample{{Name: "/sched/pauses/total/other:seconds"}, {Name: "/sched/pauses/total/gc:seconds"}}
	metrics.Read(s)
	sum := func(h *metrics.Float64Histogram) (float64, uint64) {
		var t float64
		var n uint64
		for i, c := range h.Counts {
			if c == 0 {
				continue
			}
			lo, hi := h.Buckets[i], h.Buckets[i+1]
			if math.IsInf(lo, -1) {
				lo = 0
			}
			if math.IsInf(hi, 1) {
				hi = lo
			}
			t += float64(c) * (lo + hi) / 2
			n += c
		}
		return t, n
	}
	other, otherN = sum(s[0].Value.Float64Histogram())
	gc, gcN = sum(s[1].Value.Float64Histogram())
	return
}

func rssMiB() float64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	var size, resident int64
	_, _ = fmt.Sscan(string(b), &size, &resident)
	return float64(resident*int64(os.Getpagesize())) / (1 << 20)
}

// TestLoadPollGraph is the budget "the HTTP API at 20,000 goroutines, 20
// clients polling /graph: p99 under 250 ms; no full stack dump per request".
// It is a load test, run on demand:
//
//	THREADMON_LOAD=1 go test -run TestLoadPollGraph -v ./contention/
//
// THREADMON_LOAD_PATH polls another path (default /graph);
// THREADMON_LOAD_EVERY=1.5s makes each client poll at that pace, as the page
// does, instead of back to back.
func TestLoadPollGraph(t *testing.T) {
	if os.Getenv("THREADMON_LOAD") == "" {
		t.Skip("load test: set THREADMON_LOAD=1")
	}
	const (
		goroutines  = 20000
		lockWaiters = 20 // of the goroutines, those parked in threading.Lock waits
		clients     = 20
		duration    = 10 * time.Second
	)
	path := os.Getenv("THREADMON_LOAD_PATH")
	if path == "" {
		path = "/graph"
	}
	var every time.Duration
	if e := os.Getenv("THREADMON_LOAD_EVERY"); e != "" {
		var err error
		if every, err = time.ParseDuration(e); err != nil {
			t.Fatal(err)
		}
	}
	// The parked goroutines: some wait on threading Locks held by one
	// thread, the rest on a plain channel.
	release := make(chan struct{})
	var parked sync.WaitGroup
	locks := make([]*threading.Lock, 4)
	for i := range locks {
		locks[i] = threading.NewLock(threading.WithName("load-lock-" + strconv.Itoa(i)))
		locks[i].Acquire()
	}
	for i := 0; i < goroutines; i++ {
		parked.Add(1)
		if i < lockWaiters {
			l := locks[i%len(locks)]
			go func() { defer parked.Done(); l.Acquire(); _ = l.Release() }()
			continue
		}
		go func() { defer parked.Done(); <-release }()
	}
	defer func() {
		close(release)
		for _, l := range locks {
			_ = l.Release()
		}
		parked.Wait()
	}()
	for waiting := 0; waiting < lockWaiters; {
		waiting = 0
		for _, l := range locks {
			waiting += l.Stats().Waiters
		}
		time.Sleep(time.Millisecond)
	}

	addr, stop, err := Serve("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	tr := &http.Transport{MaxIdleConnsPerHost: clients}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	url := "http://" + addr + path

	runtime.GC()
	rssBefore := rssMiB()
	other0, otherN0, gc0, gcN0 := stwSeconds()
	var mu sync.Mutex
	var lat []time.Duration
	var size int
	var failed error
	end := time.Now().Add(duration)
	var wg sync.WaitGroup
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(end) {
				start := time.Now()
				resp, err := client.Get(url)
				if err == nil {
					var n int64
					n, err = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					mu.Lock()
					size = int(n)
					mu.Unlock()
				}
				d := time.Since(start)
				mu.Lock()
				if err != nil && failed == nil {
					failed = err
				}
				lat = append(lat, d)
				mu.Unlock()
				if every > 0 {
					next := start.Add(every)
					if next.After(end) {
						next = end
					}
					time.Sleep(time.Until(next))
				}
			}
		}()
	}
	wg.Wait()
	elapsed := duration + time.Since(end)
	other1, otherN1, gc1, gcN1 := stwSeconds()
	rssAfter := rssMiB()
	if failed != nil {
		t.Fatal(failed)
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	p := func(q float64) time.Duration { return lat[int(q*float64(len(lat)-1))] }
	perMin := 60 / elapsed.Seconds()
	pace := "back to back"
	if every > 0 {
		pace = "every " + every.String()
	}
	t.Logf("%d goroutines (%d in Lock waits), %d clients polling %s %s for %v: %d requests, answer %d B",
		goroutines, lockWaiters, clients, path, pace, elapsed.Round(time.Millisecond), len(lat), size)
	t.Logf("latency p50 %v p90 %v p99 %v max %v", p(0.5), p(0.9), p(0.99), lat[len(lat)-1])
	t.Logf("stop-the-world per minute of polling: other %.3f s (%.0f pauses), gc %.3f s (%.0f pauses)",
		(other1-other0)*perMin, float64(otherN1-otherN0)*perMin, (gc1-gc0)*perMin, float64(gcN1-gcN0)*perMin)
	t.Logf("RSS %.0f MiB before polling, %.0f MiB after", rssBefore, rssAfter)
	if p99 := p(0.99); p99 > 250*time.Millisecond {
		t.Errorf("p99 %v over the 250 ms budget", p99)
	}
}
