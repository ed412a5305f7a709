package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// The demo's workload runs, shows contention on its named primitives, and
// stops every thread it started when its context ends.
func TestDemoWorkload(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	w := startDemo(ctx)
	<-ctx.Done()
	w.stop()
	for _, th := range w.threads {
		if th.IsAlive() {
			t.Fatalf("%s still running after stop", th.Name())
		}
	}
	if w.transfers.Load() == 0 || w.consumed.Load() == 0 || w.rounds.Load() == 0 {
		t.Fatalf("transfers %d items %d rounds %d", w.transfers.Load(), w.consumed.Load(), w.rounds.Load())
	}
	var out bytes.Buffer
	printSnapshot(&out, w)
	for _, want := range []string{"PRIMITIVE", "account-", "db-pool", "queue", "pipeline"} {
		if !strings.Contains(out.String(), want) {
			t.Fatalf("snapshot lacks %q:\n%s", want, out.String())
		}
	}
}
