package metrics

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"go.uber.org/goleak"

	"github.com/threadmon/threadmon/internal/plumb"
	"github.com/threadmon/threadmon/threading"
)

func TestMain(m *testing.M) {
	threading.SetLogger(nil)
	goleak.VerifyTestMain(m)
}

func register(t *testing.T, opts ...Option) (*prometheus.Registry, *Metrics) {
	t.Helper()
	reg := prometheus.NewRegistry()
	m, err := Register(reg, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	return reg, m
}

// sample returns the metric of family name whose labels include want.
func sample(t *testing.T, reg *prometheus.Registry, name string, want map[string]string) *dto.Metric {
	t.Helper()
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
	next:
		for _, m := range f.GetMetric() {
			have := map[string]string{}
			for _, lp := range m.GetLabel() {
				have[lp.GetName()] = lp.GetValue()
			}
			for k, v := range want {
				if have[k] != v {
					continue next
				}
			}
			return m
		}
	}
	t.Fatalf("no %s%v", name, want)
	return nil
}

// contend makes one wait of about d on l, from a Thread.
func contend(t *testing.T, l *threading.Lock, d time.Duration) {
	t.Helper()
	l.Acquire()
	th := threading.NewThread(func(context.Context) error { l.Acquire(); return l.Release() })
	_ = th.Start()
	for l.Stats().Waiters == 0 {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(d)
	_ = l.Release()
	_ = th.Join()
}

func uniq(s string) string { return fmt.Sprintf("%s-%d", s, time.Now().UnixNano()) }

// Every family, with the values the activity above it implies.
func TestFamilies(t *testing.T) {
	reg, _ := register(t, WithHoldSampling(1))
	name := uniq("accounts")
	l := threading.NewLock(threading.WithName(name))
	contend(t, l, 5*time.Millisecond)
	l.Acquire()
	if l.AcquireTimeout(time.Millisecond) {
		t.Fatal("acquired a held lock")
	}
	_ = l.Release()
	_ = l.Release() // misuse: releasing an unlocked lock

	threading.SetExceptHook(func(threading.ExceptHookArgs) {})
	defer threading.SetExceptHook(nil)
	for _, target := range []func(context.Context) error{
		func(context.Context) error { return errors.New("failed") },
		func(context.Context) error { panic("boom") },
		func(context.Context) error { return threading.ErrExit },
	} {
		th := threading.NewThread(target)
		_ = th.Start()
		_ = th.Join()
	}
	plumb.Publish(&threading.Report{Kind: threading.ReportDeadlock, Summary: "test deadlock"})
	plumb.Publish(&threading.Report{Kind: threading.ReportLockOrder, Summary: "test order"})

	lbl := map[string]string{"kind": "Lock", "name": name}
	for fam, want := range map[string]float64{
		"threading_acquisitions_total":  3,
		"threading_contentions_total":   2,
		"threading_timeouts_total":      1,
		"threading_cancellations_total": 0,
	} {
		if got := sample(t, reg, fam, lbl).GetCounter().GetValue(); got != want {
			t.Errorf("%s = %v, want %v", fam, got, want)
		}
	}
	if got := sample(t, reg, "threading_waiters", lbl).GetGauge().GetValue(); got != 0 {
		t.Errorf("waiters %v", got)
	}
	h := sample(t, reg, "threading_wait_seconds", lbl).GetHistogram()
	if h.GetSampleCount() != 2 || h.GetSampleSum() < 0.004 {
		t.Errorf("wait histogram count %d sum %v", h.GetSampleCount(), h.GetSampleSum())
	}
	if hh := sample(t, reg, "threading_hold_seconds", lbl).GetHistogram(); hh.GetSampleCount() < 2 {
		t.Errorf("hold histogram count %d", hh.GetSampleCount())
	}
	for fam, want := range map[string]float64{
		"threading_thread_errors_total":      1,
		"threading_thread_panics_total":      1,
		"threading_deadlocks_total":          1,
		"threading_lock_order_reports_total": 1,
	} {
		if got := sample(t, reg, fam, nil).GetCounter().GetValue(); got != want {
			t.Errorf("%s = %v, want %v", fam, got, want)
		}
	}
	if got := sample(t, reg, "threading_reports_total", map[string]string{"kind": "deadlock"}).GetCounter().GetValue(); got != 1 {
		t.Errorf("reports_total{deadlock} %v", got)
	}
	if got := sample(t, reg, "threading_misuse_total", map[string]string{"kind": "Lock", "op": "release"}).GetCounter().GetValue(); got != 1 {
		t.Errorf("misuse_total %v", got)
	}
	if got := sample(t, reg, "threading_threads", map[string]string{"state": "running"}).GetGauge().GetValue(); got < 1 {
		t.Errorf("threads running %v", got)
	}
	sample(t, reg, "threading_threads", map[string]string{"state": "waiting"})
}

// Past the cap, names become "other"; the first names keep theirs.
func TestLabelCap(t *testing.T) {
	reg, _ := register(t, WithMaxLabelValues(2))
	first := uniq("capped")
	for i := 0; i < 4; i++ {
		contend(t, threading.NewLock(threading.WithName(fmt.Sprintf("%s-%d", first, i))), time.Millisecond)
	}
	h := sample(t, reg, "threading_wait_seconds", map[string]string{"name": Overflow}).GetHistogram()
	if h.GetSampleCount() < 2 {
		t.Fatalf("overflow series has %d samples", h.GetSampleCount())
	}
	fams, _ := reg.Gather()
	names := map[string]bool{}
	for _, f := range fams {
		for _, m := range f.GetMetric() {
			for _, lp := range m.GetLabel() {
				if lp.GetName() == "name" {
					names[lp.GetValue()] = true
				}
			}
		}
	}
	if len(names) > 3 {
		t.Fatalf("%d distinct names with a cap of 2: %v", len(names), names)
	}
	if _, err := Register(prometheus.NewRegistry(), WithMaxLabelValues(0)); err == nil {
		t.Fatal("a cap of 0 was accepted")
	}
}

// A wait inside a sampled span carries its trace id as an exemplar, in the
// OpenMetrics exposition.
func TestExemplars(t *testing.T) {
	const id = "4bf92f3577b34da6a3ce929d0e0e4736"
	reg, _ := register(t, WithTraceIDs(func(ctx context.Context) (string, bool) {
		return id, ctx.Value(tracedKey{}) != nil
	}))
	name := uniq("traced")
	l := threading.NewLock(threading.WithName(name))
	l.Acquire()
	done := make(chan error)
	go func() { done <- l.AcquireContext(context.WithValue(context.Background(), tracedKey{}, true)) }()
	for l.Stats().Waiters == 0 {
		time.Sleep(time.Millisecond)
	}
	_ = l.Release()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	_ = l.Release()
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{EnableOpenMetrics: true}))
	defer srv.Close()
	req, _ := http.NewRequest("GET", srv.URL, nil)
	req.Header.Set("Accept", "application/openmetrics-text; version=1.0.0")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	want := `# {trace_id="` + id + `"}`
	for _, line := range strings.Split(string(body), "\n") {
		if strings.HasPrefix(line, "threading_wait_seconds_bucket") && strings.Contains(line, name) && strings.Contains(line, want) {
			return
		}
	}
	t.Fatalf("no exemplar %s for %s in:\n%s", want, name, body)
}

