// Command threadmon-migrate rewrites a Go package's sync.Mutex,
// sync.RWMutex, sync.Cond, sync.WaitGroup, sync.Once (with OnceFunc,
// OnceValue, OnceValues) and golang.org/x/sync/errgroup.Group to the
// drop-ins of github.com/threadmon/threadmon/threading.
//
// Usage:
//
//	threadmon-migrate [-w] [-name] PATH...
//
// PATH is a package directory or a directory followed by /... for every
// package under it (./... for the current module). Without -w it prints a
// unified diff (apply it with patch -p0); with -w it rewrites
// the files. Test files are rewritten with their packages.
//
// The rewrite goes by type information, not by name: only identifiers that
// refer to package sync or errgroup change, whatever the import is called.
// sync.X becomes threading.X in types, composite literals, conversions, new
// and generic instantiations; sync.NewCond(l) becomes threading.NewCond(l),
// &sync.Cond{L: l} becomes threading.NewCond(l), and errgroup.WithContext
// becomes threading.GroupWithContext. The threading import is added, and the
// sync and errgroup imports are removed once nothing uses them (sync.Map,
// sync.Pool, sync.Locker and sync/atomic stay on sync). Output is gofmt'd.
//
// With -name, a constructor stored in a field of a named struct type gets
// the field's name: new(sync.Mutex) or &sync.Mutex{} assigned to T.f (in a
// composite literal or by x.f = ...) becomes
// threading.NewMutex(threading.WithName("T.f")), and likewise NewRWMutex,
// NewWaitGroup, NewOnce, NewGroup, NewCond(l, ...) and
// GroupWithContext(ctx, ...). A field held by value cannot be named this way
// (a threading lock must not be copied), so it stays a zero value, known by
// its class.
//
// # What it refuses
//
// A file is rewritten whole or not at all. It is left unchanged, with the
// file:line and the reason, when:
//
//   - it holds a sync.Cond by value (a variable, field, element, new(sync.Cond),
//     sync.Cond{...} or &sync.Cond{} without L): threading.Cond's zero value
//     panics on use, so a Cond must come from NewCond and be held by pointer;
//   - it asserts or type-switches to a type naming a converted type:
//     a value made by code that is not rewritten would stop matching;
//   - it is generated, belongs to a cgo package, dot-imports sync, or its
//     package has a file excluded by build constraints that names a
//     converted type (it cannot be type-checked here);
//   - once converted, the code does not type-check: a value of a converted
//     type goes where the exact sync type is needed, as an argument to a
//     function of a package that is not rewritten (func F(*sync.Mutex)), a
//     field or variable of such a package, or an interface method whose
//     signature names a sync type. The file declaring what changed type is
//     left unchanged, then everything that no longer type-checks with it,
//     until the rest does;
//   - once converted, reflect (TypeOf, ValueOf, DeepEqual...) or
//     unsafe.Sizeof, Alignof or Offsetof is given a value whose type changes,
//     or an unsafe.Pointer is converted to a converted type;
//   - a struct embedding a converted type would lose a promoted method,
//     made ambiguous by a method of the same name of the threading type.
//
// The exit status is 1 when anything was refused (the diff of the rest is
// printed, or written with -w), 2 when the packages could not be loaded.
//
// Notes, which do not stop the rewrite, tell of exported identifiers whose
// type changes (code outside the patterns that uses them must change too)
// and of structs that gain the String method of an embedded threading type.
//
// What it cannot see: code outside the patterns that asserts an interface
// value to *sync.Mutex (or reflects on it) and gets a value from the
// rewritten code; and files excluded by build constraints that do not name
// the converted types but use them (x.mu.Lock() is fine, passing &x.mu to a
// function that wants a *sync.Mutex is not).
//
// The packages of github.com/threadmon/threadmon itself are never rewritten:
// they implement threading or observe it.
//
// The packages must build, and their module must be able to import
// threading (go get github.com/threadmon/threadmon first). A package outside
// the patterns that both imports one of them and is imported by one of them
// is an error: it would see both versions of the types.
//
// The tool loads packages with go list -deps -test -export and
// type-checks them with go/types, from source for the packages to rewrite
// and from the compiler's export data for the rest; the rewrite is checked
// by type-checking the rewritten syntax again, against threading's real
// export data.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"go/token"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
)

func main() { os.Exit(runMain(os.Args[1:], os.Stdout, os.Stderr)) }

type run struct {
	stdout, stderr io.Writer
	write, name    bool
}

