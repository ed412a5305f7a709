package contention

import (
	"strings"
	"testing"
)

func TestDecodeReportsAndLongWaits(t *testing.T) {
	l := Limits{MaxString: 16, MaxText: 64, MaxItems: 2}
	long := strings.Repeat("x", 17)
	for _, bad := range []string{
		`[null]`,
		`[{"kind":"` + long + `"}]`,
		`[{"threads":[{"name":"` + long + `"}]}]`,
		`[{"threads":[{"holds":["` + long + `"]}]}]`,
		`[{"blocked":{"op":"` + long + `"}}]`,
		`[{"text":"` + strings.Repeat("x", 65) + `"}]`,
		`[{},{},{}]`,
		`{"not":"a list"}`,
	} {
		if _, err := DecodeReports([]byte(bad), l); err == nil {
			t.Errorf("DecodeReports accepted %.60s", bad)
		}
	}
	for _, bad := range []string{
		`[null]`,
		`[{"thread":"` + long + `"}]`,
		`[{"holders":["` + long + `"]}]`,
		`[{"stacks":["` + strings.Repeat("x", 65) + `"]}]`,
		`[{},{},{}]`,
	} {
		if _, err := DecodeLongWaits([]byte(bad), l); err == nil {
			t.Errorf("DecodeLongWaits accepted %.60s", bad)
		}
	}
	if rs, err := DecodeReports([]byte(`[{"kind":"holder_blocked","threads":[{"name":"a","holds":["p"]}],"blocked":{"op":"select"}}]`), l); err != nil || len(rs) != 1 {
		t.Errorf("a good report: %v %v", rs, err)
	}
	if ws, err := DecodeLongWaits([]byte(`null`), l); err != nil || ws == nil || len(ws) != 0 {
		t.Errorf("null: %v %v", ws, err)
	}
}
