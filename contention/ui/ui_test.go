package ui

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// Embedded in a service's own mux under a prefix, in one line.
func TestEmbedded(t *testing.T) {
	mux := http.NewServeMux()
	mux.Handle("/debug/threadmon/", http.StripPrefix("/debug/threadmon", Handler()))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	defer http.DefaultClient.CloseIdleConnections()
	get := func(method, path string) (int, http.Header, string) {
		req, _ := http.NewRequest(method, srv.URL+"/debug/threadmon"+path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header, string(b)
	}
	code, h, body := get("GET", "/")
	if code != 200 || !strings.Contains(body, "<title>threadmon</title>") || !strings.Contains(h.Get("Content-Security-Policy"), "script-src 'self'") {
		t.Fatalf("page: %d %v", code, h)
	}
	for _, p := range []string{"/app.js", "/style.css"} {
		if code, _, _ := get("GET", p); code != 200 {
			t.Fatalf("%s: %d", p, code)
		}
	}
	code, _, body = get("GET", "/api/threads")
	var threads []map[string]any
	if code != 200 || json.Unmarshal([]byte(body), &threads) != nil {
		t.Fatalf("api: %d %s", code, body)
	}
	if code, h, _ := get("POST", "/api/threads"); code != 405 || h.Get("Allow") != "GET, HEAD" {
		t.Fatalf("POST: %d", code)
	}
	code, _, body = get("GET", "/secret.txt")
	var e map[string]string
	if code != 404 || json.Unmarshal([]byte(body), &e) != nil || e["error"] == "" {
		t.Fatalf("404: %d %s", code, body)
	}
}
