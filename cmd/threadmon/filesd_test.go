package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Targets come from Prometheus file_sd files (JSON and YAML) with their
// labels, shown in /api/targets and on threadmon_target_up; a changed file
// is re-read, a broken one keeps the targets it had.
func TestFileSD(t *testing.T) {
	a := startTarget(t, &fakeTarget{graph: goodGraph("sd-a")})
	b := startTarget(t, &fakeTarget{graph: goodGraph("sd-b")})
	hostA, hostB := strings.TrimPrefix(a, "http://"), strings.TrimPrefix(b, "http://")
	dir := t.TempDir()
	jsonFile, yamlFile := filepath.Join(dir, "a.json"), filepath.Join(dir, "b.yml")
	write := func(name, body string) {
		t.Helper()
		tmp := name + ".tmp"
		if err := os.WriteFile(tmp, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, name); err != nil { // as Prometheus's writers do
			t.Fatal(err)
		}
	}
	write(jsonFile, fmt.Sprintf(`[{"targets": [%q], "labels": {"app": "orders", "target": "x", "__scheme__": "http"}}]`, hostA))
	write(yamlFile, fmt.Sprintf("- targets: [%q]\n  labels:\n    app: billing\n    env: prod\n", hostB))
	base, _ := sidecarWith(t, serverOptions{sidecar: sidecarOptions{fileSD: []string{filepath.Join(dir, "*")}, sdRefresh: 100 * time.Millisecond}})
	waitFor(t, "both file_sd targets up", func() bool {
		st := targetStates(t, base)
		return st[a].Up && st[b].Up
	})
	st := targetStates(t, base)
	if l := st[a].Labels; l["app"] != "orders" || l["target"] != "x" || l["__scheme__"] != "" || st[a].Source != jsonFile {
		t.Fatalf("labels of a: %+v", st[a])
	}
	if l := st[b].Labels; l["app"] != "billing" || l["env"] != "prod" {
		t.Fatalf("labels of b: %+v", st[b])
	}
	_, metrics := do(t, "GET", base+"/metrics", "")
	for _, want := range []string{
		fmt.Sprintf(`threadmon_target_up{app="orders",exported_target="x",target=%q} 1`, hostA),
		fmt.Sprintf(`threadmon_target_up{app="billing",env="prod",target=%q} 1`, hostB),
	} {
		if !strings.Contains(metrics, want) {
			t.Fatalf("/metrics lacks %s:\n%s", want, metrics)
		}
	}
	idA := st[a].ID
	// b leaves, a changes labels (and keeps its id and data).
	write(yamlFile, "[]\n")
	write(jsonFile, fmt.Sprintf(`[{"targets": [%q], "labels": {"app": "orders", "tier": "gold"}}]`, hostA))
	waitFor(t, "the files re-read", func() bool {
		st := targetStates(t, base)
		_, hasB := st[b]
		return !hasB && st[a].Labels["tier"] == "gold"
	})
	if st := targetStates(t, base); st[a].ID != idA || !st[a].Up {
		t.Fatalf("a after the change: %+v", st[a])
	}
	// A broken file keeps the targets it had.
	write(jsonFile, `[{"targets": ["not a host/path"]}]`)
	time.Sleep(500 * time.Millisecond)
	if st := targetStates(t, base); !st[a].Up || st[a].Labels["tier"] != "gold" {
		t.Fatalf("a after a broken file: %+v", st)
	}
	checkServing(t, base)
}

// file_sd targets take -file-sd-path and -file-sd-port, and
// __threadmon_path__.
func TestFileSDURLs(t *testing.T) {
	dir := t.TempDir()
	name := filepath.Join(dir, "sd.yaml")
	body := "- targets: ['10.0.0.7:9100', 'svc.ns.svc:9100']\n" +
		"- targets: ['[::1]:80']\n  labels: {__scheme__: https, __threadmon_path__: custom/path}\n"
	if err := os.WriteFile(name, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	f := newFileSD([]string{name}, "/debug/threading/", "6060", 10, nil)
	ts, err := f.parse(name)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, t := range ts {
		got = append(got, t.shown)
	}
	want := "http://10.0.0.7:6060/debug/threading http://svc.ns.svc:6060/debug/threading https://[::1]:6060/custom/path"
	if strings.Join(got, " ") != want {
		t.Fatalf("got %v", got)
	}
	for _, bad := range []string{"[{\"targets\": [\"http://x:1\"]}]", "[{\"targets\": [\"x:1\"], \"labels\": {\"bad-name\": \"v\"}}]",
		"[{\"targets\": [\"x:1\"], \"labels\": {\"__scheme__\": \"ftp\"}}]", "[{\"targets\": [\"x\"]}]"} {
		if err := os.WriteFile(filepath.Join(dir, "bad.json"), []byte(bad), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := f.parse(filepath.Join(dir, "bad.json")); err == nil {
			t.Errorf("%s: accepted", bad)
		}
	}
}

// Two targets on one host:port (other paths) do not break /metrics.
func TestTargetUpSameHost(t *testing.T) {
	a := startTarget(t, &fakeTarget{graph: goodGraph("same-host")})
	base, _ := sidecarServer(t, a+"/one", a+"/two")
	waitFor(t, "both polled", func() bool {
		st := targetStates(t, base)
		return st[a+"/one"].Up && st[a+"/two"].Up
	})
	resp, body := do(t, "GET", base+"/metrics", "")
	if resp.StatusCode != 200 || strings.Count(body, "threadmon_target_up{") != 1 {
		t.Fatalf("/metrics: %d\n%s", resp.StatusCode, body)
	}
}
