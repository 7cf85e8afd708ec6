package agent

import (
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"
)

func cpuCount() int { return runtime.NumCPU() }

// meminfo reads MemTotal and MemAvailable (bytes) from /proc/meminfo.
func meminfo() (total, avail uint64, ok bool) {
	data, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0, 0, false
	}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		n, _ := strconv.ParseUint(f[1], 10, 64)
		switch f[0] {
		case "MemTotal:":
			total = n * 1024
		case "MemAvailable:":
			avail = n * 1024
		}
	}
	return total, avail, total > 0
}

var cpuSample struct {
	sync.Mutex
	busy, total uint64
	at          time.Time
}

// cpuPercent is the CPU use since the previous call, from /proc/stat.
func cpuPercent() float64 {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(data), "\n")
	f := strings.Fields(line)
	var total, idle uint64
	for i, v := range f[1:] {
		n, _ := strconv.ParseUint(v, 10, 64)
		total += n
		if i == 3 || i == 4 {
			idle += n
		}
	}
	busy := total - idle
	cpuSample.Lock()
	defer cpuSample.Unlock()
	pct := 0.0
	if !cpuSample.at.IsZero() && total > cpuSample.total {
		pct = float64(busy-cpuSample.busy) / float64(total-cpuSample.total) * 100
	}
	cpuSample.busy, cpuSample.total, cpuSample.at = busy, total, time.Now()
	return pct
}
