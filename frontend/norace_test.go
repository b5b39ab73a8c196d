//go:build !race

package frontend

// raceDetector is whether the tests run with -race.
const raceDetector = false
