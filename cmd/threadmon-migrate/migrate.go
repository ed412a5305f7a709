package main

import (
	"fmt"
	"go/ast"
	"go/token"
	"go/types"
	"sort"
	"strconv"
	"strings"
)

// problem is a reason not to rewrite: where, why, and the files left
// unchanged because of it.
type problem struct {
	pos   token.Pos
	msg   string
	file  *srcFile
	blame []*srcFile
}

// migration rewrites one module's packages.
type migration struct {
	m        *module
	a        *analyzer
	files    []*srcFile // files with sites, sorted
	byTok    map[*token.File]*srcFile
	beforeAt map[token.Pos]types.Object
	problems []*problem
	notes    []string
}

func newMigration(m *module, nameFields bool) (*migration, error) {
	mg := &migration{m: m, byTok: map[*token.File]*srcFile{}, beforeAt: map[token.Pos]types.Object{}}
	m.checkAll(false)
	var errs []string
	for _, u := range m.units {
		for _, e := range u.beforeErrs {
			errs = append(errs, e.Error())
		}
	}
	if len(errs) > 0 {
		sort.Strings(errs)
		return nil, fmt.Errorf("the packages do not type-check; fix that first:\n\t%s", strings.Join(dedupe(errs), "\n\t"))
	}
	a := &analyzer{m: m, nameFields: nameFields, owner: map[*types.Var]*types.TypeName{}}
	mg.a = a
	for _, u := range m.units {
		for id, obj := range u.before.Defs {
			if obj == nil {
				continue
			}
			if _, ok := obj.(*types.PkgName); !ok {
				mg.beforeAt[id.Pos()] = obj
			}
			tn, ok := obj.(*types.TypeName)
			if !ok || tn.IsAlias() {
				continue
			}
			if st, ok := tn.Type().Underlying().(*types.Struct); ok {
				for i := 0; i < st.NumFields(); i++ {
					a.owner[st.Field(i)] = tn
				}
			}
		}
	}
	var names []string
	for name := range m.files {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		f := m.files[name]
		mg.byTok[m.fset.File(f.ast.Pos())] = f
		a.analyze(f)
		if len(f.sites) > 0 || len(f.static) > 0 {
			mg.files = append(mg.files, f)
		}
	}
	// Files excluded by build constraints cannot be type-checked here.
	for path, ignored := range m.ignored {
		for _, name := range ignored {
			where, err := ignoredUses(token.NewFileSet(), name)
			if err != nil || where == "" {
				continue
			}
			for _, f := range mg.files {
				if f.units[0].path == path && len(f.sites) > 0 {
					a.refuse(f, f.ast.Package, "package %s has a file excluded by build constraints that names a converted type (%s); it cannot be type-checked here, so the package is left alone", path, where)
				}
			}
		}
	}
	for _, f := range mg.files {
		f.active = len(f.static) == 0 && len(f.sites) > 0
		for _, p := range f.static {
			p.blame = []*srcFile{f}
			mg.problems = append(mg.problems, p)
		}
	}
	return mg, nil
}

// typeKey spells t with package paths and aliases resolved. deep expands the
// named types of the packages being rewritten, so that a struct whose field
// changes changes too.
func (mg *migration) typeKey(t types.Type, deep bool) string {
	var b strings.Builder
	mg.writeKey(&b, t, deep, map[*types.TypeName]bool{})
	return b.String()
}

