package agent

// The sandbox's clock after a restore. A microVM restored from a template snapshot or from a pause keeps the time it
// had when it was saved (its clock is the emulated TSC, saved and restored with the VM), so the control plane's /init
// carries its own time and the agent sets the system clock to it when they differ by more than clockSkewMax. In a
// container the agent shares the host's clock (no skew) and could not set it anyway (no CAP_SYS_TIME).

import (
	"log"
	"time"

	"golang.org/x/sys/unix"
)

// clockSkewMax is how far the clock may be from the control plane's before /init sets it (a request's own latency
// stays well below it).
const clockSkewMax = time.Second

// syncClock sets the system clock to ts when it is more than clockSkewMax away; whether it did.
func syncClock(ts time.Time) bool {
	skew := time.Since(ts)
	if skew.Abs() <= clockSkewMax {
		return false
	}
	tv := unix.NsecToTimeval(ts.UnixNano())
	if err := unix.Settimeofday(&tv); err != nil {
		log.Printf("clock is %v off the control plane's and cannot be set: %v", skew.Round(time.Millisecond), err)
		return false
	}
	log.Printf("clock set to the control plane's (it was %v off)", skew.Round(time.Millisecond))
	return true
}
