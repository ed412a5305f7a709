#!/usr/bin/env python3
"""Writes the Grafana dashboards in dashboards/ (JSON for Grafana 10/11).

    python3 grafana/build_dashboards.py [OUTDIR]

OUTDIR defaults to grafana/dashboards; grafana/drift_test.go writes to a
temporary directory and fails when the committed JSON differs.

The JSON files are what Grafana loads; this script keeps the three consistent
(variables, units, descriptions, exemplars). grafana/e2e_test.go runs every
panel's expression against a real Prometheus scraping `threadmon -demo`.
"""
import json
import os
import sys

SEL = 'job="$job", instance=~"$instance"'
DS = {"type": "prometheus", "uid": "${datasource}"}


def variables(extra=()):
    return {"list": [
        {"name": "datasource", "label": "Data source", "type": "datasource", "query": "prometheus",
         "current": {}, "hide": 0, "refresh": 1},
        {"name": "job", "label": "Job", "type": "query", "datasource": DS,
         "query": {"query": "label_values(threading_threads, job)", "refId": "job"},
         "definition": "label_values(threading_threads, job)", "refresh": 2, "sort": 1, "current": {}},
        {"name": "instance", "label": "Instance", "type": "query", "datasource": DS,
         "query": {"query": 'label_values(threading_threads{job="$job"}, instance)', "refId": "instance"},
         "definition": 'label_values(threading_threads{job="$job"}, instance)', "refresh": 2, "sort": 1,
         "includeAll": True, "allValue": ".*", "multi": True, "current": {}},
        *extra,
    ]}


def panel(pid, title, desc, unit, targets, x, y, w=12, h=8, kind="timeseries", exemplar=False, stack=False):
    p = {
        "id": pid, "type": kind, "title": title, "description": desc, "datasource": DS,
        "gridPos": {"x": x, "y": y, "w": w, "h": h},
        "fieldConfig": {"defaults": {"unit": unit, "custom": {}}, "overrides": []},
        "options": {"legend": {"displayMode": "table", "placement": "right", "calcs": ["lastNotNull", "max"]},
                    "tooltip": {"mode": "multi", "sort": "desc"}},
        "targets": [],
    }
    if kind == "timeseries":
        p["fieldConfig"]["defaults"]["custom"] = {"drawStyle": "line", "lineWidth": 1, "fillOpacity": 10,
                                                  "stacking": {"mode": "normal" if stack else "none"}}
    if kind == "stat":
        p["options"] = {"reduceOptions": {"calcs": ["lastNotNull"]}, "colorMode": "background", "graphMode": "none"}
        p["fieldConfig"]["defaults"]["thresholds"] = {"mode": "absolute", "steps": [
            {"color": "green", "value": None}, {"color": "red", "value": 1}]}
    for i, (expr, legend) in enumerate(targets):
        t = {"refId": chr(ord("A") + i), "datasource": DS, "expr": expr, "legendFormat": legend, "range": True}
        if exemplar:
            t["exemplar"] = True
        p["targets"].append(t)
    return p


def dashboard(uid, title, desc, panels, extra_vars=()):
    return {
        "uid": uid, "title": title, "description": desc, "tags": ["threadmon", "threading"],
        "schemaVersion": 39, "version": 1, "editable": True, "graphTooltip": 1,
        "time": {"from": "now-1h", "to": "now"}, "refresh": "30s", "timezone": "",
        "templating": variables(extra_vars), "annotations": {"list": []}, "panels": panels,
        "links": [{"title": "threadmon dashboards", "type": "dashboards", "tags": ["threadmon"], "asDropdown": True}],
    }