func (mg *migration) writeKey(b *strings.Builder, t types.Type, deep bool, seen map[*types.TypeName]bool) {
	switch t := types.Unalias(t).(type) {
	case *types.Named:
		obj := t.Obj()
		if obj.Pkg() != nil {
			b.WriteString(obj.Pkg().Path() + ".")
		}
		b.WriteString(obj.Name())
		if args := t.TypeArgs(); args != nil {
			b.WriteString("[")
			for i := 0; i < args.Len(); i++ {
				mg.writeKey(b, args.At(i), deep, seen)
				b.WriteString(",")
			}
			b.WriteString("]")
		}
		if deep && obj.Pkg() != nil && mg.m.targets[obj.Pkg().Path()] && !seen[t.Origin().Obj()] {
			seen[t.Origin().Obj()] = true
			b.WriteString("{")
			mg.writeKey(b, t.Underlying(), deep, seen)
			b.WriteString("}")
		}
	case *types.Pointer:
		b.WriteString("*")
		mg.writeKey(b, t.Elem(), deep, seen)
	case *types.Slice:
		b.WriteString("[]")
		mg.writeKey(b, t.Elem(), deep, seen)
	case *types.Array:
		fmt.Fprintf(b, "[%d]", t.Len())
		mg.writeKey(b, t.Elem(), deep, seen)
	case *types.Map:
		b.WriteString("map[")
		mg.writeKey(b, t.Key(), deep, seen)
		b.WriteString("]")
		mg.writeKey(b, t.Elem(), deep, seen)
	case *types.Chan:
		fmt.Fprintf(b, "chan(%d) ", t.Dir())
		mg.writeKey(b, t.Elem(), deep, seen)
	case *types.Struct:
		b.WriteString("struct{")
		for i := 0; i < t.NumFields(); i++ {
			fl := t.Field(i)
			fmt.Fprintf(b, "%s %v ", fl.Name(), fl.Embedded())
			mg.writeKey(b, fl.Type(), deep, seen)
			b.WriteString(";")
		}
		b.WriteString("}")
	case *types.Signature:
		b.WriteString("func(")
		mg.writeKey(b, t.Params(), deep, seen)
		fmt.Fprintf(b, ")%v(", t.Variadic())
		mg.writeKey(b, t.Results(), deep, seen)
		b.WriteString(")")
	case *types.Tuple:
		for i := 0; i < t.Len(); i++ {
			mg.writeKey(b, t.At(i).Type(), deep, seen)
			b.WriteString(",")
		}
	case *types.Interface:
		b.WriteString("interface{")
		for i := 0; i < t.NumMethods(); i++ {
			b.WriteString(t.Method(i).Name())
			mg.writeKey(b, t.Method(i).Type(), deep, seen)
			b.WriteString(";")
		}
		for i := 0; i < t.NumEmbeddeds(); i++ {
			mg.writeKey(b, t.EmbeddedType(i), deep, seen)
			b.WriteString(";")
		}
		b.WriteString("}")
	case nil:
		b.WriteString("nil")
	default:
		b.WriteString(t.String())
	}
}

func (mg *migration) changed(before, after types.Type, deep bool) bool {
	if before == nil || after == nil {
		return before != after
	}
	return mg.typeKey(before, deep) != mg.typeKey(after, deep)
}

// objChanged reports whether obj (of the rewritten code) has another type
// than before.
func (mg *migration) objChanged(obj types.Object, deep bool) bool {
	b := mg.beforeAt[obj.Pos()]
	if b == nil || b.Name() != obj.Name() {
		return false
	}
	if tn, ok := obj.(*types.TypeName); ok && !tn.IsAlias() {
		return deep && mg.changed(b.Type(), obj.Type(), true)
	}
	return mg.changed(b.Type(), obj.Type(), deep)
}

func (mg *migration) fileOf(pos token.Pos) *srcFile {
	return mg.byTok[mg.m.fset.File(pos)]
}

