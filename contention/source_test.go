package contention

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/pprof/profile"
)

// noSource serves nothing: every method says so.
type noSource struct{}

func (noSource) List(path string, _ int) (any, error) { return nil, errNotServed(path, "test") }
func (noSource) Graph() (*Graph, error)               { return nil, errNotServed("/graph.dot", "test") }
func (noSource) Summary(SummaryOptions) (any, error)  { return nil, errNotServed("/summary", "test") }
func (noSource) Primitive(string, bool) (any, error)  { return nil, errNotServed("/primitive", "test") }
func (noSource) Thread(string) (any, error)           { return nil, errNotServed("/thread", "test") }
func (noSource) Stacks(context.Context, []string) (any, error) {
	return nil, errNotServed("/stack", "test")
}
func (noSource) Group(string, SummaryOptions, int, int) (any, error) {
	return nil, errNotServed("/summary", "test")
}
func (noSource) Profile(context.Context, string) (*profile.Profile, error) {
	return nil, errNotServed("/profile", "test")
}

// Every path answers with a JSON error when its source cannot serve it,
// naming the path; unknown paths a JSON 404; other methods a JSON 405.
func TestHandlerOverSource(t *testing.T) {
	h := NewHandler(noSource{})
	get := func(method, target string) (int, map[string]string) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(method, target, nil))
		var e map[string]string
		if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil {
			t.Fatalf("%s %s: not a JSON error: %s", method, target, rec.Body)
		}
		return rec.Code, e
	}
	paths := append([]string{"/graph.dot", "/summary", "/primitive?id=p1", "/thread?id=t1", "/stack?id=t1", "/profile"}, listPaths...)
	for _, p := range paths {
		if code, e := get("GET", p); code != 501 || !strings.Contains(e["error"], strings.Split(p, "?")[0]) {
			t.Errorf("%s: %d %v", p, code, e)
		}
	}
	if code, _ := get("GET", "/nope"); code != 404 {
		t.Errorf("/nope: %d", code)
	}
	if code, _ := get("POST", "/graph"); code != 405 {
		t.Errorf("POST /graph: %d", code)
	}
	for _, bad := range []string{"/stack", "/stack?ident=x", "/contention?n=0", "/summary?groups=-1"} {
		if code, _ := get("GET", bad); code != 400 {
			t.Errorf("%s: %d", bad, code)
		}
	}
}
