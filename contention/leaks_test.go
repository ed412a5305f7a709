package contention

import (
	"encoding/json"
	"net/http/httptest"
	"runtime/pprof"
	"strings"
	"testing"
	"time"
)

// /leaks says plainly when this Go has no goroutineleak profile, and
// serves a cached result within the interval.
func TestLeaksEndpoint(t *testing.T) {
	SetLeakCheckInterval(time.Hour)
	defer SetLeakCheckInterval(0)
	get := func() LeakReport {
		rec := httptest.NewRecorder()
		Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/leaks", nil))
		var r LeakReport
		if err := json.Unmarshal(rec.Body.Bytes(), &r); err != nil {
			t.Fatalf("/leaks: %v: %s", err, rec.Body)
		}
		return r
	}
	first := get()
	if has := pprof.Lookup("goroutineleak") != nil; first.Available != has {
		t.Fatalf("available %v, profile present %v", first.Available, has)
	}
	if !first.Available && !strings.Contains(first.Message, "GOEXPERIMENT=goroutineleakprofile") {
		t.Errorf("message %q", first.Message)
	}
	if second := get(); !second.Cached || !second.Time.Equal(first.Time) {
		t.Errorf("second check within the interval not served from cache: %+v", second)
	}
}
