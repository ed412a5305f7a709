package main

import (
	"bytes"
	"fmt"
	"go/ast"
	"go/format"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// render prints f with its rewrites, fixes its imports and formats it.
func (mg *migration) render(f *srcFile) ([]byte, error) {
	f.setActive(true)
	var buf bytes.Buffer
	if err := format.Node(&buf, mg.m.fset, f.ast); err != nil {
		return nil, err
	}
	type key struct{ path, name string }
	specKey := func(s *ast.ImportSpec) key {
		p, _ := strconv.Unquote(s.Path.Value)
		k := key{path: p}
		if s.Name != nil {
			k.name = s.Name.Name
		}
		return k
	}
	remove := map[key]bool{}
	for _, spec := range f.ast.Imports {
		k := specKey(spec)
		if convertible[k.path] == nil || k.name == "_" || k.name == "." {
			continue
		}
		consumed := 0
		for _, s := range f.sites {
			if s.spec == spec {
				consumed++
			}
		}
		if consumed > 0 && f.uses[spec] == consumed {
			remove[k] = true
		}
	}
	thr := strconv.Quote(threadingPath)
	if f.tname != "threading" {
		thr = f.tname + " " + thr
	}
	out, err := fixImports(buf.Bytes(), func(s *ast.ImportSpec) bool { return remove[specKey(s)] }, !f.hasThr, thr)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", f.name, err)
	}
	return out, nil
}

// fixImports deletes the import specs for which drop is true and, if add,
// adds the spec text thr: into the last group of a parenthesized import
// that holds a non-standard path, else as a group of its own.
func fixImports(src []byte, drop func(*ast.ImportSpec) bool, add bool, thr string) ([]byte, error) {
	fset := token.NewFileSet()
	af, err := parser.ParseFile(fset, "", src, parser.ParseComments|parser.ImportsOnly)
	if err != nil {
		return nil, err
	}
	tf := fset.File(af.Pos())
	off := func(p token.Pos) int { return tf.Offset(p) }
	line := func(p token.Pos) int { return tf.Line(p) }
	lineStart := func(p token.Pos) int { return off(tf.LineStart(line(p))) }
	lineAfter := func(p token.Pos) int {
		if l := line(p); l < tf.LineCount() {
			return off(tf.LineStart(l + 1))
		}
		return len(src)
	}
	type edit struct {
		start, end int
		text       string
	}
	var edits []edit
	specStart := func(s *ast.ImportSpec) token.Pos {
		if s.Doc != nil {
			return s.Doc.Pos()
		}
		return s.Pos()
	}
	specEnd := func(s *ast.ImportSpec) token.Pos {
		if s.Comment != nil {
			return s.Comment.End()
		}
		return s.End()
	}
	declStart := func(d *ast.GenDecl) token.Pos {
		if d.Doc != nil {
			return d.Doc.Pos()
		}
		return d.Pos()
	}
	var decls []*ast.GenDecl
	for _, d := range af.Decls {
		if g, ok := d.(*ast.GenDecl); ok && g.Tok == token.IMPORT {
			decls = append(decls, g)
		}
	}
	var into *ast.GenDecl // the parenthesized import thr goes into
	for _, d := range decls {
		if d.Lparen.IsValid() && line(d.Lparen) != line(d.Rparen) {
			into = d
			break
		}
	}
	handled := map[*ast.GenDecl]bool{}
	if add {
		switch {
		case into != nil:
			// Groups are runs of specs without a blank line between them.
			var groups [][]*ast.ImportSpec
			for i, s := range into.Specs {
				is := s.(*ast.ImportSpec)
				if i == 0 || line(specStart(is))-line(specEnd(into.Specs[i-1].(*ast.ImportSpec))) > 1 {
					groups = append(groups, nil)
				}
				if !drop(is) {
					groups[len(groups)-1] = append(groups[len(groups)-1], is)
				}
			}
			var last *ast.ImportSpec
			for _, g := range groups {
				for _, is := range g {
					p, _ := strconv.Unquote(is.Path.Value)
					if first, _, _ := strings.Cut(p, "/"); strings.Contains(first, ".") {
						last = g[len(g)-1]
					}
				}
			}
			if last != nil {
				edits = append(edits, edit{lineAfter(specEnd(last)), lineAfter(specEnd(last)), "\t" + thr + "\n"})
			} else {
				at := lineStart(into.Rparen)
				edits = append(edits, edit{at, at, "\n\t" + thr + "\n"})
			}
		case len(decls) > 0:
			d := decls[0]
			handled[d] = true
			var keep []string
			for _, s := range d.Specs {
				is := s.(*ast.ImportSpec)
				if !drop(is) {
					keep = append(keep, string(src[off(is.Pos()):off(is.End())]))
				}
			}
			text := "import " + thr
			if len(keep) > 0 {
				text = "import (\n\t" + strings.Join(keep, "\n\t") + "\n\n\t" + thr + "\n)"
			}
			edits = append(edits, edit{off(d.Pos()), off(d.End()), text})
		default:
			at := lineAfter(af.Name.End())
			edits = append(edits, edit{at, at, "\nimport " + thr + "\n"})
		}
	}
	for _, d := range decls {
		if handled[d] {
			continue
		}
		var dropped []*ast.ImportSpec
		for _, s := range d.Specs {
			if drop(s.(*ast.ImportSpec)) {
				dropped = append(dropped, s.(*ast.ImportSpec))
			}
		}
		if len(dropped) == 0 {
			continue
		}
		if len(dropped) == len(d.Specs) && d != into {
			edits = append(edits, edit{lineStart(declStart(d)), lineAfter(d.End()), ""})
			continue
		}
		for _, s := range dropped {
			if d.Lparen.IsValid() && (line(s.Pos()) == line(d.Lparen) || line(s.End()) == line(d.Rparen)) {
				edits = append(edits, edit{off(s.Pos()), off(s.End()), ""})
			} else {
				edits = append(edits, edit{lineStart(specStart(s)), lineAfter(specEnd(s)), ""})
			}
		}
	}
	sort.SliceStable(edits, func(i, j int) bool { return edits[i].start > edits[j].start })
	out := append([]byte(nil), src...)
	for _, e := range edits {
		out = append(out[:e.start], append([]byte(e.text), out[e.end:]...)...)
	}
	return format.Source(out)
}