overview = dashboard("threadmon-overview", "Threading: overview",
    "Threads, the primitives callers wait on most, contention, timeouts and deadlocks of services instrumented with threadmon.", [
    panel(1, "Deadlocks", "Deadlocks confirmed by the detector since the processes started. Any value above 0 needs a look: open threadmon's page.",
          "short", [(f"sum(threading_deadlocks_total{{{SEL}}})", "deadlocks")], 0, 0, 6, 5, kind="stat"),
    panel(2, "Threads waiting now", "Threads blocked in a wait (lock, condition, event, barrier, join) at the last scrape: waiting to acquire or waiting to be notified.",
          "short", [(f'sum(threading_threads{{{SEL}, state="waiting"}})', "waiting")], 6, 0, 6, 5, kind="stat"),
    panel(3, "Thread panics", "Threads whose target panicked since the processes started.",
          "short", [(f"sum(threading_thread_panics_total{{{SEL}}})", "panics")], 12, 0, 6, 5, kind="stat"),
    panel(4, "Lock-order inversions", "Potential deadlocks found by lock-order checking (staging mode) since the processes started.",
          "short", [(f"sum(threading_lock_order_reports_total{{{SEL}}})", "inversions")], 18, 0, 6, 5, kind="stat"),
    panel(5, "Threads by state", "Live threads (Threads, the main thread, dummy threads of other goroutines) running or waiting.",
          "short", [(f"sum by (state) (threading_threads{{{SEL}}})", "{{state}}")], 0, 5, stack=True),
    panel(6, "Top primitives by time waited to acquire", "Seconds spent waiting to acquire per second (contention), by primitive: the ten that cost the most. Waiting to be notified is apart, below.",
          "s", [(f"topk(10, sum by (kind, name) (rate(threading_wait_seconds_sum{{{SEL}, wait=\"contention\"}}[$__rate_interval])))", "{{kind}} {{name}}")], 12, 5),
    panel(7, "Contention rate", "Callers that had to wait to acquire, per second, by primitive.",
          "ops", [(f"sum by (kind, name) (rate(threading_contentions_total{{{SEL}, wait=\"contention\"}}[$__rate_interval]))", "{{kind}} {{name}}")], 0, 13),
    panel(8, "Timeout rate", "Waits that gave up when their timeout passed, per second, by primitive.",
          "ops", [(f"sum by (kind, name) (rate(threading_timeouts_total{{{SEL}}}[$__rate_interval]))", "{{kind}} {{name}}")], 12, 13),
    panel(9, "Wait time to acquire p99 (all primitives)", "99th percentile of the waits to acquire that blocked (contention), from the threading_wait_seconds histograms. Exemplars link to the traces of slow waits.",
          "s", [(f"histogram_quantile(0.99, sum by (le) (rate(threading_wait_seconds_bucket{{{SEL}, wait=\"contention\"}}[$__rate_interval])))", "p99")], 0, 21, exemplar=True),
    panel(10, "Deadlocks over time", "Deadlocks confirmed, counted since each process started.",
          "short", [(f"sum by (instance) (threading_deadlocks_total{{{SEL}}})", "{{instance}}")], 12, 21),
    panel(11, "Idle: time waiting to be notified", "Seconds spent waiting to be notified per second (Condition wait, Event, Barrier, Join, WaitGroup), by primitive: idle workers, not contention.",
          "s", [(f"topk(10, sum by (kind, name) (rate(threading_wait_seconds_sum{{{SEL}, wait=\"idle\"}}[$__rate_interval])))", "{{kind}} {{name}}")], 0, 29),
])

prim_var = {"name": "primitive", "label": "Primitive", "type": "query", "datasource": DS,
            "query": {"query": 'label_values(threading_acquisitions_total{job="$job", instance=~"$instance"}, name)', "refId": "primitive"},
            "definition": 'label_values(threading_acquisitions_total{job="$job", instance=~"$instance"}, name)',
            "refresh": 2, "sort": 1, "current": {}}
