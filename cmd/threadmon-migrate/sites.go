package main

import (
	"fmt"
	"go/ast"
	"go/build/constraint"
	"go/parser"
	"go/token"
	"go/types"
	"reflect"
	"strconv"
	"strings"
)

// convertible are the names rewritten, by import path.
var convertible = map[string]map[string]bool{
	"sync": {"Mutex": true, "RWMutex": true, "Cond": true, "WaitGroup": true, "Once": true,
		"OnceFunc": true, "OnceValue": true, "OnceValues": true, "NewCond": true},
	errgroupPath: {"Group": true, "WithContext": true},
}

// constructors name a zero value's named constructor in threading (-name).
var constructors = map[string]string{
	"Mutex": "NewMutex", "RWMutex": "NewRWMutex", "WaitGroup": "NewWaitGroup", "Once": "NewOnce", "Group": "NewGroup",
}

// srcFile is one Go file of the packages being rewritten.
type srcFile struct {
	name  string
	src   []byte
	ast   *ast.File
	units []*unit

	sites   []*site
	static  []*problem // found before rewriting: the file is left alone
	active  bool       // its rewrites are applied
	applied bool
	tname   string                  // threading's name in the file
	hasThr  bool                    // the file imports threading already
	uses    map[*ast.ImportSpec]int // uses of each sync or errgroup import
	specOf  map[*ast.Ident]*ast.ImportSpec
	parents map[ast.Node]ast.Node
}

// site is one rewrite: a use of sync or errgroup, with what replaces it.
type site struct {
	pos    token.Pos
	spec   *ast.ImportSpec // the import the site used
	apply  func()
	revert func()
}

func (f *srcFile) setActive(on bool) {
	if on == f.applied {
		return
	}
	if on {
		for _, s := range f.sites {
			s.apply()
		}
	} else {
		for i := len(f.sites) - 1; i >= 0; i-- {
			f.sites[i].revert()
		}
	}
	f.applied = on
}

func buildParents(f *ast.File) map[ast.Node]ast.Node {
	parents := map[ast.Node]ast.Node{}
	var stack []ast.Node
	ast.Inspect(f, func(n ast.Node) bool {
		if n == nil {
			stack = stack[:len(stack)-1]
			return false
		}
		if len(stack) > 0 {
			parents[n] = stack[len(stack)-1]
		}
		stack = append(stack, n)
		return true
	})
	return parents
}

// replaceChild replaces the expression old by repl in parent's fields.
func replaceChild(parent ast.Node, old, repl ast.Expr) {
	v := reflect.ValueOf(parent).Elem()
	for i := 0; i < v.NumField(); i++ {
		fv := v.Field(i)
		switch fv.Kind() {
		case reflect.Interface:
			if !fv.IsNil() && fv.Interface() == any(old) {
				fv.Set(reflect.ValueOf(repl))
				return
			}
		case reflect.Slice:
			for j := 0; j < fv.Len(); j++ {
				e := fv.Index(j)
				if e.Kind() == reflect.Interface && !e.IsNil() && e.Interface() == any(old) {
					e.Set(reflect.ValueOf(repl))
					return
				}
			}
		}
	}
	panic(fmt.Sprintf("threadmon-migrate: %T is not a child of %T", old, parent))
}

func ident(name string, pos token.Pos) *ast.Ident { return &ast.Ident{Name: name, NamePos: pos} }

// analyzer finds the sites of the files of one module.
type analyzer struct {
	m          *module
	nameFields bool
	owner      map[*types.Var]*types.TypeName // struct fields of named types
	afterOwner map[*types.Var]*types.TypeName
}

func (a *analyzer) pkgScopes(f *srcFile) []*types.Scope {
	var out []*types.Scope
	for _, u := range f.units {
		if u.beforePkg != nil {
			out = append(out, u.beforePkg.Scope())
		}
	}
	return out
}

