// Package ui is threadmon's web page: the lock graph with deadlock cycles in
// red, the threads, the most contended primitives and the reports, read from
// package contention's JSON API. Its files are embedded; it needs no
// network.
//
// Inside a service, in one line:
//
//	mux.Handle("/debug/threadmon/", http.StripPrefix("/debug/threadmon", ui.Handler()))
//
// The page refreshes by itself. All it shows comes from the API as text; it
// never writes API data as HTML.
package ui

import (
	"embed"
	"io/fs"
	"net/http"

	"github.com/threadmon/threadmon/contention"
	"github.com/threadmon/threadmon/internal/httpjson"
)

//go:embed static
var files embed.FS

// IsFile reports whether path (relative to where the page is mounted) is one
// of the page's own files.
func IsFile(path string) bool { return path == "/" || path == "/app.js" || path == "/style.css" }

// Files serves the page's files ("/", "/app.js", "/style.css") and answers
// other paths with a JSON 404. The page reads its data from api/ beside it.
func Files() http.Handler {
	sub, err := fs.Sub(files, "static")
	if err != nil {
		panic(err) // the files are embedded at build time
	}
	static := http.FileServer(http.FS(sub))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !IsFile(r.URL.Path) {
			httpjson.Error(w, http.StatusNotFound, "no such path: "+r.URL.Path)
			return
		}
		SecurityHeaders(w.Header())
		static.ServeHTTP(w, r)
	})
}

// SecurityHeaders sets the headers that keep the page from running anything
// but its own script, or being framed.
func SecurityHeaders(h http.Header) {
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'")
}

// Handler serves the page with contention.Handler under api/: the whole UI
// of this process, read-only (GET and HEAD). To show a Detector's reports,
// use NewHandler(contention.Local(d)).
func Handler() http.Handler { return NewHandler(contention.Local(nil)) }

// NewHandler serves the page with contention.NewHandler(src) under api/.
func NewHandler(src contention.Source) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/api/", http.StripPrefix("/api", contention.NewHandler(src)))
	mux.Handle("/", Files())
	return httpjson.ReadOnly(mux)
}
