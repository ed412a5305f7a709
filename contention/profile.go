package contention

import (
	"fmt"
	"runtime"
	"time"

	"github.com/google/pprof/profile"

	"github.com/threadmon/threadmon/internal/plumb"
	"github.com/threadmon/threadmon/threading"
)

// The views of the contention profile.
const (
	// ViewWaiters, the default, has the waits by the stacks where they
	// blocked: sampled (threading.SetWaitStackSampling, 1 in 8 by default),
	// each sample weighted by the rate.
	ViewWaiters = "waiters"
	// ViewClasses has one sample per class of primitive (a name, or a
	// creation site) that was ever waited on, at the stack where the class's
	// primitive was created.
	ViewClasses = "classes"
	// ViewReleasers has the hand-offs to parked waiters by the releasers'
	// stacks (delay 0).
	ViewReleasers = "releasers"
)

// ProfileOf is a contention profile in pprof's format, like the runtime's
// mutex profile: samples of [contentions, delay] with labels kind and name,
// for one view ("" is ViewWaiters). The waiters and releasers views come
// from the stacks threading samples (SetWaitStackSampling; on by default).
// `go tool pprof` reads it.
func ProfileOf(view string) (*profile.Profile, error) {
	type row struct {
		kind, label string
		stack       []uintptr
		count       uint64
		delay       time.Duration
	}
	var rows []row
	switch view {
	case ViewClasses:
		for _, c := range threading.Classes() {
			if c.Stats.Contentions == 0 || c.Kind == threading.KindThread {
				continue
			}
			rows = append(rows, row{c.Kind.String(), c.Label, c.Stack, c.Stats.Contentions, c.Stats.WaitTotal})
		}
	case ViewWaiters, ViewReleasers, "":
		samples, _ := plumb.WaiterStacks()
		if view == ViewReleasers {
			samples, _ = plumb.ReleaserStacks()
		}
		for _, s := range samples {
			rows = append(rows, row{threading.Kind(s.Kind).String(), s.Label, s.Stack, s.Count, s.Delay})
		}
	default:
		return nil, fmt.Errorf("unknown view %q: want classes, waiters or releasers", view)
	}
	p := &profile.Profile{
		SampleType:        []*profile.ValueType{{Type: "contentions", Unit: "count"}, {Type: "delay", Unit: "nanoseconds"}},
		PeriodType:        &profile.ValueType{Type: "contentions", Unit: "count"},
		Period:            1,
		TimeNanos:         time.Now().UnixNano(),
		DefaultSampleType: "delay",
	}
	mapping := &profile.Mapping{ID: 1, HasFunctions: true, HasFilenames: true, HasLineNumbers: true}
	p.Mapping = []*profile.Mapping{mapping}
	funcs := map[string]*profile.Function{}
	locs := map[uintptr]*profile.Location{}
	location := func(pc uintptr) *profile.Location {
		if l, ok := locs[pc]; ok {
			return l
		}
		l := &profile.Location{ID: uint64(len(p.Location) + 1), Address: uint64(pc), Mapping: mapping}
		frames := runtime.CallersFrames([]uintptr{pc})
		for {
			f, more := frames.Next()
			fn := funcs[f.Function]
			if fn == nil {
				fn = &profile.Function{ID: uint64(len(p.Function) + 1), Name: f.Function, SystemName: f.Function, Filename: f.File}
				funcs[f.Function] = fn
				p.Function = append(p.Function, fn)
			}
			l.Line = append(l.Line, profile.Line{Function: fn, Line: int64(f.Line)})
			if !more {
				break
			}
		}
		locs[pc] = l
		p.Location = append(p.Location, l)
		return l
	}
	for _, c := range rows {
		s := &profile.Sample{
			Value: []int64{int64(c.count), int64(c.delay)},
			Label: map[string][]string{"kind": {c.kind}, "name": {c.label}},
		}
		for _, pc := range c.stack {
			s.Location = append(s.Location, location(pc))
		}
		if len(s.Location) == 0 { // a class whose primitives are all gone: its label as a frame
			fn := &profile.Function{ID: uint64(len(p.Function) + 1), Name: c.kind + " " + c.label}
			p.Function = append(p.Function, fn)
			l := &profile.Location{ID: uint64(len(p.Location) + 1), Mapping: mapping, Line: []profile.Line{{Function: fn}}}
			p.Location = append(p.Location, l)
			s.Location = []*profile.Location{l}
		}
		p.Sample = append(p.Sample, s)
	}
	return p, nil
}