// check applies the active files' rewrites, type-checks everything again
// and returns what is wrong.
func (mg *migration) check() []*problem {
	mg.notes = nil
	var added []*srcFile
	for _, f := range mg.files {
		f.setActive(f.active)
		if f.active && !f.hasThr {
			spec := &ast.ImportSpec{Path: &ast.BasicLit{Kind: token.STRING, Value: strconv.Quote(threadingPath)}}
			if f.tname != "threading" {
				spec.Name = ident(f.tname, token.NoPos)
			}
			f.ast.Decls = append([]ast.Decl{&ast.GenDecl{Tok: token.IMPORT, Specs: []ast.Spec{spec}}}, f.ast.Decls...)
			added = append(added, f)
		}
	}
	mg.m.checkAll(true)
	for _, f := range added {
		f.ast.Decls = f.ast.Decls[1:]
	}
	seen := map[string]bool{}
	var out []*problem
	add := func(u *unit, pos token.Pos, format string, args ...any) {
		msg := fmt.Sprintf(format, args...)
		key := fmt.Sprint(mg.m.fset.Position(pos), msg)
		if seen[key] {
			return
		}
		seen[key] = true
		out = append(out, &problem{pos: pos, msg: msg, file: mg.fileOf(pos)})
	}
	for _, u := range mg.m.units {
		errs := 0
		for _, e := range u.afterErrs {
			if strings.Contains(e.Msg, " imported") && strings.HasSuffix(e.Msg, "and not used") &&
				(strings.HasPrefix(e.Msg, `"sync"`) || strings.HasPrefix(e.Msg, strconv.Quote(errgroupPath))) {
				continue
			}
			errs++
			add(u, e.Pos, "once converted: %s", e.Msg)
		}
		if errs > 0 {
			continue
		}
		mg.rules(u, add)
	}
	return out
}

// rules finds what compiles once converted but behaves differently.
func (mg *migration) rules(u *unit, add func(*unit, token.Pos, string, ...any)) {
	for _, f := range u.files {
		ast.Inspect(f.ast, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.CallExpr:
				mg.callRule(u, n, add)
			case *ast.TypeSpec:
				mg.embedRule(u, n, add)
			}
			return true
		})
	}
}

func calleeIdent(fun ast.Expr) *ast.Ident {
	switch f := ast.Unparen(fun).(type) {
	case *ast.Ident:
		return f
	case *ast.SelectorExpr:
		return f.Sel
	case *ast.IndexExpr:
		return calleeIdent(f.X)
	case *ast.IndexListExpr:
		return calleeIdent(f.X)
	}
	return nil
}

// callRule: reflect and unsafe.Sizeof see the exact type.
func (mg *migration) callRule(u *unit, c *ast.CallExpr, add func(*unit, token.Pos, string, ...any)) {
	// (*sync.Mutex)(unsafe.Pointer(p)) reinterprets memory as the exact type.
	if tv := u.after.Types[c.Fun]; tv.IsType() && len(c.Args) == 1 {
		if bt := u.before.Types[c.Fun]; bt.Type != nil && mg.changed(bt.Type, tv.Type, false) {
			if at := u.after.Types[c.Args[0]].Type; at != nil && types.Identical(at, types.Typ[types.UnsafePointer]) {
				add(u, c.Pos(), "conversion of an unsafe.Pointer to %s: the memory it points to is laid out as the sync type, not the threading one", types.TypeString(tv.Type, shortQual))
			}
		}
		return
	}
	id := calleeIdent(c.Fun)
	if id == nil {
		return
	}
	var what string
	args := append([]ast.Expr(nil), c.Args...)
	switch obj := u.after.Uses[id].(type) {
	case *types.Func:
		if obj.Pkg() == nil || obj.Pkg().Path() != "reflect" || obj.Type().(*types.Signature).Recv() != nil {
			return
		}
		what = "reflect." + obj.Name()
		switch ix := c.Fun.(type) {
		case *ast.IndexExpr:
			args = append(args, ix.Index)
		case *ast.IndexListExpr:
			args = append(args, ix.Indices...)
		}
	case *types.Builtin:
		switch obj.Name() {
		case "Sizeof", "Alignof", "Offsetof":
		default:
			return
		}
		what = "unsafe." + obj.Name()
		if obj.Name() == "Offsetof" && len(args) == 1 {
			if sel, ok := ast.Unparen(args[0]).(*ast.SelectorExpr); ok {
				args = append(args, sel.X)
			}
		}
	default:
		return
	}
	for _, arg := range args {
		bt, at := u.before.Types[arg].Type, u.after.Types[arg].Type
		if bt != nil && at != nil && mg.changed(bt, at, true) {
			add(u, arg.Pos(), "%s is given %s, of type %s, which changes once converted (%s sees the exact type)", what, types.ExprString(arg), types.TypeString(at, shortQual), what)
			return
		}
	}
}

