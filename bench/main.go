// Command bench prints threadmon's speed against what a user would pick
// instead, measured in one run on the machine at hand, as the Markdown table
// README.md's "Speed" section shows:
//
//	go run ./bench                 # -count 20, CPython included when python3 is found
//	go run ./bench -count 40 -benchtime 50ms -cpython=false
//
// It runs the benchmarks beside the code (go test -bench in ./threading and
// ./contention, one benchmark at a time, as a 2-core machine needs) in
// count rounds. In each round a row's benchmark and its alternative run back
// to back; the table gives each one's median time and the median over the
// rounds of their ratio: a ratio, not an absolute time, is what carries from
// one CPU to another. Each row names its budget (the project's performance
// budget); a row over budget is marked.
package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
)

// row is one line of the table: threadmon's benchmark against the
// alternative's. For a time ratio ("x the time") the budget is a maximum;
// for a throughput ratio (contended runs, ping-pong) a minimum.
type row struct {
	what        string
	ours, alt   string // benchmark names, without the -N GOMAXPROCS suffix
	altName     string
	throughput  bool
	budget      float64 // 0: no budget
	cpython     string  // the CPython script's benchmark name, or ""
	allocBudget bool    // 0 allocations required
}

var rows = []row{
	{"`Lock` acquire+release", "BenchmarkUncontended/Lock", "BenchmarkUncontended/sync.Mutex", "`sync.Mutex`", false, 1.5, "BenchmarkCPython/Uncontended/Lock", true},
	{"same, observer attached", "BenchmarkUncontended/Lock/observed", "BenchmarkUncontended/sync.Mutex", "`sync.Mutex`", false, 1.5, "", true},
	{"`Mutex` (drop-in) lock+unlock", "BenchmarkDropinMutex/threading.Mutex", "BenchmarkDropinMutex/sync.Mutex", "`sync.Mutex`", false, 1.5, "", true},
	{"`RLock` acquire+release", "BenchmarkUncontended/RLock", "BenchmarkUncontended/sync.Mutex", "`sync.Mutex`", false, 1.6, "BenchmarkCPython/Uncontended/RLock", true},
	{"`RWLock` read lock+unlock", "BenchmarkUncontended/RWLock/read", "BenchmarkUncontended/sync.RWMutex/read", "`sync.RWMutex`", false, 1.5, "", true},
	{"`RWLock` write lock+unlock", "BenchmarkUncontended/RWLock/write", "BenchmarkUncontended/sync.RWMutex/write", "`sync.RWMutex`", false, 1.5, "", true},
	{"`Semaphore(1)` acquire+release", "BenchmarkUncontended/Semaphore", "BenchmarkUncontended/x-sync-semaphore", "`x/sync/semaphore`", false, 1.0, "BenchmarkCPython/Uncontended/Semaphore", true},
	{"`Event.Wait` on a set event", "BenchmarkUncontended/Event/is-set", "", "", false, 0, "BenchmarkCPython/Uncontended/Event/is-set", true},
	{"`WaitGroup` Add+Done+Wait", "BenchmarkDropinWaitGroup/threading.WaitGroup", "BenchmarkDropinWaitGroup/sync.WaitGroup", "`sync.WaitGroup`", false, 0, "", true},
	{"`Once.Do`, done", "BenchmarkDropinOnce/threading.Once", "BenchmarkDropinOnce/sync.Once", "`sync.Once`", false, 0, "", true},
	{"`Lock`, 2 goroutines contending", "BenchmarkContended/Lock", "BenchmarkContended/sync.Mutex", "`sync.Mutex`", true, 0.85, "BenchmarkCPython/Contended/Lock", false},
	{"`RWLock`, contending", "BenchmarkContended/RWLock", "BenchmarkContended/sync.RWMutex", "`sync.RWMutex`", true, 0.85, "", false},
	{"`RWLock`, 2 readers only", "BenchmarkContended/RWLock/readers", "BenchmarkContended/sync.RWMutex/readers", "`sync.RWMutex`", true, 0, "", false},
	{"`Semaphore(2)`, contending", "BenchmarkContended/Semaphore", "BenchmarkContended/x-sync-semaphore", "`x/sync/semaphore`", true, 0, "", false},
	{"`Condition` ping-pong, one round trip", "BenchmarkPingPong/Condition", "BenchmarkPingPong/sync.Cond", "`sync.Mutex`+`sync.Cond`", true, 0.85, "BenchmarkCPython/PingPong/Condition", false},
	{"`Cond` (drop-in) ping-pong", "BenchmarkDropinCond/threading.Cond", "BenchmarkDropinCond/sync.Cond", "`sync.Cond`", true, 0.85, "", false},
	{"`Group` of 8 tasks, Go+Wait", "BenchmarkDropinGroup/threading.Group", "BenchmarkDropinGroup/errgroup", "`errgroup.Group`", true, 0, "", false},
	{"nested pair, lock-order checking on", "BenchmarkNestedPair/Lock/checking-on", "BenchmarkNestedPair/sync.Mutex", "`sync.Mutex`", false, 5, "", false},
	{"nested pair, `sasha-s/go-deadlock`", "BenchmarkNestedPair/go-deadlock", "BenchmarkNestedPair/sync.Mutex", "`sync.Mutex`", false, 0, "", false},
	{"holder count: plain add (race builds: locked add)", "BenchmarkHolderCount/holderCount", "BenchmarkHolderCount/atomic", "a locked add", false, 0, "", false},
	{"clock read: `time.Since` (used)", "BenchmarkClock/time.Since", "BenchmarkClock/runtime.nanotime", "`runtime.nanotime` (go:linkname)", false, 0, "", false},
}

