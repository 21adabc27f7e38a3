package main

import (
	"os"
	"runtime/debug"
	"strconv"
	"strings"
)

// memoryLimitShare is the share of its container's memory limit the
// manager lets the Go runtime's memory grow to before the garbage
// collector works harder; the rest is for what the soft limit does not
// cover (the binary's own pages) and for a margin.
const memoryLimitShare = 0.9

// cgroupMemoryLimits are where cgroup v2 and v1 publish the memory limit
// of the container the process runs in.
var cgroupMemoryLimits = []string{"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"}

// setMemoryLimit gives the Go runtime a soft memory limit of
// memoryLimitShare of the container's memory limit, unless GOMEMLIMIT sets
// one. The manager caches every claim, pod and node of the cluster: left
// to its default (GOGC=100), the heap grows to twice what is live, and a
// manager whose live heap fits its limit is killed for the garbage it has
// not collected yet. It returns the limit set, 0 for none.
func setMemoryLimit(readFile func(string) ([]byte, error)) int64 {
	if os.Getenv("GOMEMLIMIT") != "" {
		return 0
	}
	limit := containerMemoryLimit(readFile)
	if limit <= 0 {
		return 0
	}
	soft := int64(float64(limit) * memoryLimitShare)
	debug.SetMemoryLimit(soft)
	return soft
}

// containerMemoryLimit returns the memory limit of the container, in
// bytes, or 0 when there is none or it cannot be read.
func containerMemoryLimit(readFile func(string) ([]byte, error)) int64 {
	for _, path := range cgroupMemoryLimits {
		data, err := readFile(path)
		if err != nil {
			continue
		}
		v, err := strconv.ParseInt(strings.TrimSpace(string(data)), 10, 64)
		// "max" (v2), or a number near 2^63 (v1): no limit.
		if err != nil || v <= 0 || v >= 1<<62 {
			return 0
		}
		return v
	}
	return 0
}
