#!/usr/bin/env python3
"""Times CPython's threading on the operations that threading's Go benchmarks
time (BenchmarkUncontended, BenchmarkContended, BenchmarkPingPong), so the two
can be compared on one machine. Prints one line per operation in the format of
`go test -bench`: name, iterations, ns/op. Every loop is bounded.

    python3 bench/cpython_threading.py [-count 6]
"""
import argparse
import statistics
import threading
import time


def uncontended(make, acquire, release, n):
    obj = make()
    a, r = getattr(obj, acquire), getattr(obj, release)
    t0 = time.perf_counter_ns()
    for _ in range(n):
        a()
        r()
    return (time.perf_counter_ns() - t0) / n


def event_is_set(n):
    ev = threading.Event()
    ev.set()
    w = ev.wait
    t0 = time.perf_counter_ns()
    for _ in range(n):
        w()
    return (time.perf_counter_ns() - t0) / n


def contended_lock(n):
    lock = threading.Lock()
    box = [0]
    per = n // 2

    def work():
        for _ in range(per):
            with lock:
                box[0] += 1

    threads = [threading.Thread(target=work) for _ in range(2)]
    t0 = time.perf_counter_ns()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return (time.perf_counter_ns() - t0) / (2 * per)


def ping_pong(n):
    cond = threading.Condition(threading.Lock())
    turn = [0]

    def other():
        with cond:
            for _ in range(n):
                while turn[0] != 1:
                    cond.wait()
                turn[0] = 0
                cond.notify()

    t = threading.Thread(target=other)
    t.start()
    t0 = time.perf_counter_ns()
    with cond:
        for _ in range(n):
            turn[0] = 1
            cond.notify()
            while turn[0] != 0:
                cond.wait()
    elapsed = time.perf_counter_ns() - t0
    t.join()
    return elapsed / n


CASES = [
    ("BenchmarkCPython/Uncontended/Lock", lambda n: uncontended(threading.Lock, "acquire", "release", n), 1_000_000),
    ("BenchmarkCPython/Uncontended/RLock", lambda n: uncontended(threading.RLock, "acquire", "release", n), 1_000_000),
    ("BenchmarkCPython/Uncontended/Semaphore", lambda n: uncontended(threading.Semaphore, "acquire", "release", n), 300_000),
    ("BenchmarkCPython/Uncontended/Event/is-set", event_is_set, 1_000_000),
    ("BenchmarkCPython/Contended/Lock", contended_lock, 1_000_000),
    ("BenchmarkCPython/PingPong/Condition", ping_pong, 20_000),
]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-count", type=int, default=6)
    args = ap.parse_args()
    for name, fn, n in CASES:
        runs = []
        for _ in range(args.count):
            ns = fn(n)
            runs.append(ns)
            print(f"{name}-py\t{n}\t{ns:.2f} ns/op", flush=True)
        print(f"# {name}: median {statistics.median(runs):.2f} ns/op", flush=True)


if __name__ == "__main__":
    main()
