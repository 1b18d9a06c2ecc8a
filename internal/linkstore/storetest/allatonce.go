package storetest

import "sync"

// AllAtOnce calls fn(0) to fn(n-1) on n goroutines released together (so
// that they race for what the test is about) and returns their results in
// order once all have returned.
func AllAtOnce[T any](n int, fn func(i int) T) []T {
	results := make([]T, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			results[i] = fn(i)
		})
	}
	close(start)
	wg.Wait()
	return results
}
