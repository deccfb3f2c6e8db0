// Skynet, the Go contender of bench/benches/skynet.rs: a tree of goroutines,
// ten children per node, 1,000,000 leaves each sending its number up; the
// root prints the sum and the wall time. Run with GOMAXPROCS=2.
package main

import (
	"fmt"
	"time"
)

func skynet(c chan int, num, size, div int) {
	if size == 1 {
		c <- num
		return
	}
	rc := make(chan int)
	sub := size / div
	for i := 0; i < div; i++ {
		go skynet(rc, num+i*sub, sub, div)
	}
	sum := 0
	for i := 0; i < div; i++ {
		sum += <-rc
	}
	c <- sum
}

func main() {
	start := time.Now()
	c := make(chan int)
	go skynet(c, 0, 1000000, 10)
	sum := <-c
	elapsed := time.Since(start)
	fmt.Printf("sum=%d ms=%.1f\n", sum, float64(elapsed.Nanoseconds())/1e6)
}
