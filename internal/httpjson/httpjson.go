// Package httpjson is the plumbing of threadmon's read-only JSON API that
// package contention and the threadmon command share: one way to write a
// value, one way to write an error, one method check.
package httpjson

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
)

// Write writes v as JSON; a json.RawMessage is written as is, so a body
// encoded once can be served to every reader without a copy.
func Write(w http.ResponseWriter, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	if raw, ok := v.(json.RawMessage); ok {
		h.Set("Content-Length", strconv.Itoa(len(raw)))
		_, _ = w.Write(raw)
		return
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// Error writes {"error": msg} with status code.
func Error(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": msg})
}

// WriteErr writes err with Error: its status is that of its HTTPStatus
// method, if it (or an error it wraps) has one, else 500.
func WriteErr(w http.ResponseWriter, err error) {
	code := http.StatusInternalServerError
	var s interface{ HTTPStatus() int }
	if errors.As(err, &s) {
		code = s.HTTPStatus()
	}
	Error(w, code, err.Error())
}

// Status is an error that answers with its own HTTP status.
type Status struct {
	Code int
	Msg  string
}

func (e *Status) Error() string   { return e.Msg }
func (e *Status) HTTPStatus() int { return e.Code }

// Errorf returns a *Status with code and a formatted message.
func Errorf(code int, format string, args ...any) error {
	return &Status{Code: code, Msg: fmt.Sprintf(format, args...)}
}

// ReadOnly answers every method but GET and HEAD with 405, an Allow header
// and a JSON error, and passes the rest to next.
func ReadOnly(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			Error(w, http.StatusMethodNotAllowed, "method "+r.Method+" not allowed: read-only")
			return
		}
		next.ServeHTTP(w, r)
	})
}
