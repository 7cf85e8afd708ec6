package agent

// GET /metrics: what the sandbox sees of itself, best effort (the control plane's cgroup numbers are authoritative).

import (
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

type metrics struct {
	TS         int64   `json:"ts"`
	CPUCount   int     `json:"cpu_count"`
	CPUUsedPct float64 `json:"cpu_used_pct"`
	MemTotal   uint64  `json:"mem_total"`
	MemUsed    uint64  `json:"mem_used"`
	DiskUsed   uint64  `json:"disk_used"`
	DiskTotal  uint64  `json:"disk_total"`
}

func (a *Agent) handleMetrics(w http.ResponseWriter, r *http.Request) {
	m := metrics{TS: time.Now().Unix(), CPUCount: runtime.NumCPU(), CPUUsedPct: cpuPercent()}
	if total, avail, ok := meminfo(); ok {
		m.MemTotal, m.MemUsed = total, total-avail
	}
	var st syscall.Statfs_t
	if syscall.Statfs("/", &st) == nil {
		m.DiskTotal = st.Blocks * uint64(st.Bsize)
		m.DiskUsed = (st.Blocks - st.Bfree) * uint64(st.Bsize)
	}
	writeJSON(w, m)
}

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
	return total, avail, total > 0 && avail <= total
}

// cpuSample is the previous /proc/stat reading; the first call compares against a short fresh sample.
var cpuSample struct {
	sync.Mutex
	busy, total uint64
}

func readCPU() (busy, total uint64, ok bool) {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0, false
	}
	line, _, _ := strings.Cut(string(data), "\n")
	f := strings.Fields(line)
	if len(f) < 5 || f[0] != "cpu" {
		return 0, 0, false
	}
	var idle uint64
	for i, v := range f[1:] {
		n, _ := strconv.ParseUint(v, 10, 64)
		if i >= 8 { // guest time is already counted in user time
			break
		}
		total += n
		if i == 3 || i == 4 { // idle, iowait
			idle += n
		}
	}
	return total - idle, total, true
}

// cpuPercent is the CPU use (0-100, all CPUs together) since the previous call.
func cpuPercent() float64 {
	cpuSample.Lock()
	defer cpuSample.Unlock()
	if cpuSample.total == 0 {
		b, t, ok := readCPU()
		if !ok {
			return 0
		}
		cpuSample.busy, cpuSample.total = b, t
		time.Sleep(100 * time.Millisecond)
	}
	busy, total, ok := readCPU()
	if !ok || total <= cpuSample.total || busy < cpuSample.busy {
		return 0
	}
	pct := float64(busy-cpuSample.busy) / float64(total-cpuSample.total) * 100
	cpuSample.busy, cpuSample.total = busy, total
	return float64(int(pct*100)) / 100
}
