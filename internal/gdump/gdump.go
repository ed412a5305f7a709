// Package gdump reads goroutine dumps (runtime.Stack with all set): the one
// parser that package threading (pruning dummy threads) and package
// contention (stacks for reports) share.
package gdump

import (
	"bytes"
	"strconv"
	"strings"
)

var prefix = []byte("goroutine ")

// Header parses the header line of a goroutine's block, "goroutine 12
// [chan receive]:", and returns the goroutine id.
func Header(b []byte) (uint64, bool) {
	rest, ok := bytes.CutPrefix(b, prefix)
	if !ok {
		return 0, false
	}
	num, _, _ := bytes.Cut(rest, []byte(" "))
	id, err := strconv.ParseUint(string(num), 10, 64)
	return id, err == nil && id != 0
}

// Status returns what is between the brackets of a block's header line,
// "goroutine 12 [chan receive, 3 minutes]:": "chan receive, 3 minutes", or
// "" when the header has none.
func Status(block string) string {
	header, _, _ := strings.Cut(block, "\n")
	i := strings.IndexByte(header, '[')
	j := strings.LastIndexByte(header, ']')
	if i < 0 || j < i {
		return ""
	}
	return header[i+1 : j]
}

// Blocks calls fn with the id and the byte range [start, end) of each
// goroutine's block in dump; blocks are separated by an empty line.
func Blocks(dump []byte, fn func(id uint64, start, end int)) {
	for off := 0; off < len(dump); {
		end := bytes.Index(dump[off:], []byte("\n\n"))
		if end < 0 {
			end = len(dump)
		} else {
			end += off
		}
		if id, ok := Header(dump[off:end]); ok {
			fn(id, off, end)
		}
		off = end + 2
	}
}
