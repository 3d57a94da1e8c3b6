package main

import (
	"io/fs"
	"testing"
)

func TestContainerMemoryLimit(t *testing.T) {
	const v2, v1 = "/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"
	for _, tt := range []struct {
		name  string
		files map[string]string
		want  int64
	}{
		{"no cgroup files", nil, 0},
		{"version 2 limit", map[string]string{v2: "536870912\n"}, 536870912},
		{"version 2 without a limit", map[string]string{v2: "max\n", v1: "1073741824\n"}, 0},
		{"version 1 limit", map[string]string{v1: "1073741824\n"}, 1073741824},
		{"version 1 without a limit", map[string]string{v1: "9223372036854771712\n"}, 0},
		{"unreadable", map[string]string{v2: "lots"}, 0},
	} {
		read := func(path string) ([]byte, error) {
			if text, ok := tt.files[path]; ok {
				return []byte(text), nil
			}
			return nil, fs.ErrNotExist
		}
		if got := containerMemoryLimit(read); got != tt.want {
			t.Errorf("%s: %d, want %d", tt.name, got, tt.want)
		}
	}
}
