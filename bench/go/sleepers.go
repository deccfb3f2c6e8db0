// Sleepers, the Go contender of bench/benches/memory.rs: N goroutines
// started from a goroutine, each sleeping one second at a time until told
// to stop. Prints the same key=value figures as the Rust contenders:
// resident memory before and while they sleep, the time (wall and CPU) to
// start them all, the time to join them after the stop, and the mappings.
// Usage: sleepers N (run with the default GOMAXPROCS, the CPU count).
package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// vmRSSKiB reads the resident set size from /proc/self/status.
func vmRSSKiB() int64 {
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(status), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			fields := strings.Fields(line)
			kib, _ := strconv.ParseInt(fields[1], 10, 64)
			return kib
		}
	}
	return 0
}

// cpuTime is the CPU time used so far by the whole process.
func cpuTime() time.Duration {
	var usage syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &usage)
	return time.Duration(usage.Utime.Nano() + usage.Stime.Nano())
}

func main() {
	n, err := strconv.Atoi(os.Args[1])
	if err != nil {
		panic("usage: sleepers N")
	}
	var started atomic.Int64
	var stop atomic.Bool
	var all sync.WaitGroup
	before := vmRSSKiB()
	cpu0 := cpuTime()
	t0 := time.Now()
	all.Add(1)
	go func() {
		defer all.Done()
		var sleepers sync.WaitGroup
		sleepers.Add(n)
		for i := 0; i < n; i++ {
			go func() {
				defer sleepers.Done()
				started.Add(1)
				for !stop.Load() {
					time.Sleep(time.Second)
				}
			}()
		}
		sleepers.Wait()
	}()
	for started.Load() < int64(n) {
		time.Sleep(time.Millisecond)
	}
	startMs := float64(time.Since(t0).Nanoseconds()) / 1e6
	startCPUMs := float64((cpuTime() - cpu0).Nanoseconds()) / 1e6
	// Let the last ones reach their sleep.
	time.Sleep(200 * time.Millisecond)
	during := vmRSSKiB()
	maps := 0
	if text, err := os.ReadFile("/proc/self/maps"); err == nil {
		maps = strings.Count(string(text), "\n")
	}
	t1 := time.Now()
	stop.Store(true)
	all.Wait()
	finishMs := float64(time.Since(t1).Nanoseconds()) / 1e6
	kibPer := float64(during-before) / float64(n)
	fmt.Printf("before_kib=%d during_kib=%d kib_per=%.3f start_ms=%.1f start_cpu_ms=%.1f finish_ms=%.1f maps=%d\n",
		before, during, kibPer, startMs, startCPUMs, finishMs, maps)
}