// chooseName picks the name threading is imported under in f.
func (a *analyzer) chooseName(f *srcFile) {
	for _, spec := range f.ast.Imports {
		p, _ := strconv.Unquote(spec.Path.Value)
		if p != threadingPath {
			continue
		}
		if spec.Name == nil {
			f.tname, f.hasThr = "threading", true
			return
		}
		if spec.Name.Name != "_" && spec.Name.Name != "." {
			f.tname, f.hasThr = spec.Name.Name, true
			return
		}
	}
	used := map[string]bool{}
	ast.Inspect(f.ast, func(n ast.Node) bool {
		if id, ok := n.(*ast.Ident); ok {
			used[id.Name] = true
		}
		return true
	})
	for i := 1; ; i++ {
		name := "threading"
		if i > 1 {
			name = fmt.Sprintf("threading%d", i)
		}
		free := !used[name]
		for _, s := range a.pkgScopes(f) {
			if s.Lookup(name) != nil {
				free = false
			}
		}
		if free {
			f.tname = name
			return
		}
	}
}

// analyze finds the sites in f with the types of its first unit, and the
// reasons, if any, it cannot be rewritten.
func (a *analyzer) analyze(f *srcFile) {
	u := f.units[0]
	info := u.before
	f.parents = buildParents(f.ast)
	f.uses = map[*ast.ImportSpec]int{}
	f.specOf = map[*ast.Ident]*ast.ImportSpec{}
	byPkgName := map[types.Object]*ast.ImportSpec{}
	for _, spec := range f.ast.Imports {
		var obj types.Object
		if spec.Name != nil {
			obj = info.Defs[spec.Name]
		}
		if obj == nil {
			obj = info.Implicits[spec]
		}
		if obj != nil {
			byPkgName[obj] = spec
		}
	}
	a.chooseName(f)
	ast.Inspect(f.ast, func(n ast.Node) bool {
		id, ok := n.(*ast.Ident)
		if !ok {
			return true
		}
		obj := info.Uses[id]
		if pn, ok := obj.(*types.PkgName); ok {
			if convertible[pn.Imported().Path()] != nil {
				if spec := byPkgName[pn]; spec != nil {
					f.uses[spec]++
					f.specOf[id] = spec
				}
			}
			return true
		}
		// A dot import: the name is used unqualified.
		if obj != nil && obj.Pkg() != nil && convertible[obj.Pkg().Path()][obj.Name()] && obj.Parent() == obj.Pkg().Scope() {
			if sel, ok := f.parents[id].(*ast.SelectorExpr); !ok || sel.Sel != id {
				a.refuse(f, id.Pos(), "%s.%s is used through a dot import: import %q by name to convert this file", obj.Pkg().Name(), obj.Name(), obj.Pkg().Path())
			}
		}
		return true
	})
	ast.Inspect(f.ast, func(n ast.Node) bool {
		sel, ok := n.(*ast.SelectorExpr)
		if !ok {
			return true
		}
		x, ok := sel.X.(*ast.Ident)
		if !ok {
			return true
		}
		pn, ok := info.Uses[x].(*types.PkgName)
		if !ok || !convertible[pn.Imported().Path()][sel.Sel.Name] {
			return true
		}
		a.site(f, sel, pn.Imported().Path(), pn.Imported().Name())
		return false
	})
	if len(f.sites) > 0 && ast.IsGenerated(f.ast) {
		a.refuse(f, f.ast.Package, "generated file: regenerate it from a converted source instead")
	}
	if len(f.sites) > 0 && a.m.cgo[u.path] {
		a.refuse(f, f.ast.Package, "package %s uses cgo, which the tool does not type-check", u.path)
	}
}

func (a *analyzer) refuse(f *srcFile, pos token.Pos, format string, args ...any) {
	f.static = append(f.static, &problem{pos: pos, msg: fmt.Sprintf(format, args...), file: f})
}

