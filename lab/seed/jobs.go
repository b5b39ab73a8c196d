package main

import "sync"

// createdBy is the history entry of every image seed pushes.
const createdBy = "sdkfront lab/seed"

// runJobs runs jobs on n workers and returns the first error.
func runJobs(n int, jobs []func() error) error {
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
	)
	ch := make(chan func() error)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for job := range ch {
				mu.Lock()
				failed := first != nil
				mu.Unlock()
				if failed {
					continue // drain: stop at the first error
				}
				if err := job(); err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
				}
			}
		}()
	}
	for _, j := range jobs {
		ch <- j
	}
	close(ch)
	wg.Wait()
	return first
}
