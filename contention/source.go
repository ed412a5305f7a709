package contention

import (
	"context"
	"net/http"
	"time"

	"github.com/google/pprof/profile"

	"github.com/threadmon/threadmon/internal/httpjson"
	"github.com/threadmon/threadmon/threading"
)

// Source is what a Handler serves: Local is this process, and threadmon's
// sidecar serves the merged view of the services it watches through one.
//
// The methods that return any return what their path serves, which the
// handler writes as JSON; a json.RawMessage is written as is, so a source
// that many poll can encode once for all of them. An error is answered as
// {"error": ...} with the status of its HTTPStatus() int method, if it has
// one (501 for what a source cannot serve, 404 for an unknown id), else
// 500.
type Source interface {
	// List returns what one of the listing paths serves: /graph, /threads,
	// /primitives, /deadlocks, /longwaits, /holders, /lockorder, /leaks,
	// /targets, or /contention with the n most contended (1 to 1000).
	List(path string, n int) (any, error)
	// Graph is the wait-for graph that /graph.dot draws.
	Graph() (*Graph, error)
	// Summary serves /summary; Group one of its groups (?group=).
	Summary(o SummaryOptions) (any, error)
	Group(key string, o SummaryOptions, offset, limit int) (any, error)
	// Primitive and Thread serve /primitive and /thread; with sites, the
	// waiters' sites may come from a goroutine dump.
	Primitive(id string, sites bool) (any, error)
	Thread(id string) (any, error)
	// Stacks serves /stack: the stacks of 1 to 64 threads, by node id.
	Stacks(ctx context.Context, ids []string) (any, error)
	// Profile serves /profile: a pprof contention profile of one view.
	Profile(ctx context.Context, view string) (*profile.Profile, error)
}

// errNotServed is the error of a path a source cannot serve.
func errNotServed(path, why string) error {
	return httpjson.Errorf(http.StatusNotImplemented, "%s is not served here: %s", path, why)
}

// Local is this process as a Source: its live wait-for graph, and the
// reports of d, which may be nil. Without a Detector, /deadlocks looks
// twice, 100 ms apart (concurrent requests share the looks), and serves the
// deadlocks confirmed and still standing, each reported, and its stacks
// dumped, once; /longwaits and /holders serve [].
func Local(d *Detector) Source {
	// The wait-time distributions /primitive serves: an observer of the
	// waits that blocked, attached once per process.
	histsAttach.Do(func() { threading.AddObserver(hists) })
	return &local{d: d, confirm: NewChecker()}
}

type local struct {
	d       *Detector
	confirm *Checker // /deadlocks without a Detector
}

func (l *local) List(path string, n int) (any, error) {
	switch path {
	case "/graph":
		return Snapshot(), nil
	case "/threads":
		return Snapshot().Threads, nil
	case "/primitives":
		return Snapshot().Primitives, nil
	case "/deadlocks":
		if l.d != nil {
			return nonNilReports(l.d.Reports()), nil
		}
		return l.confirm.confirm(Snapshot, 100*time.Millisecond), nil
	case "/longwaits":
		if l.d != nil {
			return append([]*LongWait{}, l.d.LongWaits()...), nil
		}
		return []*LongWait{}, nil
	case "/holders":
		if l.d != nil {
			return nonNilReports(l.d.HolderReports()), nil
		}
		return []*Report{}, nil
	case "/lockorder":
		return LockOrderReports(), nil
	case "/leaks":
		return CheckLeaks(), nil
	case "/contention":
		return TopContended(n), nil
	case "/targets":
		return nil, errNotServed(path, "this process watches no targets (threadmon -target does)")
	}
	return nil, httpjson.Errorf(http.StatusNotFound, "no such path: %s", path)
}

func nonNilReports(rs []*Report) []*Report {
	if rs == nil {
		return []*Report{}
	}
	return rs
}

func (l *local) Graph() (*Graph, error) { return Snapshot(), nil }

func (l *local) Summary(o SummaryOptions) (any, error) {
	g := Snapshot()
	history.sample(g.Time)
	return Summarize(g, o), nil
}

func (l *local) Group(key string, o SummaryOptions, offset, limit int) (any, error) {
	g := Snapshot()
	history.sample(g.Time)
	if grp := g.Group(key, o, offset, limit); grp != nil {
		return grp, nil
	}
	return nil, httpjson.Errorf(http.StatusNotFound, "no group %q", key)
}

func (l *local) Primitive(id string, sites bool) (any, error) {
	g := Snapshot()
	history.sample(g.Time)
	if v := primitiveView(g, id, sites); v != nil {
		return v, nil
	}
	return nil, httpjson.Errorf(http.StatusNotFound, "no primitive %q in the graph", id)
}

func (l *local) Thread(id string) (any, error) {
	if v := ThreadViewOf(Snapshot(), id); v != nil {
		return v, nil
	}
	return nil, httpjson.Errorf(http.StatusNotFound, "no thread %q in the graph", id)
}

func (l *local) Stacks(_ context.Context, ids []string) (any, error) { return threadStacks(ids) }

func (l *local) Profile(_ context.Context, view string) (*profile.Profile, error) {
	p, err := ProfileOf(view)
	if err != nil {
		return nil, &httpjson.Status{Code: http.StatusBadRequest, Msg: err.Error()}
	}
	return p, nil
}

// ThreadStack is a thread's stack, as /stack serves it.
type ThreadStack struct {
	ID    string `json:"id"`
	Ident uint64 `json:"ident"`
	Name  string `json:"name"`
	// Stack is the thread's block of a goroutine dump, "" when the dump
	// has none (the goroutine ended).
	Stack string `json:"stack"`
}

// threadStacks returns the stacks of the threads named by node id
// ("t123"), from a goroutine dump at most a second old, shared with
// concurrent callers. Only threads of the wait-for graph (threads, and
// goroutines that hold a primitive) are served.
func threadStacks(ids []string) ([]ThreadStack, error) {
	g := Snapshot()
	out := make([]ThreadStack, 0, len(ids))
	// A dump up to dumpTTL old will do, if it began after the threads'
	// waits did and holds every one of them.
	notBefore := g.Time.Add(-dumpTTL)
	for _, id := range ids {
		t := g.Thread(id)
		if t == nil {
			return nil, httpjson.Errorf(http.StatusNotFound, "no thread %q in the graph", id)
		}
		out = append(out, ThreadStack{ID: t.ID, Ident: t.Ident, Name: t.Name})
		if t.Wait != nil && t.Wait.Since.After(notBefore) {
			notBefore = t.Wait.Since
		}
	}
	d := sharedDump(notBefore)
	for i := range out {
		if out[i].Stack = d.stack(out[i].Ident); out[i].Stack == "" && d.at.Before(g.Time) {
			d = sharedDump(g.Time) // a goroutine younger than the dump
			out[i].Stack = d.stack(out[i].Ident)
		}
	}
	return out, nil
}
