package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"go/ast"
	"go/build"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
)

const (
	threadingPath = "github.com/threadmon/threadmon/threading"
	errgroupPath  = "golang.org/x/sync/errgroup"

	threadmonModule = "github.com/threadmon/threadmon"
)

// listPkg is the part of `go list -json` the tool reads.
type listPkg struct {
	ImportPath     string
	Name           string
	Dir            string
	Export         string
	ForTest        string
	DepOnly        bool
	Standard       bool
	GoFiles        []string
	CgoFiles       []string
	IgnoredGoFiles []string
	ImportMap      map[string]string
	Imports        []string
	Deps           []string
	Module         *struct{ Path, Dir, GoVersion string }
	Error          *struct{ Err string }
	DepsErrors     []*struct{ Err string }
}

// unit is one package as the compiler sees it: a package, its in-package
// test variant ("p [p.test]") or its external test package. Units share the
// syntax of the files they have in common.
type unit struct {
	id        string // go list's ImportPath, e.g. "p [p.test]"
	path      string // p
	name      string
	dir       string
	goVersion string
	importMap map[string]string
	files     []*srcFile
	test      bool

	before     *types.Info
	beforePkg  *types.Package
	after      *types.Info
	afterPkg   *types.Package
	afterErrs  []types.Error
	beforeErrs []types.Error
}

// module is the set of units loaded from one Go module.
type module struct {
	root     string
	units    []*unit // in dependency order
	byID     map[string]*unit
	targets  map[string]bool // base import paths being rewritten
	exports  map[string]string
	gc       types.Importer
	ignored  map[string][]string // base path -> ignored files (absolute)
	cgo      map[string]bool
	sizes    types.Sizes
	fset     *token.FileSet
	files    map[string]*srcFile
	listPkgs map[string]*listPkg
}

// goList runs `go list -e -json` with args in dir.
func goList(dir string, args ...string) ([]*listPkg, error) {
	cmd := exec.Command("go", append([]string{"list", "-e", "-json"}, args...)...)
	cmd.Dir = dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("go list %s: %v\n%s", strings.Join(args, " "), err, stderr.Bytes())
	}
	var out []*listPkg
	dec := json.NewDecoder(&stdout)
	for {
		p := new(listPkg)
		if err := dec.Decode(p); err == io.EOF {
			break
		} else if err != nil {
			return nil, fmt.Errorf("go list: %v", err)
		}
		out = append(out, p)
	}
	return out, nil
}

// baseID strips a test variant's bracket: "p [p.test]" -> "p".
func baseID(id string) string {
	if i := strings.Index(id, " ["); i >= 0 {
		return id[:i]
	}
	return id
}

// loadModule lists the packages matching patterns (relative to root) with
// their tests, the export data of everything they import, and parses the
// files of the packages to rewrite.
func loadModule(fset *token.FileSet, root string, patterns []string) (*module, error) {
	pkgs, err := goList(root, append([]string{"-deps", "-test", "-export"}, patterns...)...)
	if err != nil {
		return nil, err
	}
	thr, err := goList(root, "-export", threadingPath)
	if err != nil {
		return nil, err
	}
	if len(thr) != 1 || thr[0].Error != nil || thr[0].Export == "" {
		msg := "no export data"
		if len(thr) == 1 && thr[0].Error != nil {
			msg = thr[0].Error.Err
		}
		return nil, fmt.Errorf("%s cannot import %s (%s);\n\trun `go get %s` in that module first", root, threadingPath, strings.TrimSpace(msg), threadingPath)
	}
	m := &module{
		root:     root,
		byID:     map[string]*unit{},
		targets:  map[string]bool{},
		exports:  map[string]string{threadingPath: thr[0].Export},
		ignored:  map[string][]string{},
		cgo:      map[string]bool{},
		fset:     fset,
		files:    map[string]*srcFile{},
		listPkgs: map[string]*listPkg{},
	}
	arch := build.Default.GOARCH
	m.sizes = types.SizesFor("gc", arch)
	// Never rewrite threading, what it is built from, or the rest of
	// threadmon, which observes it.
	never := map[string]bool{threadingPath: true}
	for _, p := range pkgs {
		if p.Module != nil && p.Module.Path == threadmonModule {
			never[p.ImportPath] = true
		}
	}
	for _, p := range pkgs {
		if baseID(p.ImportPath) == threadingPath {
			for _, d := range p.Deps {
				never[baseID(d)] = true
			}
		}
	}
	listed := map[string]bool{}
	for _, p := range pkgs {
		listed[p.ImportPath] = true
	}
	testMain := func(p *listPkg) bool {
		return p.Name == "main" && strings.HasSuffix(p.ImportPath, ".test") && listed[strings.TrimSuffix(p.ImportPath, ".test")]
	}
	roots := map[string]bool{}
	for _, p := range pkgs {
		m.listPkgs[p.ImportPath] = p
		if p.Export != "" {
			if _, ok := m.exports[p.ImportPath]; !ok {
				m.exports[p.ImportPath] = p.Export
			}
		}
		if !p.DepOnly && p.ForTest == "" && !never[p.ImportPath] && !p.Standard && !testMain(p) {
			roots[p.ImportPath] = true
		}
	}
	var errs []string
	for _, p := range pkgs {
		base := baseID(p.ImportPath)
		if testMain(p) || (!roots[base] && !roots[p.ForTest]) {
			continue
		}
		if p.Error != nil {
			errs = append(errs, p.Error.Err)
			continue
		}
		for _, e := range p.DepsErrors {
			errs = append(errs, e.Err)
		}
		m.targets[base] = true // an external test package too
		u := &unit{
			id:        p.ImportPath,
			path:      base,
			name:      p.Name,
			dir:       p.Dir,
			importMap: p.ImportMap,
			test:      p.ForTest != "",
			goVersion: "go1.21",
		}
		if p.Module != nil && p.Module.GoVersion != "" {
			u.goVersion = "go" + p.Module.GoVersion
		}
		if len(p.CgoFiles) > 0 {
			m.cgo[base] = true
		}
		if p.ForTest == "" {
			for _, f := range p.IgnoredGoFiles {
				m.ignored[base] = append(m.ignored[base], filepath.Join(p.Dir, f))
			}
		}
		for _, name := range append(append([]string(nil), p.GoFiles...), p.CgoFiles...) {
			abs := name
			if !filepath.IsAbs(name) {
				abs = filepath.Join(p.Dir, name)
			}
			f, err := m.parse(abs)
			if err != nil {
				return nil, err
			}
			f.units = append(f.units, u)
			u.files = append(u.files, f)
		}
		m.units = append(m.units, u)
		m.byID[u.id] = u
	}
	if len(errs) > 0 {
		sort.Strings(errs)
		return nil, fmt.Errorf("the packages do not build; fix that first:\n\t%s", strings.Join(dedupe(errs), "\n\t"))
	}
	// A package outside the patterns that imports one being rewritten, and
	// is imported by one, would see both versions of its types.
	for _, u := range m.units {
		for _, imp := range u.importMap {
			m.checkSandwich(u, imp, &errs)
		}
		if p := m.listPkgs[u.id]; p != nil {
			for _, imp := range p.Imports {
				m.checkSandwich(u, imp, &errs)
			}
		}
	}
	if len(errs) > 0 {
		sort.Strings(errs)
		return nil, errors.New(strings.Join(dedupe(errs), "\n"))
	}
	m.gc = importer.ForCompiler(fset, "gc", func(path string) (io.ReadCloser, error) {
		exp, ok := m.exports[path]
		if !ok {
			return nil, fmt.Errorf("no export data for %q", path)
		}
		return os.Open(exp)
	})
	return m, nil
}

