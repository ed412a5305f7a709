package threading

import (
	"strings"
	"unicode/utf8"
)

// MaxNameLen is the longest name, in bytes, that a primitive or a thread
// keeps. Names reach metric labels, JSON, DOT, logs and the page; any string
// is accepted, and what is kept is valid UTF-8 of at most MaxNameLen bytes.
const MaxNameLen = 200

// sanitizeName makes any string a name that is safe to expose: invalid
// UTF-8 becomes U+FFFD, and a name longer than MaxNameLen is cut on a rune
// boundary and marked with "…". Valid, short names (nearly all) are returned
// as they are, without allocating.
func sanitizeName(s string) string {
	if len(s) <= MaxNameLen && utf8.ValidString(s) {
		return s
	}
	if !utf8.ValidString(s) {
		// Bound the work before repairing: a 1 MiB name needs only its head.
		if len(s) > 4*MaxNameLen {
			s = s[:4*MaxNameLen]
		}
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	if len(s) <= MaxNameLen {
		return s
	}
	const ellipsis = "…"
	cut := MaxNameLen - len(ellipsis)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + ellipsis
}