type result struct {
	ns     []float64
	allocs []float64
}

// rowResult is one row's measurements, round by round: ours[i] and alt[i]
// ran back to back in round i.
type rowResult struct{ ours, alt result }

func main() {
	count := flag.Int("count", 20, "rounds: each row's pair of benchmarks runs once per round; the table shows medians")
	benchtime := flag.String("benchtime", "100ms", "each benchmark's -test.benchtime")
	cpython := flag.Bool("cpython", true, "also time CPython's threading with python3, where it has the primitive")
	flag.Parse()
	root, err := moduleRoot()
	if err != nil {
		fail(err)
	}
	tmp, err := os.MkdirTemp("", "threadmon-bench-")
	if err != nil {
		fail(err)
	}
	defer os.RemoveAll(tmp)
	// Each test binary is built once: every round measures the same code,
	// whatever happens to the source meanwhile.
	bins := map[string]string{}
	for _, r := range rows {
		for _, name := range []string{r.ours, r.alt} {
			dir := pkgOf(name)
			if name == "" || bins[dir] != "" {
				continue
			}
			bin := filepath.Join(tmp, dir+".test")
			fmt.Fprintf(os.Stderr, "bench: go test -c -o %s ./%s/\n", bin, dir)
			if out, err := run(root, "go", "test", "-c", "-o", bin, "./"+dir+"/"); err != nil {
				fail(fmt.Errorf("go test -c: %v\n%s", err, out))
			}
			bins[dir] = bin
		}
	}
	// In every round each row's benchmark and its alternative run back to
	// back, each in a process of its own, the first of the two alternating
	// from round to round. The speed of a shared VM drifts within seconds:
	// a ratio is taken only between two runs a fraction of a second apart,
	// and many short rounds, not a few long ones, carry the median.
	res := make([]rowResult, len(rows))
	for i := 0; i < *count; i++ {
		fmt.Fprintf(os.Stderr, "bench: round %d of %d\n", i+1, *count)
		for k, r := range rows {
			pair := []*result{&res[k].ours}
			names := []string{r.ours}
			if r.alt != "" {
				pair, names = append(pair, &res[k].alt), append(names, r.alt)
				if i%2 == 1 {
					pair[0], pair[1], names[0], names[1] = pair[1], pair[0], names[1], names[0]
				}
			}
			for j, name := range names {
				dir := pkgOf(name)
				out, err := run(filepath.Join(root, dir), bins[dir], "-test.run", "^$",
					"-test.bench", benchPattern(name), "-test.skip", benchPattern(name)+"/.",
					"-test.benchmem", "-test.count", "1", "-test.benchtime", *benchtime)
				if err != nil {
					fail(fmt.Errorf("%s: %v\n%s", bins[dir], err, out))
				}
				got := parse(out)[name]
				if got == nil {
					fail(fmt.Errorf("%s printed no result for %s", bins[dir], name))
				}
				pair[j].ns = append(pair[j].ns, got.ns...)
				pair[j].allocs = append(pair[j].allocs, got.allocs...)
			}
		}
	}
	var py map[string]*result
	if *cpython {
		if p, err := exec.LookPath("python3"); err == nil {
			fmt.Fprintf(os.Stderr, "bench: python3 bench/cpython_threading.py -count %d\n", *count)
			out, err := run(root, p, filepath.Join("bench", "cpython_threading.py"), "-count", strconv.Itoa(*count))
			if err != nil {
				fail(fmt.Errorf("python3: %v\n%s", err, out))
			}
			py = parse(out)
		}
	}
	fmt.Print(table(res, py, *count, *benchtime))
}

// pkgOf is the package directory whose tests hold the benchmark name.
func pkgOf(name string) string {
	if strings.HasPrefix(name, "BenchmarkNestedPair") {
		return "contention"
	}
	return "threading"
}

// benchPattern is the -test.bench pattern that matches name, level by
// level, and no other benchmark but name's own sub-benchmarks (which
// -test.skip with the pattern and "/." leaves out).
func benchPattern(name string) string {
	levels := strings.Split(name, "/")
	for i, l := range levels {
		levels[i] = "^" + regexp.QuoteMeta(l) + "$"
	}
	return strings.Join(levels, "/")
}