type tracedKey struct{}

// Native histograms, as an option.
func TestNativeHistograms(t *testing.T) {
	reg, _ := register(t, WithNativeHistograms())
	name := uniq("native")
	contend(t, threading.NewLock(threading.WithName(name)), time.Millisecond)
	h := sample(t, reg, "threading_wait_seconds", map[string]string{"name": name}).GetHistogram()
	if h.Schema == nil || len(h.GetPositiveSpan()) == 0 || len(h.GetBucket()) == 0 {
		t.Fatalf("not a native histogram with classic buckets: %v", h)
	}
}

// The exposition passes promtool check metrics.
func TestPromtoolCheckMetrics(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("promtool is not installed (Debian package prometheus); .ci/run installs it")
		}
		t.Skip("promtool not installed")
	}
	reg, _ := register(t, WithHoldSampling(1))
	contend(t, threading.NewLock(threading.WithName(uniq("promtool"))), time.Millisecond)
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = strings.NewReader(string(body))
	out, err := cmd.CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) != 0 {
		t.Fatalf("promtool check metrics: %v\n%s", err, out)
	}
}

// Close detaches the observer and unregisters everything.
func TestClose(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := Register(reg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Register(reg); err == nil {
		t.Fatal("registering twice on one registry succeeded")
	}
	m.Close()
	m.Close()
	contend(t, threading.NewLock(), time.Millisecond)
	fams, _ := reg.Gather()
	if len(fams) != 0 {
		t.Fatalf("%d families after Close", len(fams))
	}
}
