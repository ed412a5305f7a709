// Package grafana holds no Go code: its test proves the dashboards and alert
// rules against a real Prometheus scraping `threadmon -demo`.
package grafana

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func need(t *testing.T, name string) string {
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is not installed (Debian package prometheus); .ci/run installs it", name)
		}
		t.Skipf("%s not installed", name)
	}
	return p
}

func freePort(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// start runs a process for the test; it is killed when the test ends,
// whatever happens.
func start(t *testing.T, log string, name string, args ...string) {
	t.Helper()
	out, err := os.Create(log)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		out.Close()
	})
}

type promResult struct {
	Status string `json:"status"`
	Data   struct {
		ResultType string `json:"resultType"`
		Result     []struct {
			Metric map[string]string `json:"metric"`
			Value  [2]any            `json:"value"`
		} `json:"result"`
		Alerts []struct {
			Labels map[string]string `json:"labels"`
			State  string            `json:"state"`
		} `json:"alerts"`
	} `json:"data"`
	Error string `json:"error"`
}

var client = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}

func promGet(t *testing.T, u string) promResult {
	t.Helper()
	resp, err := client.Get(u)
	if err != nil {
		return promResult{Error: err.Error()}
	}
	defer resp.Body.Close()
	var r promResult
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return promResult{Error: err.Error()}
	}
	return r
}

type panelQuery struct {
	dashboard, panel, expr string
}

// queries reads every panel expression of the dashboards, with the template
// variables filled in as a user would pick them.
func queries(t *testing.T) []panelQuery {
	files, _ := filepath.Glob("dashboards/*.json")
	if len(files) != 3 {
		t.Fatalf("dashboards: %v", files)
	}
	repl := strings.NewReplacer(`$job`, `threadmon`, `$instance`, `.*`, `$__rate_interval`, `15s`, `$primitive`, `account-0`)
	var out []panelQuery
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var d struct {
			Title  string `json:"title"`
			Panels []struct {
				Title       string `json:"title"`
				Description string `json:"description"`
				FieldConfig struct {
					Defaults struct {
						Unit string `json:"unit"`
					} `json:"defaults"`
				} `json:"fieldConfig"`
				Targets []struct {
					Expr     string `json:"expr"`
					Exemplar bool   `json:"exemplar"`
				} `json:"targets"`
			} `json:"panels"`
			Templating struct {
				List []struct {
					Name string `json:"name"`
				} `json:"list"`
			} `json:"templating"`
		}
		if err := json.Unmarshal(b, &d); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		vars := map[string]bool{}
		for _, v := range d.Templating.List {
			vars[v.Name] = true
		}
		if !vars["datasource"] || !vars["job"] || !vars["instance"] {
			t.Fatalf("%s: variables %v", f, vars)
		}
		for _, p := range d.Panels {
			if p.Description == "" || p.FieldConfig.Defaults.Unit == "" {
				t.Fatalf("%s: panel %q lacks a unit or a description", f, p.Title)
			}
			for _, tg := range p.Targets {
				if strings.Contains(tg.Expr, "threading_wait_seconds_bucket") && !tg.Exemplar {
					t.Fatalf("%s: panel %q shows a histogram without exemplars", f, p.Title)
				}
				out = append(out, panelQuery{d.Title, p.Title, repl.Replace(tg.Expr)})
			}
		}
	}
	return out
}

// TestDashboardsAgainstPrometheus: threadmon -demo, scraped every second by a
// real Prometheus with the alert rules loaded; every panel's query returns
// data, the deadlock alert fires once the demo's deadlock forms, and
// promtool check metrics passes on /metrics. Bounded to a few minutes.
func TestDashboardsAgainstPrometheus(t *testing.T) {
	prom := need(t, "prometheus")
	promtool := need(t, "promtool")
	goBin := need(t, "go")
	dir := t.TempDir()
	bin := filepath.Join(dir, "threadmon")
	if out, err := exec.Command(goBin, "build", "-o", bin, "../cmd/threadmon").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	tmAddr, promAddr := freePort(t), freePort(t)
	start(t, filepath.Join(dir, "threadmon.log"), bin, "-demo", "-listen", tmAddr, "-duration", "5m", "-log-level", "error")
	rules, _ := filepath.Abs("alerts/threading-rules.yaml")
	cfg := fmt.Sprintf(`global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files: [%q]
scrape_configs:
  - job_name: threadmon
    static_configs:
      - targets: [%q]
`, rules, tmAddr)
	cfgFile := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(promtool, "check", "config", cfgFile).CombinedOutput(); err != nil {
		t.Fatalf("promtool check config: %v\n%s", err, out)
	}
	start(t, filepath.Join(dir, "prometheus.log"), prom, "--config.file="+cfgFile, "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+promAddr, "--log.level=warn")
	api := "http://" + promAddr + "/api/v1/"
	deadline := time.Now().Add(3 * time.Minute)
	query := func(expr string) promResult {
		return promGet(t, api+"query?query="+url.QueryEscape(expr))
	}

	// Every panel returns data.
	pending := queries(t)
	results := map[string]string{}
	for len(pending) > 0 && time.Now().Before(deadline) {
		var still []panelQuery
		for _, q := range pending {
			r := query(q.expr)
			if r.Status != "success" || len(r.Data.Result) == 0 {
				still = append(still, q)
				continue
			}
			var parts []string
			for i, s := range r.Data.Result {
				if i == 3 {
					parts = append(parts, fmt.Sprintf("(+%d more)", len(r.Data.Result)-3))
					break
				}
				parts = append(parts, fmt.Sprintf("%v=%v", s.Metric, s.Value[1]))
			}
			results[q.dashboard+" / "+q.panel+" / "+q.expr] = strings.Join(parts, " ")
		}
		pending = still
		if len(pending) > 0 {
			time.Sleep(2 * time.Second)
		}
	}
	for _, q := range pending {
		t.Errorf("%s / %s: no data for %s", q.dashboard, q.panel, q.expr)
	}
	keys := make([]string, 0, len(results))
	for k := range results {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		t.Logf("%s\n    -> %s", k, results[k])
	}

	// The deadlock alert fires.
	fired := false
	for !fired && time.Now().Before(deadline) {
		for _, a := range promGet(t, api+"alerts").Data.Alerts {
			if a.Labels["alertname"] == "ThreadingDeadlockDetected" && a.State == "firing" {
				fired = true
			}
		}
		if !fired {
			time.Sleep(time.Second)
		}
	}
	if !fired {
		t.Error("ThreadingDeadlockDetected did not fire")
	}

	// promtool check metrics on threadmon's /metrics.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+tmAddr+"/metrics", nil)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	check := exec.Command(promtool, "check", "metrics")
	check.Stdin = strings.NewReader(string(body))
	if out, err := check.CombinedOutput(); err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
}

// The alert rules pass promtool check rules and their unit tests.
func TestAlertRules(t *testing.T) {
	promtool := need(t, "promtool")
	for _, args := range [][]string{{"check", "rules", "alerts/threading-rules.yaml"}, {"test", "rules", "alerts/threading-rules.test.yaml"}} {
		if out, err := exec.Command(promtool, args...).CombinedOutput(); err != nil {
			t.Fatalf("promtool %v: %v\n%s", args, err, out)
		}
	}
}
