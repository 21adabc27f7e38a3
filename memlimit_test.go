package main

import (
	"math"
	"os"
	"runtime/debug"
	"testing"
)

func TestContainerMemoryLimit(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		want  int64
	}{
		{"cgroup v2 with a limit", map[string]string{"/sys/fs/cgroup/memory.max": "536870912\n"}, 536870912},
		{"cgroup v2 without a limit", map[string]string{"/sys/fs/cgroup/memory.max": "max\n"}, 0},
		{"cgroup v1 with a limit", map[string]string{"/sys/fs/cgroup/memory/memory.limit_in_bytes": "268435456\n"}, 268435456},
		{"cgroup v1 without a limit", map[string]string{"/sys/fs/cgroup/memory/memory.limit_in_bytes": "9223372036854771712\n"}, 0},
		{"no cgroup", nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			read := func(path string) ([]byte, error) {
				if v, ok := tt.files[path]; ok {
					return []byte(v), nil
				}
				return nil, os.ErrNotExist
			}
			if got := containerMemoryLimit(read); got != tt.want {
				t.Fatalf("limit = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestSetMemoryLimit(t *testing.T) {
	t.Setenv("GOMEMLIMIT", "")
	defer debug.SetMemoryLimit(math.MaxInt64)
	limit := setMemoryLimit(func(string) ([]byte, error) { return []byte("1000000000"), nil })
	if limit != 900000000 || debug.SetMemoryLimit(-1) != limit {
		t.Fatalf("soft limit %d, runtime's %d; want 90%% of the container's 1000000000", limit, debug.SetMemoryLimit(-1))
	}
}

func TestGOMEMLIMITWins(t *testing.T) {
	t.Setenv("GOMEMLIMIT", "1GiB")
	if got := setMemoryLimit(func(string) ([]byte, error) { return []byte("536870912"), nil }); got != 0 {
		t.Fatalf("set a limit of %d although GOMEMLIMIT is set", got)
	}
}
