package contention

import "fmt"

// DecodeLongWaits decodes and validates another process's /longwaits.
func DecodeLongWaits(data []byte, l Limits) ([]*LongWait, error) {
	l = l.withDefaults()
	var out []*LongWait
	if err := decodeJSON(data, l, &out); err != nil {
		return nil, err
	}
	if len(out) > l.MaxItems {
		return nil, fmt.Errorf("%d long waits: at most %d", len(out), l.MaxItems)
	}
	for i, w := range out {
		if w == nil {
			return nil, fmt.Errorf("long wait %d is null", i)
		}
		if longer(l.MaxString, w.Thread, w.WaitsOn, w.WaitKind) || longer(l.MaxString, w.Holders...) ||
			longer(l.MaxText, w.Text) || longer(l.MaxText, w.Stacks...) || len(w.Holders) > l.MaxRefs || len(w.Stacks) > l.MaxRefs+1 {
			return nil, fmt.Errorf("long wait %d is too large", i)
		}
	}
	if out == nil {
		out = []*LongWait{}
	}
	return out, nil
}

// DecodeReports decodes and validates another process's /deadlocks or
// /holders.
func DecodeReports(data []byte, l Limits) ([]*Report, error) {
	l = l.withDefaults()
	var out []*Report
	if err := decodeJSON(data, l, &out); err != nil {
		return nil, err
	}
	if len(out) > l.MaxItems {
		return nil, fmt.Errorf("%d reports: at most %d", len(out), l.MaxItems)
	}
	for i, r := range out {
		if r == nil {
			return nil, fmt.Errorf("report %d is null", i)
		}
		ok := !longer(l.MaxString, r.Kind, r.ID, r.Victim) && !longer(l.MaxString, r.Primitives...) && !longer(l.MaxText, r.Text) &&
			len(r.Threads) <= l.MaxRefs && len(r.Primitives) <= l.MaxRefs
		if b := r.Blocked; b != nil && longer(l.MaxString, b.Op, b.Site, b.Func) {
			ok = false
		}
		for _, t := range r.Threads {
			if longer(l.MaxString, t.Name, t.WaitsOn, t.WaitKind, t.HeldBy) || longer(l.MaxString, t.Holds...) ||
				len(t.Holds) > l.MaxRefs || longer(l.MaxText, t.Stack) {
				ok = false
			}
		}
		if !ok {
			return nil, fmt.Errorf("report %d is too large", i)
		}
	}
	if out == nil {
		out = []*Report{}
	}
	return out, nil
}

// longer reports whether any of ss is longer than n bytes.
func longer(n int, ss ...string) bool {
	for _, s := range ss {
		if len(s) > n {
			return true
		}
	}
	return false
}
