package ui_test

import (
	"net/http"

	"github.com/threadmon/threadmon/contention/ui"
)

// The page and its JSON API, embedded in a service on a path of its own.
func ExampleHandler() {
	mux := http.NewServeMux()
	mux.Handle("/debug/threadmon/", http.StripPrefix("/debug/threadmon", ui.Handler()))
	_ = http.ListenAndServe("127.0.0.1:6060", mux)
}