// site records the rewrite of sel (pkg.Name) or why it cannot be done.
func (a *analyzer) site(f *srcFile, sel *ast.SelectorExpr, path, pkgName string) {
	x := sel.X.(*ast.Ident)
	name := sel.Sel.Name
	qual := pkgName + "." + name
	s := &site{pos: sel.Pos(), spec: f.specOf[x]}
	parent := f.parents[sel]

	// Type assertions and type switches see the dynamic type: a value made
	// by code that is not rewritten would stop matching, or the reverse.
	child := ast.Node(sel)
	for p := parent; p != nil; child, p = p, f.parents[p] {
		if ta, ok := p.(*ast.TypeAssertExpr); ok && ta.Type == child {
			a.refuse(f, sel.Pos(), "type assertion to a type with %s: values made by code that is not rewritten would no longer match (or the reverse); convert it by hand", qual)
			return
		}
		if cc, ok := p.(*ast.CaseClause); ok {
			if _, ts := f.parents[f.parents[cc]].(*ast.TypeSwitchStmt); ts {
				for _, e := range cc.List {
					if e == child {
						a.refuse(f, sel.Pos(), "type switch case on a type with %s: values made by code that is not rewritten would no longer match (or the reverse); convert it by hand", qual)
						return
					}
				}
			}
		}
		if _, ok := p.(ast.Stmt); ok {
			break
		}
		if _, ok := p.(ast.Decl); ok {
			break
		}
	}

	oldX, oldSel := x.Name, sel.Sel.Name
	rename := func() {
		s.apply = func() {
			x.Name = f.tname
			if name == "WithContext" {
				sel.Sel.Name = "GroupWithContext"
			}
		}
		s.revert = func() { x.Name, sel.Sel.Name = oldX, oldSel }
	}
	replace := func(old ast.Expr, repl ast.Expr) {
		p := f.parents[old]
		s.apply = func() { replaceChild(p, old, repl) }
		s.revert = func() { replaceChild(p, repl, old) }
	}
	call := func(pos token.Pos, fn string, args ...ast.Expr) *ast.CallExpr {
		return &ast.CallExpr{Fun: &ast.SelectorExpr{X: ident(f.tname, pos), Sel: ident(fn, pos)}, Lparen: pos, Args: args, Rparen: pos}
	}
	withName := func(pos token.Pos, n string) ast.Expr {
		return call(pos, "WithName", &ast.BasicLit{ValuePos: pos, Kind: token.STRING, Value: strconv.Quote(n)})
	}

	switch {
	case name == "Cond":
		switch p := parent.(type) {
		case *ast.StarExpr:
			rename()
		case *ast.CompositeLit:
			if p.Type != sel {
				a.refuse(f, sel.Pos(), "a %s held by value: threading.Cond's zero value panics on use and NewCond returns a pointer; make it a *%s set with %s.NewCond", qual, qual, pkgName)
				return
			}
			amp, ok := f.parents[p].(*ast.UnaryExpr)
			if !ok || amp.Op != token.AND {
				a.refuse(f, sel.Pos(), "%s{...} is a Cond value: threading.Cond must be made by threading.NewCond (its zero value panics on use) and not copied; write %s.NewCond(l) or &%s{L: l}", qual, pkgName, qual)
				return
			}
			var l ast.Expr
			if len(p.Elts) == 1 {
				if kv, ok := p.Elts[0].(*ast.KeyValueExpr); ok {
					if k, ok := kv.Key.(*ast.Ident); ok && k.Name == "L" {
						l = kv.Value
					}
				}
			}
			if l == nil {
				a.refuse(f, sel.Pos(), "&%s{} has no L: threading.Cond's zero value panics on use, so it must be made by threading.NewCond(l) with its Locker; write &%s{L: l}", qual, qual)
				return
			}
			args := []ast.Expr{l}
			if n := a.fieldName(f, amp); n != "" {
				args = append(args, withName(p.Rbrace, n))
			}
			c := call(amp.OpPos, "NewCond", args...)
			c.Lparen, c.Rparen = p.Lbrace, p.Rbrace
			replace(amp, c)
		case *ast.CallExpr:
			if a.isNew(f, p) {
				a.refuse(f, sel.Pos(), "new(%s) makes a zero Cond: threading.Cond's zero value panics on use; write %s.NewCond(l)", qual, pkgName)
				return
			}
			a.refuse(f, sel.Pos(), "%s is used by value here: threading.Cond must be made by threading.NewCond (its zero value panics on use) and not copied", qual)
			return
		default:
			a.refuse(f, sel.Pos(), "a %s held by value (a variable, field or element): threading.Cond's zero value panics on use and NewCond returns a pointer; make it a *%s set with %s.NewCond", qual, qual, pkgName)
			return
		}
	case constructors[name] != "" && a.nameFields:
		// new(sync.Mutex) or &sync.Mutex{} stored in a field of a named
		// struct type: threading.NewMutex(threading.WithName("T.f")).
		var ctor ast.Expr
		if c, ok := parent.(*ast.CallExpr); ok && a.isNew(f, c) {
			ctor = c
		} else if lit, ok := parent.(*ast.CompositeLit); ok && len(lit.Elts) == 0 {
			if amp, ok := f.parents[lit].(*ast.UnaryExpr); ok && amp.Op == token.AND {
				ctor = amp
			}
		}
		if ctor != nil {
			if n := a.fieldName(f, ctor); n != "" {
				replace(ctor, call(ctor.Pos(), constructors[name], withName(ctor.Pos(), n)))
				break
			}
		}
		rename()
	case (name == "NewCond" || name == "WithContext") && a.nameFields:
		rename()
		if c, ok := parent.(*ast.CallExpr); ok && c.Fun == sel && !c.Ellipsis.IsValid() {
			if n := a.fieldName(f, c); n != "" {
				inner := s.apply
				innerRevert := s.revert
				args := c.Args
				s.apply = func() {
					inner()
					c.Args = append(append([]ast.Expr(nil), args...), withName(c.Rparen, n))
				}
				s.revert = func() {
					c.Args = args
					innerRevert()
				}
			}
		}
	default:
		rename()
	}
	f.sites = append(f.sites, s)
}

