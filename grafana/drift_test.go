package grafana

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// The committed dashboards are what build_dashboards.py writes: edit the
// script, run it, commit both.
func TestDashboardsMatchTheirGenerator(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("python3 is not installed; .ci/run installs it")
		}
		t.Skip("python3 not installed")
	}
	dir := t.TempDir()
	if out, err := exec.Command(py, "build_dashboards.py", dir).CombinedOutput(); err != nil {
		t.Fatalf("build_dashboards.py: %v\n%s", err, out)
	}
	want, _ := filepath.Glob(filepath.Join("dashboards", "*.json"))
	got, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	if len(want) == 0 || len(got) != len(want) {
		t.Fatalf("generator wrote %d dashboards, %d are committed", len(got), len(want))
	}
	for _, w := range want {
		committed, _ := os.ReadFile(w)
		generated, err := os.ReadFile(filepath.Join(dir, filepath.Base(w)))
		if err != nil {
			t.Fatalf("%s: not generated", w)
		}
		if !bytes.Equal(committed, generated) {
			t.Errorf("%s differs from what build_dashboards.py writes: run python3 grafana/build_dashboards.py and commit", w)
		}
	}
}