func (m *module) checkSandwich(u *unit, imp string, errs *[]string) {
	if m.byID[imp] != nil || m.targets[baseID(imp)] {
		return
	}
	p := m.listPkgs[imp]
	if p == nil {
		return
	}
	for _, d := range p.Deps {
		if m.targets[baseID(d)] {
			*errs = append(*errs, fmt.Sprintf("%s imports %s, which imports %s: add %s to the patterns (it must be rewritten with them)", u.path, baseID(imp), baseID(d), baseID(imp)))
			return
		}
	}
}

func dedupe(s []string) []string {
	var out []string
	for i, x := range s {
		if i == 0 || x != s[i-1] {
			out = append(out, x)
		}
	}
	return out
}

func (m *module) parse(abs string) (*srcFile, error) {
	if f, ok := m.files[abs]; ok {
		return f, nil
	}
	src, err := os.ReadFile(abs)
	if err != nil {
		return nil, err
	}
	af, err := parser.ParseFile(m.fset, abs, src, parser.ParseComments|parser.SkipObjectResolution)
	if err != nil {
		return nil, err
	}
	f := &srcFile{name: abs, src: src, ast: af}
	m.files[abs] = f
	return f, nil
}

type importerFunc func(path string) (*types.Package, error)

func (f importerFunc) Import(path string) (*types.Package, error) { return f(path) }

// checkAll type-checks every unit from source, in dependency order; a unit
// importing another gets the one just checked.
func (m *module) checkAll(after bool) {
	checked := map[string]*types.Package{}
	for _, u := range m.units {
		info := &types.Info{
			Types:      map[ast.Expr]types.TypeAndValue{},
			Defs:       map[*ast.Ident]types.Object{},
			Uses:       map[*ast.Ident]types.Object{},
			Implicits:  map[ast.Node]types.Object{},
			Selections: map[*ast.SelectorExpr]*types.Selection{},
		}
		var errs []types.Error
		conf := types.Config{
			GoVersion: u.goVersion,
			Sizes:     m.sizes,
			Error: func(err error) {
				if te, ok := err.(types.Error); ok {
					errs = append(errs, te)
				}
			},
			Importer: importerFunc(func(path string) (*types.Package, error) {
				if path == "unsafe" {
					return types.Unsafe, nil
				}
				id := path
				if mapped, ok := u.importMap[path]; ok {
					id = mapped
				}
				if p := checked[id]; p != nil {
					return p, nil
				}
				if m.byID[id] != nil {
					return nil, fmt.Errorf("%s is checked after %s", id, u.id)
				}
				return m.gc.Import(id)
			}),
		}
		files := make([]*ast.File, len(u.files))
		for i, f := range u.files {
			files[i] = f.ast
		}
		pkg, _ := conf.Check(u.path, m.fset, files, info)
		checked[u.id] = pkg
		if after {
			u.after, u.afterPkg, u.afterErrs = info, pkg, errs
		} else {
			u.before, u.beforePkg, u.beforeErrs = info, pkg, errs
		}
	}
}