// parse reads `go test -bench` lines (and the CPython script's, which use the
// same format), dropping the -N suffix of each name.
func parse(out []byte) map[string]*result {
	res := map[string]*result{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") || f[3] != "ns/op" {
			continue
		}
		name := f[0]
		if i := strings.LastIndexByte(name, '-'); i > 0 {
			name = name[:i]
		}
		ns, err := strconv.ParseFloat(f[2], 64)
		if err != nil {
			continue
		}
		r := res[name]
		if r == nil {
			r = &result{}
			res[name] = r
		}
		r.ns = append(r.ns, ns)
		for i := 4; i+1 < len(f); i++ {
			if f[i+1] == "allocs/op" {
				if a, err := strconv.ParseFloat(f[i], 64); err == nil {
					r.allocs = append(r.allocs, a)
				}
			}
		}
	}
	return res
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	return quantile(sorted(v), 0.5)
}

// sorted is a sorted copy of v.
func sorted(v []float64) []float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	return s
}

// roundRatios are ours[i]/alt[i] for each round i (each benchmark runs
// once per round, so index i is round i in both).
func roundRatios(ours, alt []float64) []float64 {
	var q []float64
	for i := 0; i < len(ours) && i < len(alt); i++ {
		if alt[i] > 0 {
			q = append(q, ours[i]/alt[i])
		}
	}
	return q
}

// spread is the middle half of a row's per-round ratios (from the first
// quartile to the third), as the table shows it after the median: how much
// this machine moved during the run. inv turns time ratios into throughput
// ratios.
func spread(q []float64, inv bool) string {
	if len(q) < 4 {
		return ""
	}
	s := sorted(q)
	lo, hi := quantile(s, 0.25), quantile(s, 0.75)
	if inv {
		lo, hi = 1/hi, 1/lo
	}
	return fmt.Sprintf(" (%.2f–%.2f)", lo, hi)
}

// quantile is the q-quantile of the sorted s, interpolated between ranks.
func quantile(s []float64, q float64) float64 {
	x := q * float64(len(s)-1)
	i := int(x)
	if i+1 >= len(s) {
		return s[len(s)-1]
	}
	return s[i] + (x-float64(i))*(s[i+1]-s[i])
}

func table(res []rowResult, py map[string]*result, count int, benchtime string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Measured with `go run ./bench -count %d -benchtime %s` on %s, %d CPUs: times are medians of %d rounds (ns/op). In each round a row's two benchmarks ran back to back, the first of the two alternating; a ratio is the median of the %d rounds' ratios, with the middle half of them (first to third quartile) in brackets.\n\n",
		count, benchtime, cpuModel(), runtime.NumCPU(), count, count)
	b.WriteString("| operation | threadmon | Go alternative | ratio | budget |")
	if py != nil {
		b.WriteString(" CPython |")
	}
	b.WriteString("\n|---|---|---|---|---|")
	if py != nil {
		b.WriteString("---|")
	}
	b.WriteString("\n")
	over := 0
	for k, r := range rows {
		ours := res[k].ours
		if len(ours.ns) == 0 {
			continue
		}
		m := median(ours.ns)
		alt, ratio, budget := "", "", ""
		if a := res[k].alt; r.alt != "" && len(a.ns) > 0 {
			alt = fmt.Sprintf("%s %s", r.altName, num(median(a.ns)))
			qs := roundRatios(ours.ns, a.ns) // ours / alt, per round
			q := median(qs)
			if r.throughput {
				q = 1 / q
				ratio = fmt.Sprintf("%.2fx the throughput%s", q, spread(qs, true))
				if r.budget > 0 {
					budget = fmt.Sprintf("≥ %.2gx", r.budget)
					if q < r.budget {
						budget += " **over**"
						over++
					}
				}
			} else {
				ratio = fmt.Sprintf("%.2fx the time%s", q, spread(qs, false))
				if r.budget > 0 {
					budget = fmt.Sprintf("≤ %.2gx", r.budget)
					if q > r.budget {
						budget += " **over**"
						over++
					}
				}
			}
		}
		if r.allocBudget && median(ours.allocs) > 0 {
			budget += fmt.Sprintf(" (%.0f allocs/op, budget 0)", median(ours.allocs))
			over++
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |", r.what, num(m), alt, ratio, budget)
		if py != nil {
			cell := ""
			if p := py[r.cpython]; p != nil && r.cpython != "" {
				cell = num(median(p.ns))
			}
			fmt.Fprintf(&b, " %s |", cell)
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "\n%d of the budgets are not met in this run.\n", over)
	return b.String()
}

func num(v float64) string {
	switch {
	case v >= 1000:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case v >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	default:
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
}

func cpuModel() string {
	data, err := os.ReadFile("/proc/cpuinfo")
	if err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				return "`" + strings.TrimSpace(v) + "`"
			}
		}
	}
	return runtime.GOARCH
}

func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", err
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", fmt.Errorf("run go run ./bench inside the threadmon module")
	}
	return filepath.Dir(mod), nil
}

func run(dir, name string, args ...string) ([]byte, error) {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Stderr = os.Stderr
	return cmd.Output()
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "bench:", err)
	os.Exit(1)
}
