// Package leaktest checks that Go's goroutineleak profile (Go 1.26,
// GOEXPERIMENT=goroutineleakprofile) reports goroutines stuck forever on
// threadmon's primitives, as it reports goroutines stuck on sync's.
//
// The tests only build with the experiment on:
//
//	GOEXPERIMENT=goroutineleakprofile go test ./threading/leaktest/
//
// Without it this package has no tests, so go test ./... and go vet ./...
// still work. Each scenario runs in a child process (the test binary run
// again), because a leaked goroutine never ends.
package leaktest
