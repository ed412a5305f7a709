//go:build goexperiment.goroutineleakprofile && !race

package leaktest

const raceEnabled = false