func shortQual(p *types.Package) string { return p.Name() }

// embedRule: a struct embedding threading.Mutex gains its methods; one that
// collides with a method promoted from another field hides both.
func (mg *migration) embedRule(u *unit, ts *ast.TypeSpec, add func(*unit, token.Pos, string, ...any)) {
	st, ok := ts.Type.(*ast.StructType)
	if !ok || ts.Assign.IsValid() {
		return
	}
	embeds := false
	for _, fl := range st.Fields.List {
		if len(fl.Names) == 0 {
			bt, at := u.before.Types[fl.Type].Type, u.after.Types[fl.Type].Type
			if bt != nil && at != nil && mg.changed(bt, at, false) {
				embeds = true
			}
		}
	}
	if !embeds {
		return
	}
	bobj, aobj := u.before.Defs[ts.Name], u.after.Defs[ts.Name]
	if bobj == nil || aobj == nil {
		return
	}
	names := func(t types.Type) map[string]bool {
		ms := types.NewMethodSet(types.NewPointer(t))
		out := map[string]bool{}
		for i := 0; i < ms.Len(); i++ {
			out[ms.At(i).Obj().Name()] = true
		}
		return out
	}
	bm, am := names(bobj.Type()), names(aobj.Type())
	var lost []string
	for n := range bm {
		if !am[n] {
			lost = append(lost, n)
		}
	}
	if len(lost) > 0 {
		sort.Strings(lost)
		add(u, ts.Name.Pos(), "once converted, *%s loses the method(s) %s: threading's embedded type has methods of the same names at the same depth, which makes them ambiguous", ts.Name.Name, strings.Join(lost, ", "))
		return
	}
	if am["String"] && !bm["String"] && !u.test {
		mg.note(ts.Name.Pos(), "*%s gains the String method of the embedded threading type: fmt prints a *%s as the lock", ts.Name.Name, ts.Name.Name)
	}
}

func (mg *migration) note(pos token.Pos, format string, args ...any) {
	mg.notes = append(mg.notes, fmt.Sprintf("%s: note: %s", mg.pos(pos), fmt.Sprintf(format, args...)))
}

// enclosing is the innermost statement, declaration spec or field around
// pos.
func enclosing(f *ast.File, pos token.Pos) ast.Node {
	var best ast.Node
	ast.Inspect(f, func(n ast.Node) bool {
		if n == nil || pos < n.Pos() || pos >= n.End() {
			return false
		}
		switch n.(type) {
		case ast.Stmt, *ast.ValueSpec, *ast.TypeSpec, *ast.Field, *ast.FuncType:
			best = n
		}
		return true
	})
	return best
}

// blame finds the files whose rewrites cause p: those declaring what p's
// statement refers to and changed type, else p's own file.
func (mg *migration) blame(p *problem) []*srcFile {
	if p.file == nil {
		return nil
	}
	node := enclosing(p.file.ast, p.pos)
	if node == nil {
		node = p.file.ast
	}
	for _, deep := range []bool{false, true} {
		set := map[*srcFile]bool{}
		var out []*srcFile
		ast.Inspect(node, func(n ast.Node) bool {
			id, ok := n.(*ast.Ident)
			if !ok {
				return true
			}
			for _, u := range p.file.units {
				obj := u.after.Uses[id]
				if obj == nil {
					obj = u.after.Defs[id]
				}
				if obj == nil || obj.Pkg() == nil || !mg.m.targets[obj.Pkg().Path()] {
					continue
				}
				if _, ok := obj.(*types.PkgName); ok {
					continue
				}
				df := mg.fileOf(obj.Pos())
				if df != nil && df.active && !set[df] && mg.objChanged(obj, deep) {
					set[df] = true
					out = append(out, df)
				}
			}
			return true
		})
		if len(out) > 0 {
			return out
		}
		if !deep && p.file.active {
			return []*srcFile{p.file}
		}
	}
	return nil
}

