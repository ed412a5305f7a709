package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"go.yaml.in/yaml/v3"
)

// fileSD finds targets in Prometheus file_sd files: a JSON (.json) or YAML
// (.yml, .yaml) list of groups, each with its targets (host:port) and
// labels, as Prometheus's file_sd_configs read them. So whatever writes
// Prometheus's service discovery files feeds threadmon too. A file is
// re-read when its modification time or size changes; a file that cannot be
// read keeps the targets it had.
//
//	[{"targets": ["10.0.0.7:6060", "10.0.0.8:6060"], "labels": {"app": "orders", "env": "prod"}}]
//
// A target's URL is http://host:port plus -file-sd-path; the labels
// __scheme__ (http or https) and __threadmon_path__ change the scheme and
// path of a group, -file-sd-port the port of all. Labels beginning with
// "__" are not shown, as in Prometheus.
type fileSD struct {
	patterns []string
	path     string
	port     string
	max      int
	log      *zap.Logger

	stamps  map[string]fileStamp
	perFile map[string][]*target
}

type fileStamp struct {
	mod  time.Time
	size int64
}

type sdGroup struct {
	Targets []string          `json:"targets" yaml:"targets"`
	Labels  map[string]string `json:"labels" yaml:"labels"`
}

const (
	maxSDFileBytes = 8 << 20
	maxLabels      = 32
	maxLabelValue  = 1024
)

var labelName = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)

func newFileSD(patterns []string, path, port string, max int, log *zap.Logger) *fileSD {
	return &fileSD{patterns: patterns, path: strings.TrimRight(path, "/"), port: port, max: max, log: log,
		stamps: map[string]fileStamp{}, perFile: map[string][]*target{}}
}

// files are the files the patterns match now, sorted.
func (f *fileSD) files() []string {
	var out []string
	for _, p := range f.patterns {
		m, err := filepath.Glob(p)
		if err != nil {
			f.log.Warn("file_sd pattern", zap.String("pattern", p), zap.Error(err))
			continue
		}
		out = append(out, m...)
	}
	sort.Strings(out)
	return slices.Compact(out)
}

// read returns the targets of every file and whether they may have changed
// since the last read: only files whose stamp changed are parsed again.
func (f *fileSD) read(force bool) ([]*target, bool) {
	changed := force
	files := f.files()
	present := map[string]bool{}
	for _, name := range files {
		present[name] = true
		st, err := os.Stat(name)
		if err != nil {
			f.log.Warn("file_sd file", zap.String("file", name), zap.Error(err))
			continue
		}
		stamp := fileStamp{st.ModTime(), st.Size()}
		if old, ok := f.stamps[name]; ok && old == stamp && !force {
			continue
		}
		f.stamps[name] = stamp
		ts, err := f.parse(name)
		if err != nil {
			f.log.Warn("file_sd file not read: its targets are kept", zap.String("file", name), zap.Error(err))
			continue
		}
		f.perFile[name] = ts
		changed = true
	}
	for name := range f.perFile {
		if !present[name] {
			delete(f.perFile, name)
			delete(f.stamps, name)
			changed = true
		}
	}
	var out []*target
	for _, name := range files {
		out = append(out, f.perFile[name]...)
	}
	if len(out) > f.max {
		f.log.Warn("more targets than -max-targets: the rest are not watched", zap.Int("found", len(out)), zap.Int("max", f.max))
		out = out[:f.max]
	}
	return out, changed
}

