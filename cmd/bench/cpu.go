package main

import (
	"os"
	"strconv"
	"strings"
	"time"
)

// clockTick is the unit of /proc/stat (USER_HZ), 100 on every Linux the
// bench knows of.
const clockTick = 10 * time.Millisecond

// machineBusy is the CPU time all cores of the machine have spent busy
// (everything but idle and iowait) since boot, from /proc/stat; 0 where
// /proc is missing.
func machineBusy() time.Duration {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 8 || f[0] != "cpu" {
		return 0
	}
	var busy int64
	// user nice system idle iowait irq softirq steal ...
	for i, v := range f[1:] {
		if i == 3 || i == 4 || i >= 8 { // idle, iowait; guest time is in user already
			continue
		}
		n, _ := strconv.ParseInt(v, 10, 64)
		busy += n
	}
	return time.Duration(busy) * clockTick
}

// cpuMeter measures a phase's CPU: the machine's busy time and the bench's
// own, from which the worker's (reported by rusage) is set apart.
type cpuMeter struct {
	machine, self time.Duration
}

func startCPU() cpuMeter { return cpuMeter{machine: machineBusy(), self: selfCPU()} }

// stop returns the machine's busy seconds and the bench's own since start.
func (m cpuMeter) stop() (machine, self float64) {
	return (machineBusy() - m.machine).Seconds(), (selfCPU() - m.self).Seconds()
}