func (a *analyzer) isNew(f *srcFile, c *ast.CallExpr) bool {
	id, ok := c.Fun.(*ast.Ident)
	if !ok || len(c.Args) != 1 {
		return false
	}
	b, ok := f.units[0].before.Uses[id].(*types.Builtin)
	return ok && b.Name() == "new"
}

// fieldName is "T.f" when e is stored in field f of the named struct type T
// declared in a package being rewritten: a composite literal's element or
// the first right-hand side of an assignment to x.f.
func (a *analyzer) fieldName(f *srcFile, e ast.Expr) string {
	if !a.nameFields {
		return ""
	}
	info := f.units[0].before
	var field *types.Var
	switch p := f.parents[e].(type) {
	case *ast.KeyValueExpr:
		if p.Value != e {
			return ""
		}
		if k, ok := p.Key.(*ast.Ident); ok {
			field, _ = info.Uses[k].(*types.Var)
		}
	case *ast.AssignStmt:
		if p.Tok != token.ASSIGN {
			return ""
		}
		for i, r := range p.Rhs {
			if r != e || i >= len(p.Lhs) {
				continue
			}
			if sel, ok := p.Lhs[i].(*ast.SelectorExpr); ok {
				if s := info.Selections[sel]; s != nil && s.Kind() == types.FieldVal {
					field, _ = s.Obj().(*types.Var)
				}
			}
		}
	}
	if field == nil || !field.IsField() {
		return ""
	}
	if tn := a.owner[field]; tn != nil {
		return tn.Name() + "." + field.Name()
	}
	return ""
}

// ignoredUses reports, for a file excluded by build constraints, where it
// names a type or function that would be converted.
func ignoredUses(fset *token.FileSet, name string) (string, error) {
	af, err := parser.ParseFile(fset, name, nil, parser.ParseComments|parser.SkipObjectResolution)
	if err != nil {
		return "", err
	}
	for _, cg := range af.Comments {
		if cg.Pos() > af.Package {
			break
		}
		for _, c := range cg.List {
			if constraint.IsGoBuild(c.Text) {
				if x, err := constraint.Parse(c.Text); err == nil && strings.Contains(x.String(), "ignore") {
					return "", nil // a program run by go run or go generate
				}
			}
		}
	}
	names := map[string]string{}
	for _, spec := range af.Imports {
		p, _ := strconv.Unquote(spec.Path.Value)
		if convertible[p] == nil {
			continue
		}
		n := p[strings.LastIndex(p, "/")+1:]
		if spec.Name != nil {
			n = spec.Name.Name
		}
		names[n] = p
	}
	found := ""
	ast.Inspect(af, func(n ast.Node) bool {
		if sel, ok := n.(*ast.SelectorExpr); ok && found == "" {
			if x, ok := sel.X.(*ast.Ident); ok && convertible[names[x.Name]][sel.Sel.Name] {
				found = fmt.Sprintf("%s: %s.%s", fset.Position(sel.Pos()), x.Name, sel.Sel.Name)
			}
		}
		return found == ""
	})
	return found, nil
}
