package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// recordedTarget serves the contention JSON recorded from the demo
// (testdata/recorded: 21 threads, the philosophers' deadlock).
func recordedTarget(t testing.TB) http.Handler {
	t.Helper()
	files := map[string][]byte{}
	for _, name := range []string{"graph", "contention", "lockorder"} {
		b, err := os.ReadFile(filepath.Join("testdata", "recorded", name+".json"))
		if err != nil {
			t.Fatal(err)
		}
		files["/"+name] = b
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, ok := files[r.URL.Path]
		if !ok {
			if r.URL.Path == "/stack" {
				_, _ = w.Write([]byte("[]"))
				return
			}
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(b)
	})
}

// fleet starts n recorded targets on 127.0.0.2, 127.0.0.3, ... (Linux
// routes all of 127/8 to loopback) and writes a file_sd file naming them,
// with labels.
func fleet(t testing.TB, n int) string {
	t.Helper()
	h := recordedTarget(t)
	var addrs []string
	for i := range n {
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.%d.%d:0", (i+2)/256, (i+2)%256))
		if err != nil {
			t.Skipf("127.0.0.x beyond 127.0.0.1 not on loopback here: %v", err)
		}
		srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
		go func() { _ = srv.Serve(ln) }()
		t.Cleanup(func() { _ = srv.Close() })
		addrs = append(addrs, ln.Addr().String())
	}
	var groups []sdGroup
	for i := 0; i < n; i += 10 {
		groups = append(groups, sdGroup{Targets: addrs[i:min(i+10, n)], Labels: map[string]string{"app": fmt.Sprintf("svc-%d", i/10), "env": "test"}})
	}
	b, _ := json.Marshal(groups)
	file := filepath.Join(t.TempDir(), "fleet.json")
	if err := os.WriteFile(file, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return file
}

// A fleet found through file_sd, polled by a bounded pool: every target is
// up, with its labels, and the merged view holds every deadlock.
func TestFleetFileSD(t *testing.T) {
	const n = 30
	file := fleet(t, n)
	base, s := sidecarWith(t, serverOptions{sidecar: sidecarOptions{fileSD: []string{file}, workers: 4, interval: 200 * time.Millisecond}})
	waitFor(t, "every target up with its deadlock", func() bool {
		st := targetStates(t, base)
		up := 0
		for _, s := range st {
			if s.Up && s.Deadlocks == 1 && s.Labels["env"] == "test" {
				up++
			}
		}
		return up == n
	})
	var g struct {
		Deadlocked []json.RawMessage `json:"deadlocked"`
	}
	getJSON(t, base+"/api/graph", &g)
	if len(g.Deadlocked) != n {
		t.Fatalf("%d deadlocked components in the merged view, want %d", len(g.Deadlocked), n)
	}
	if s.sidecar.cycles.Load() == 0 {
		t.Fatal("no round of polls counted")
	}
	checkServing(t, base)
}

// TestFleetMeasure measures threadmon, built and run as its own process,
// watching $THREADMON_FLEET recorded targets (e.g. 200) found through
// file_sd: the poll cycle's time, its RSS and its CPU per poll. Skipped
// unless THREADMON_FLEET is set.
//
//	THREADMON_FLEET=200 go test -run TestFleetMeasure -v ./cmd/threadmon/
func TestFleetMeasure(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("THREADMON_FLEET"))
	if n <= 0 {
		t.Skip("set THREADMON_FLEET=200 to measure")
	}
	interval := 2 * time.Second
	if v, err := time.ParseDuration(os.Getenv("THREADMON_FLEET_INTERVAL")); err == nil {
		interval = v
	}
	file := fleet(t, n)
	bin := filepath.Join(t.TempDir(), "threadmon")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cmd := exec.Command(bin, "-file-sd", file, "-listen", addr, "-interval", interval.String(), "-log-level", "error")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	base := "http://" + addr
	waitFor(t, "every target up", func() bool {
		resp, err := http.Get(base + "/api/targets")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		var st []TargetState
		if json.NewDecoder(resp.Body).Decode(&st) != nil {
			return false
		}
		up := 0
		for _, s := range st {
			if s.Up {
				up++
			}
		}
		return up == n
	})
	cycles := func() (count, sum float64) {
		resp, err := http.Get(base + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			if len(f) == 2 && f[0] == "threadmon_poll_cycle_seconds_count" {
				count, _ = strconv.ParseFloat(f[1], 64)
			}
			if len(f) == 2 && f[0] == "threadmon_poll_cycle_seconds_sum" {
				sum, _ = strconv.ParseFloat(f[1], 64)
			}
		}
		return count, sum
	}
	pid := cmd.Process.Pid
	c0, s0 := cycles()
	cpu0 := procCPU(t, pid)
	start := time.Now()
	time.Sleep(10 * interval)
	c1, s1 := cycles()
	cpu1 := procCPU(t, pid)
	wall := time.Since(start)
	rss, hwm := procMem(t, pid)
	polls := c1 - c0
	t.Logf("%d targets, interval %s, %d CPU(s): %.0f rounds in %s; mean poll cycle %.1f ms; CPU %.1f ms per round (%.2f ms per target poll, %.1f%% of a core); RSS %d MiB (peak %d MiB)",
		n, interval, numCPU(), polls, wall.Round(time.Millisecond), 1000*(s1-s0)/polls, 1000*(cpu1-cpu0).Seconds()/polls,
		1000*(cpu1-cpu0).Seconds()/polls/float64(n), 100*(cpu1-cpu0).Seconds()/wall.Seconds(), rss>>20, hwm>>20)
}

func numCPU() int {
	b, _ := os.ReadFile("/proc/cpuinfo")
	return strings.Count(string(b), "processor\t:")
}

// procCPU is the user and system CPU time of process pid (Linux).
func procCPU(t *testing.T, pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * time.Second / 100 // USER_HZ
}

// procMem is the resident and peak resident set of process pid (Linux).
func procMem(t *testing.T, pid int) (rss, hwm int64) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && (f[0] == "VmRSS:" || f[0] == "VmHWM:") {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			if f[0] == "VmRSS:" {
				rss = kb << 10
			} else {
				hwm = kb << 10
			}
		}
	}
	return rss, hwm
}
