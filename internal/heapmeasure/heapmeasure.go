// Package heapmeasure measures what a piece of work takes of the Go heap,
// for tests that bound memory: the peak while it runs, what stays after it
// with its result alive, and what it allocated in all.
package heapmeasure

import (
	"runtime"
	"time"
)

// Figures are bytes above the heap before the work (after two GCs).
type Figures struct {
	// Peak is the highest HeapAlloc sampled (every 2ms) while the work ran.
	// Sampling can only miss a peak, so a bound on it is never exceeded by
	// chance.
	Peak uint64
	// Retained is HeapAlloc after two GCs, with the work's result alive.
	Retained uint64
	// Total is what the work allocated, freed or not.
	Total uint64
}

// Run runs f and measures it. f's result is kept alive until the retained
// heap is read.
func Run(f func() any) Figures {
	var before, after runtime.MemStats
	// Twice: sync.Pool keeps what a GC frees from it for one more cycle.
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&before)
	stop, done := make(chan struct{}), make(chan uint64)
	go func() {
		var peak uint64
		var ms runtime.MemStats
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for {
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapAlloc)
			select {
			case <-stop:
				done <- peak
				return
			case <-tick.C:
			}
		}
	}()
	res := f()
	close(stop)
	peak := <-done
	runtime.ReadMemStats(&after)
	total := after.TotalAlloc - before.TotalAlloc
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(res)
	return Figures{Peak: above(peak, before.HeapAlloc), Retained: above(after.HeapAlloc, before.HeapAlloc), Total: total}
}

// MiB is b in mebibytes, for messages.
func MiB(b uint64) float64 { return float64(b) / (1 << 20) }

func above(a, b uint64) uint64 { return a - min(a, b) }
