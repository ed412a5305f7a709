package httpjson

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestReadOnly(t *testing.T) {
	h := ReadOnly(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { Write(w, []int{1}) }))
	for _, m := range []string{"GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS"} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(m, "/x", nil))
		if m == "GET" || m == "HEAD" {
			if rec.Code != 200 {
				t.Errorf("%s: %d", m, rec.Code)
			}
			continue
		}
		var e map[string]string
		if rec.Code != 405 || rec.Header().Get("Allow") != "GET, HEAD" || json.Unmarshal(rec.Body.Bytes(), &e) != nil || e["error"] == "" {
			t.Errorf("%s: %d %v %s", m, rec.Code, rec.Header(), rec.Body)
		}
	}
}

func TestWrite(t *testing.T) {
	rec := httptest.NewRecorder()
	Write(rec, json.RawMessage(`{"a":1}`))
	if rec.Body.String() != `{"a":1}` || rec.Header().Get("Content-Length") != "7" || rec.Header().Get("Content-Type") != "application/json" {
		t.Errorf("raw: %v %q", rec.Header(), rec.Body)
	}
	rec = httptest.NewRecorder()
	Write(rec, map[string]int{"a": 1})
	var v map[string]int
	if json.Unmarshal(rec.Body.Bytes(), &v) != nil || v["a"] != 1 {
		t.Errorf("value: %q", rec.Body)
	}
}

func TestWriteErr(t *testing.T) {
	for err, want := range map[error]int{
		Errorf(http.StatusNotImplemented, "no"):                        501,
		fmt.Errorf("wrapped: %w", Errorf(http.StatusNotFound, "gone")): 404,
		errors.New("plain"): 500,
	} {
		rec := httptest.NewRecorder()
		WriteErr(rec, err)
		var e map[string]string
		if rec.Code != want || json.Unmarshal(rec.Body.Bytes(), &e) != nil || e["error"] != err.Error() {
			t.Errorf("%v: %d %s", err, rec.Code, rec.Body)
		}
	}
}