// relPos spells a position with a path relative to the working directory
// when it is under it.
func relPos(p token.Position) string {
	p.Filename = relPath(p.Filename)
	return p.String()
}

func relPath(name string) string {
	if wd, err := os.Getwd(); err == nil {
		if r, err := filepath.Rel(wd, name); err == nil && !strings.HasPrefix(r, "..") {
			return r
		}
	}
	return name
}

// unifiedDiff is a unified diff of a and b with three lines of context, or
// nil when they are equal.
func unifiedDiff(aName, bName string, a, b []byte) []byte {
	if bytes.Equal(a, b) {
		return nil
	}
	al, bl := splitLines(a), splitLines(b)
	ops := diffLines(al, bl)
	var out bytes.Buffer
	fmt.Fprintf(&out, "--- %s\n+++ %s\n", aName, bName)
	const ctx = 3
	for i := 0; i < len(ops); {
		if ops[i].kind == ' ' {
			i++
			continue
		}
		// A hunk: from ctx lines before the change to ctx lines after the
		// last change that is at most 2*ctx equal lines from the next.
		start := i
		for start > 0 && i-start < ctx && ops[start-1].kind == ' ' {
			start--
		}
		end := i
		for {
			for end < len(ops) && ops[end].kind != ' ' {
				end++
			}
			run := 0
			for end+run < len(ops) && ops[end+run].kind == ' ' {
				run++
			}
			if end+run < len(ops) && run <= 2*ctx {
				end += run
				continue
			}
			if run > ctx {
				run = ctx
			}
			end += run
			break
		}
		aStart, bStart, aLen, bLen := ops[start].a, ops[start].b, 0, 0
		for _, op := range ops[start:end] {
			if op.kind != '+' {
				aLen++
			}
			if op.kind != '-' {
				bLen++
			}
		}
		rng := func(s, n int) string {
			if n == 0 {
				return fmt.Sprintf("%d,0", s)
			}
			if n == 1 {
				return strconv.Itoa(s + 1)
			}
			return fmt.Sprintf("%d,%d", s+1, n)
		}
		fmt.Fprintf(&out, "@@ -%s +%s @@\n", rng(aStart, aLen), rng(bStart, bLen))
		for _, op := range ops[start:end] {
			l := op.line
			out.WriteByte(op.kind)
			out.WriteString(l)
			if !strings.HasSuffix(l, "\n") {
				out.WriteString("\n\\ No newline at end of file\n")
			}
		}
		i = end
	}
	return out.Bytes()
}

func splitLines(b []byte) []string {
	var out []string
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			out = append(out, string(b))
			break
		}
		out = append(out, string(b[:i+1]))
		b = b[i+1:]
	}
	return out
}

type diffOp struct {
	kind byte // ' ', '-' or '+'
	a, b int  // indexes of the line in a and b (the next ones, for an insertion or deletion)
	line string
}

// diffLines is Myers' shortest edit script from a to b. Past 2,000 edits it
// gives up on a short script and replaces the whole text.
func diffLines(a, b []string) []diffOp {
	n, m := len(a), len(b)
	maxD := n + m
	if maxD > 2000 {
		maxD = 2000
	}
	off := maxD + 1
	v := make([]int, 2*maxD+3)
	var trace [][]int
	found := false
	for d := 0; d <= maxD && !found; d++ {
		trace = append(trace, append([]int(nil), v...))
		for k := -d; k <= d; k += 2 {
			var x int
			if k == -d || (k != d && v[off+k-1] < v[off+k+1]) {
				x = v[off+k+1]
			} else {
				x = v[off+k-1] + 1
			}
			y := x - k
			for x < n && y < m && a[x] == b[y] {
				x++
				y++
			}
			v[off+k] = x
			if x >= n && y >= m {
				found = true
				break
			}
		}
	}
	if !found {
		var ops []diffOp
		for i, l := range a {
			ops = append(ops, diffOp{'-', i, 0, l})
		}
		for j, l := range b {
			ops = append(ops, diffOp{'+', n, j, l})
		}
		return ops
	}
	var rev []diffOp
	x, y := n, m
	for d := len(trace) - 1; d > 0; d-- {
		v := trace[d]
		k := x - y
		var pk int
		if k == -d || (k != d && v[off+k-1] < v[off+k+1]) {
			pk = k + 1
		} else {
			pk = k - 1
		}
		px := v[off+pk]
		py := px - pk
		for x > px && y > py {
			x--
			y--
			rev = append(rev, diffOp{' ', x, y, a[x]})
		}
		if x == px {
			y--
			rev = append(rev, diffOp{'+', x, y, b[y]})
		} else {
			x--
			rev = append(rev, diffOp{'-', x, y, a[x]})
		}
	}
	for x > 0 && y > 0 {
		x--
		y--
		rev = append(rev, diffOp{' ', x, y, a[x]})
	}
	ops := make([]diffOp, len(rev))
	for i, op := range rev {
		ops[len(rev)-1-i] = op
	}
	return ops
}
