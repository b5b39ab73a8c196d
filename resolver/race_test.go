//go:build race

package resolver

// raceDetector is whether the tests run with -race.
const raceDetector = true
