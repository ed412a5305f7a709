package contention

import (
	"io"
	"runtime"
	"time"

	"github.com/google/pprof/profile"

	"github.com/threadmon/threadmon/threading"
)

// Profile is a contention profile in pprof's format, like the runtime's mutex
// profile: one sample per class of primitive (a name, or a creation site)
// that was ever waited on, with the number of waits and the total wait, at
// the stack where the class's primitive was created. Labels kind and name
// tell the classes apart; `go tool pprof -top` reads it.
func Profile() *profile.Profile {
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
	for _, c := range threading.Classes() {
		if c.Stats.Contentions == 0 || c.Kind == threading.KindThread {
			continue
		}
		s := &profile.Sample{
			Value: []int64{int64(c.Stats.Contentions), int64(c.Stats.WaitTotal)},
			Label: map[string][]string{"kind": {c.Kind.String()}, "name": {c.Label}},
		}
		for _, pc := range c.Stack {
			s.Location = append(s.Location, location(pc))
		}
		if len(s.Location) == 0 { // a class whose primitives are all gone: its label as a frame
			fn := &profile.Function{ID: uint64(len(p.Function) + 1), Name: c.Kind.String() + " " + c.Label}
			p.Function = append(p.Function, fn)
			l := &profile.Location{ID: uint64(len(p.Location) + 1), Mapping: mapping, Line: []profile.Line{{Function: fn}}}
			p.Location = append(p.Location, l)
			s.Location = []*profile.Location{l}
		}
		p.Sample = append(p.Sample, s)
	}
	return p
}

// WriteProfile writes Profile, gzipped protobuf, as `go tool pprof` reads.
func WriteProfile(w io.Writer) error { return Profile().Write(w) }