// converge turns files off until the rewritten code type-checks and no rule
// objects.
func (mg *migration) converge() {
	for {
		probs := mg.check()
		if len(probs) == 0 {
			break
		}
		// Blame against the state that was checked, then turn off.
		for _, p := range probs {
			p.blame = mg.blame(p)
			if len(p.blame) == 0 {
				// Cannot tell which rewrite causes it: leave them all.
				for _, f := range mg.files {
					if f.active {
						p.blame = append(p.blame, f)
					}
				}
				p.msg += " (the tool cannot tell which rewrite causes it)"
			}
		}
		progress := false
		for _, p := range probs {
			for _, f := range p.blame {
				if f.active {
					f.active = false
					progress = true
				}
			}
			mg.problems = append(mg.problems, p)
		}
		if !progress {
			break // cannot happen: a problem with no active file to blame is not caused by a rewrite
		}
	}
	mg.apiNotes()
}

// apiNotes lists exported identifiers whose type changes.
func (mg *migration) apiNotes() {
	seen := map[token.Pos]bool{}
	for _, u := range mg.m.units {
		if u.test || u.name == "main" {
			continue
		}
		for id, obj := range u.after.Defs {
			if obj == nil || !id.IsExported() || seen[id.Pos()] {
				continue
			}
			f := mg.fileOf(id.Pos())
			if f == nil || !f.active || strings.HasSuffix(f.name, "_test.go") {
				continue
			}
			var what string
			switch o := obj.(type) {
			case *types.Var:
				if o.IsField() {
					tn := mg.a.ownerAfter(u, o)
					if tn == nil || !tn.Exported() {
						continue
					}
					what = tn.Name() + "." + o.Name()
				} else if o.Parent() == u.afterPkg.Scope() {
					what = o.Name()
				} else {
					continue
				}
			case *types.Func:
				sig := o.Type().(*types.Signature)
				if r := sig.Recv(); r != nil {
					t := r.Type()
					if p, ok := t.(*types.Pointer); ok {
						t = p.Elem()
					}
					n, ok := types.Unalias(t).(*types.Named)
					if !ok || !n.Obj().Exported() {
						continue
					}
					what = n.Obj().Name() + "." + o.Name()
				} else {
					what = o.Name()
				}
			case *types.TypeName:
				if !o.IsAlias() || o.Parent() != u.afterPkg.Scope() {
					continue
				}
				what = o.Name()
			default:
				continue
			}
			b := mg.beforeAt[id.Pos()]
			if b == nil || !mg.changed(b.Type(), obj.Type(), false) {
				continue
			}
			seen[id.Pos()] = true
			mg.note(id.Pos(), "exported %s.%s changes from %s to %s: code outside the patterns that uses it must change too",
				u.name, what, types.TypeString(b.Type(), shortQual), types.TypeString(obj.Type(), shortQual))
		}
	}
}

// ownerAfter is the named struct type declaring field v, in u's rewritten
// types.
func (a *analyzer) ownerAfter(u *unit, v *types.Var) *types.TypeName {
	if a.afterOwner == nil {
		a.afterOwner = map[*types.Var]*types.TypeName{}
	}
	if _, ok := a.afterOwner[v]; !ok {
		for _, obj := range u.after.Defs {
			tn, ok := obj.(*types.TypeName)
			if !ok || tn.IsAlias() {
				continue
			}
			if st, ok := tn.Type().Underlying().(*types.Struct); ok {
				for i := 0; i < st.NumFields(); i++ {
					a.afterOwner[st.Field(i)] = tn
				}
			}
		}
		if _, ok := a.afterOwner[v]; !ok {
			a.afterOwner[v] = nil
		}
	}
	return a.afterOwner[v]
}

func (mg *migration) pos(p token.Pos) string {
	return relPos(mg.m.fset.Position(p))
}