// modulePatterns groups the arguments by module: root -> go list patterns.
func modulePatterns(args []string) (map[string][]string, error) {
	out := map[string][]string{}
	for _, arg := range args {
		dir, rec := arg, false
		if arg == "..." {
			dir, rec = ".", true
		} else if d, ok := strings.CutSuffix(arg, "/..."); ok {
			dir, rec = d, true
		}
		abs, err := filepath.Abs(dir)
		if err != nil {
			return nil, err
		}
		if st, err := os.Stat(abs); err != nil || !st.IsDir() {
			return nil, fmt.Errorf("%s: not a directory", arg)
		}
		cmd := exec.Command("go", "env", "GOMOD")
		cmd.Dir = abs
		gomod, err := cmd.Output()
		if err != nil {
			return nil, fmt.Errorf("%s: go env GOMOD: %v", arg, err)
		}
		mod := strings.TrimSpace(string(gomod))
		if mod == "" || mod == os.DevNull {
			return nil, fmt.Errorf("%s: not in a Go module", arg)
		}
		root := filepath.Dir(mod)
		rel, err := filepath.Rel(root, abs)
		if err != nil {
			return nil, err
		}
		pat := "./" + filepath.ToSlash(rel)
		if rel == "." {
			pat = "."
		}
		if rec {
			pat = strings.TrimSuffix(pat, "/.") + "/..."
			if rel == "." {
				pat = "./..."
			}
		}
		out[root] = append(out[root], pat)
	}
	return out, nil
}

func runMain(args []string, stdout, stderr io.Writer) int {
	fl := flag.NewFlagSet("threadmon-migrate", flag.ContinueOnError)
	fl.SetOutput(stderr)
	r := &run{stdout: stdout, stderr: stderr}
	fl.BoolVar(&r.write, "w", false, "write the rewritten files instead of printing a diff")
	fl.BoolVar(&r.name, "name", false, `name locks stored in a field of a named struct type by a constructor after it: threading.NewMutex(threading.WithName("T.f"))`)
	fl.Usage = func() {
		fmt.Fprintf(stderr, "usage: threadmon-migrate [-w] [-name] PATH...\n\nPATH is a package directory or dir/... (see go doc for what is refused).\n\n")
		fl.PrintDefaults()
	}
	if err := fl.Parse(args); err != nil {
		return 2
	}
	if fl.NArg() == 0 {
		fl.Usage()
		return 2
	}
	mods, err := modulePatterns(fl.Args())
	if err != nil {
		fmt.Fprintf(stderr, "threadmon-migrate: %v\n", err)
		return 2
	}
	var roots []string
	for root := range mods {
		roots = append(roots, root)
	}
	sort.Strings(roots)
	status := 0
	for _, root := range roots {
		s := r.module(root, mods[root])
		if s > status {
			status = s
		}
	}
	return status
}

func (r *run) module(root string, patterns []string) int {
	fset := token.NewFileSet()
	m, err := loadModule(fset, root, patterns)
	if err == nil && len(m.units) == 0 {
		err = fmt.Errorf("no packages to rewrite in %s (the packages of %s itself are never rewritten)", strings.Join(patterns, " "), threadmonModule)
	}
	if err != nil {
		fmt.Fprintf(r.stderr, "threadmon-migrate: %v\n", err)
		return 2
	}
	mg, err := newMigration(m, r.name)
	if err != nil {
		fmt.Fprintf(r.stderr, "threadmon-migrate: %s: %v\n", root, err)
		return 2
	}
	mg.converge()
	status, rewrote := 0, 0
	for _, f := range mg.files {
		if !f.active {
			continue
		}
		out, err := mg.render(f)
		if err != nil {
			fmt.Fprintf(r.stderr, "threadmon-migrate: %v\n", err)
			status = 2
			continue
		}
		if bytes.Equal(out, f.src) {
			continue
		}
		rewrote++
		if r.write {
			st, err := os.Stat(f.name)
			if err == nil {
				err = os.WriteFile(f.name, out, st.Mode().Perm())
			}
			if err != nil {
				fmt.Fprintf(r.stderr, "threadmon-migrate: %v\n", err)
				status = 2
			}
			continue
		}
		name := filepath.ToSlash(relPath(f.name))
		r.stdout.Write(unifiedDiff(name+".orig", name, f.src, out))
	}
	sort.SliceStable(mg.problems, func(i, j int) bool {
		a, b := fset.Position(mg.problems[i].pos), fset.Position(mg.problems[j].pos)
		if a.Filename != b.Filename {
			return a.Filename < b.Filename
		}
		return a.Offset < b.Offset
	})
	var lines []string
	for _, p := range mg.problems {
		var left []string
		for _, f := range p.blame {
			left = append(left, filepath.Base(f.name))
		}
		lines = append(lines, fmt.Sprintf("%s: %s (left unchanged: %s)", mg.pos(p.pos), p.msg, strings.Join(left, ", ")))
	}
	seen := map[string]bool{}
	for _, l := range lines {
		if seen[l] {
			continue
		}
		seen[l] = true
		fmt.Fprintln(r.stderr, l)
	}
	notes := append([]string(nil), mg.notes...)
	sort.Strings(notes)
	for _, n := range dedupe(notes) {
		fmt.Fprintln(r.stderr, n)
	}
	if r.write && rewrote > 0 {
		fmt.Fprintf(r.stderr, "threadmon-migrate: rewrote %d file(s)\n", rewrote)
	}
	if len(mg.problems) > 0 && status == 0 {
		status = 1
	}
	return status
}
