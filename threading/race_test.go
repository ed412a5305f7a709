package threading_test

// The race detector sees through threadmon's primitives as it sees through
// sync's: readers of an RWLock do not synchronise with each other, and a
// failed TryLock is no synchronisation, so the programs in testdata/race
// that rely on either must get "WARNING: DATA RACE"; their sync controls
// show the harness detects it; and a correct program on threadmon's
// primitives must get no report at all.

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

type raceProgram struct {
	name     string
	wantRace bool
	// frame is a function the race report must name.
	frame   string
	control bool
}

var racePrograms = []raceProgram{
	{name: "rwmutex_readers", wantRace: true, frame: "main.reader(", control: true},
	{name: "rwlock_readers", wantRace: true, frame: "main.reader("},
	{name: "mutex_trylock_failed", wantRace: true, frame: "main.holder(", control: true},
	{name: "lock_trylock_failed", wantRace: true, frame: "main.holder("},
	{name: "correct"},
}

// exitSequenceMissed is what a program exits with when the run did not
// happen in the order it needs (see lock_trylock_failed).
const exitSequenceMissed = 3

func TestRaceDetector(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs programs with -race")
	}
	goBin := goTool(t)
	bin := t.TempDir()
	out, code, err := runCmd("", nil, 10*time.Minute, goBin, "build", "-race", "-o", bin+string(filepath.Separator), "./testdata/race/...")
	if err != nil || code != 0 {
		if strings.Contains(out, "-race requires cgo") || strings.Contains(out, "-race is not supported") {
			t.Skipf("the race detector is not available here:\n%s", out)
		}
		t.Fatalf("go build -race ./testdata/race/...: status %d, %v\n%s", code, err, out)
	}

	const runs, maxTries = 3, 10
	summary := make([]string, len(racePrograms))
	for i, p := range racePrograms {
		t.Run(p.name, func(t *testing.T) {
			reported, valid := 0, 0
			var first string
			for try := 0; try < maxTries && valid < runs; try++ {
				out, code, err := runCmd("", []string{noRaceExitSleep()}, time.Minute, filepath.Join(bin, p.name))
				if err != nil {
					t.Fatalf("run %d: %v\n%s", try, err, tailText(out, 4000))
				}
				switch code {
				case exitSequenceMissed:
					continue // this run proves nothing
				case 0, 66: // 66: the race detector found a race
				default:
					t.Fatalf("run %d: exit status %d\n%s", try, code, tailText(out, 4000))
				}
				valid++
				race := strings.Contains(out, "WARNING: DATA RACE")
				if race {
					reported++
					if first == "" {
						first = out
					}
					if !strings.Contains(out, p.frame) {
						t.Errorf("run %d: the race report does not name %s:\n%s", try, p.frame, tailText(out, 4000))
					}
				} else if code != 0 {
					t.Errorf("run %d: exit status %d without a race report:\n%s", try, code, tailText(out, 4000))
				}
				if !p.wantRace && race {
					t.Errorf("run %d: a race was reported in a correct program:\n%s", try, tailText(out, 6000))
				}
			}
			if valid < runs {
				t.Fatalf("only %d of %d tries ran in the order the program needs", valid, maxTries)
			}
			kind := "threadmon"
			if p.control {
				kind = "sync control"
			}
			summary[i] = fmt.Sprintf("%-22s %-13s want race=%-5v reported in %d/%d runs", p.name, kind, p.wantRace, reported, valid)
			if p.wantRace && reported != valid {
				t.Errorf("want \"WARNING: DATA RACE\" in every run, got it in %d of %d", reported, valid)
			}
		})
	}
	t.Log("\n" + strings.Join(summary, "\n"))
}