PSEL = SEL + ', name="$primitive"'
primitive = dashboard("threadmon-primitive", "Threading: primitive",
    "One primitive (a named lock, or the creation site of unnamed ones): how long callers wait, how often, how long it is held.", [
    panel(1, "Wait time p50 / p90 / p99", "Percentiles of the waits that blocked on this primitive, from threading_wait_seconds, waits to acquire (contention) and waits to be notified (idle) apart. Exemplars link to traces.",
          "s", [(f"histogram_quantile({q}, sum by (le, wait) (rate(threading_wait_seconds_bucket{{{PSEL}}}[$__rate_interval])))", f"p{int(q*100)} {{{{wait}}}}")
                for q in (0.5, 0.9, 0.99)], 0, 0, 24, 9, exemplar=True),
    panel(2, "Acquisitions and contentions", "Successful acquisitions per second, and those that had to wait first.",
          "ops", [(f"sum(rate(threading_acquisitions_total{{{PSEL}}}[$__rate_interval]))", "acquisitions"),
                  (f"sum(rate(threading_contentions_total{{{PSEL}}}[$__rate_interval]))", "contentions")], 0, 9),
    panel(3, "Share of acquisitions that waited", "Contentions divided by acquisitions.",
          "percentunit", [(f"sum(rate(threading_contentions_total{{{PSEL}}}[$__rate_interval])) / sum(rate(threading_acquisitions_total{{{PSEL}}}[$__rate_interval]))", "contended")], 12, 9),
    panel(4, "Hold time p50 / p99", "How long the lock is held, from sampled acquisitions (threading_hold_seconds; metrics.WithHoldSampling).",
          "s", [(f"histogram_quantile({q}, sum by (le) (rate(threading_hold_seconds_bucket{{{PSEL}}}[$__rate_interval])))", f"p{int(q*100)}")
                for q in (0.5, 0.99)], 0, 17),
    panel(5, "Waiters now and timeouts", "Callers waiting at the last scrape, and waits that timed out per second.",
          "short", [(f"sum(threading_waiters{{{PSEL}}})", "waiting now"),
                    (f"sum(rate(threading_timeouts_total{{{PSEL}}}[$__rate_interval]))", "timeouts/s")], 12, 17),
], extra_vars=(prim_var,))

threads = dashboard("threadmon-threads", "Threading: threads",
    "Threads by state, failures of thread targets, and misuse of primitives.", [
    panel(1, "Threads by state", "Live threads running or waiting.",
          "short", [(f"sum by (state) (threading_threads{{{SEL}}})", "{{state}}")], 0, 0, 24, 8, stack=True),
    panel(2, "Thread failures", "Thread targets that panicked or returned an error, per second.",
          "ops", [(f"sum(rate(threading_thread_panics_total{{{SEL}}}[$__rate_interval]))", "panics"),
                  (f"sum(rate(threading_thread_errors_total{{{SEL}}}[$__rate_interval]))", "errors")], 0, 8),
    panel(3, "Misuse", "Errors returned for misuse (releasing what is not held, joining oneself, ...), per second; 0 when there is none.",
          "ops", [(f"sum by (kind, op) (rate(threading_misuse_total{{{SEL}}}[$__rate_interval])) or on() vector(0)", "{{kind}} {{op}}")], 12, 8),
    panel(4, "Waiting threads by primitive kind", "Callers waiting now, by the kind of primitive they wait on.",
          "short", [(f"sum by (kind) (threading_waiters{{{SEL}}})", "{{kind}}")], 0, 16),
    panel(5, "Reports by kind", "Deadlocks, lock-order inversions and smells (self-deadlock, thread ended holding a lock, long wait), since the processes started.",
          "short", [(f"sum by (kind) (threading_reports_total{{{SEL}}})", "{{kind}}")], 12, 16),
])

here = os.path.dirname(os.path.abspath(__file__))
outdir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "dashboards")
for name, d in (("threading-overview", overview), ("threading-primitive", primitive), ("threading-threads", threads)):
    with open(os.path.join(outdir, name + ".json"), "w") as f:
        json.dump(d, f, indent=2)
        f.write("\n")
