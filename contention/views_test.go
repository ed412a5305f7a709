package contention

import "testing"

func TestSiteOf(t *testing.T) {
	block := "goroutine 12 [sync.Mutex.Lock]:\n" +
		"runtime.gopark(0x1?, 0x2?)\n\t/usr/local/go/src/runtime/proc.go:435 +0xce\n" +
		"github.com/threadmon/threadmon/threading.(*Lock).acquireSlow(0xc000, 0x0)\n\t/src/threading/lock.go:140 +0x1a\n" +
		"main.(*store).get(...)\n\t/src/app/store.go:42\n" +
		"main.worker()\n\t/src/app/main.go:9 +0x25\n" +
		"created by main.main in goroutine 1\n\t/src/app/main.go:3 +0x1f\n"
	if got := siteOf(block); got != "main.(*store).get /src/app/store.go:42" {
		t.Fatalf("%q", got)
	}
	if got := siteOf("goroutine 1 [running]:\nruntime.gopark()\n\t/x.go:1\ncreated by x\n\t/y.go:2\n"); got != "" {
		t.Fatalf("%q", got)
	}
}