func (f *fileSD) parse(name string) ([]*target, error) {
	fh, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	data, err := io.ReadAll(io.LimitReader(fh, maxSDFileBytes+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxSDFileBytes {
		return nil, fmt.Errorf("larger than %d bytes", maxSDFileBytes)
	}
	var groups []sdGroup
	switch ext := strings.ToLower(filepath.Ext(name)); ext {
	case ".json":
		err = json.Unmarshal(data, &groups)
	case ".yml", ".yaml":
		err = yaml.Unmarshal(data, &groups)
	default:
		err = fmt.Errorf("extension %q: want .json, .yml or .yaml (as Prometheus)", ext)
	}
	if err != nil {
		return nil, err
	}
	var out []*target
	for i, g := range groups {
		labels, scheme, path, err := f.groupLabels(g.Labels)
		if err != nil {
			return nil, fmt.Errorf("group %d: %w", i, err)
		}
		for _, addr := range g.Targets {
			host, port, err := net.SplitHostPort(addr)
			if err != nil || host == "" || strings.ContainsAny(addr, "/?#@") {
				return nil, fmt.Errorf("group %d: target %q: want host:port", i, addr)
			}
			if f.port != "" {
				port = f.port
			}
			t, err := parseTarget(scheme + "://" + net.JoinHostPort(host, port) + path)
			if err != nil {
				return nil, fmt.Errorf("group %d: %w", i, err)
			}
			t.labels, t.source = labels, name
			out = append(out, t)
			if len(out) > f.max {
				return out, nil
			}
		}
	}
	return out, nil
}

// groupLabels checks a group's labels and splits off the ones that set the
// URL.
func (f *fileSD) groupLabels(in map[string]string) (labels map[string]string, scheme, path string, err error) {
	scheme, path = "http", f.path
	if len(in) > maxLabels {
		return nil, "", "", fmt.Errorf("%d labels: at most %d", len(in), maxLabels)
	}
	for k, v := range in {
		if !labelName.MatchString(k) {
			return nil, "", "", fmt.Errorf("label name %q: want [a-zA-Z_][a-zA-Z0-9_]*", k)
		}
		if len(v) > maxLabelValue || !utf8.ValidString(v) {
			return nil, "", "", fmt.Errorf("label %s: value not UTF-8 or longer than %d bytes", k, maxLabelValue)
		}
		switch k {
		case "__scheme__":
			if v != "http" && v != "https" {
				return nil, "", "", fmt.Errorf("__scheme__ %q: want http or https", v)
			}
			scheme = v
		case "__threadmon_path__":
			path = strings.TrimRight(v, "/")
		}
		if strings.HasPrefix(k, "__") {
			continue
		}
		if labels == nil {
			labels = map[string]string{}
		}
		labels[k] = v
	}
	if path != "" && !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	return labels, scheme, path, nil
}

// upCollector exports threadmon_target_up for every target, with its
// file_sd labels (a label named "target" becomes "exported_target", as
// Prometheus does). The label names differ from target to target, so it is
// an unchecked collector: it describes nothing up front.
type upCollector struct{ sc *sidecar }

func (upCollector) Describe(chan<- *prometheus.Desc) {}

func (c upCollector) Collect(ch chan<- prometheus.Metric) {
	emitted := map[string]bool{} // two targets on one host:port (other paths) with the same labels: the first
	for _, t := range c.sc.watched() {
		t.mu.Lock()
		up, labels := t.state.Up, t.labels
		t.mu.Unlock()
		names, values := []string{"target"}, []string{t.name}
		keys := make([]string, 0, len(labels))
		for k := range labels {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			name := k
			if name == "target" {
				name = "exported_target"
			}
			if slices.Contains(names, name) {
				continue
			}
			names, values = append(names, name), append(values, labels[k])
		}
		key := strings.Join(names, "\xff") + "\xfe" + strings.Join(values, "\xff")
		if emitted[key] {
			continue
		}
		emitted[key] = true
		v := 0.0
		if up {
			v = 1
		}
		desc := prometheus.NewDesc("threadmon_target_up", "1 when the last poll of the target succeeded.", names, nil)
		m, err := prometheus.NewConstMetric(desc, prometheus.GaugeValue, v, values...)
		if err != nil {
			ch <- prometheus.NewInvalidMetric(desc, err)
			continue
		}
		ch <- m
	}
}
