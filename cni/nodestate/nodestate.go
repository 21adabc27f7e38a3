// Package nodestate keeps what one node remembers between CNI calls, in
// files under the plugin's data dir: a lock per (node, pool) that keeps the
// node's own ADDs from racing each other, and a round-robin cursor per
// (node, pool). Both are keyed by node name, so several simulated nodes on
// one machine behave like separate hosts.
//
// The cursor is best effort: a lost or unreadable file only changes which
// free address is picked next, never whether an address is handed out twice
// (the API server arbitrates that).
package nodestate

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"k8s.io/apimachinery/pkg/util/validation"
)

// lockPollInterval is how often a waiting ADD retries the lock. ADDs hold
// it for a few milliseconds, so a short poll keeps waiting cheap.
const lockPollInterval = 2 * time.Millisecond

// Dir is the state of one node under a data dir.
type Dir struct {
	path string
}

// Open returns the state of node under dataDir, creating its directory.
func Open(dataDir, node string) (*Dir, error) {
	if err := checkName("node", node); err != nil {
		return nil, err
	}
	path := filepath.Join(dataDir, node)
	if err := os.MkdirAll(path, 0o700); err != nil {
		return nil, fmt.Errorf("create the state directory: %w", err)
	}
	return &Dir{path: path}, nil
}

// checkName refuses names that could leave the data dir.
func checkName(kind, name string) error {
	if errs := validation.IsDNS1123Subdomain(name); len(errs) > 0 {
		return fmt.Errorf("%s name %q is not a DNS subdomain: %s", kind, name, strings.Join(errs, "; "))
	}
	return nil
}

// Lock takes the node's lock on every pool, in name order so that two ADDs
// never hold one lock each while waiting for the other's. It waits until
// ctx is done. The returned function releases the locks.
func (d *Dir) Lock(ctx context.Context, pools []string) (func(), error) {
	pools = slices.Sorted(slices.Values(pools))
	pools = slices.Compact(pools)
	var files []*os.File
	unlock := func() {
		for _, f := range files {
			_ = f.Close() // closing the descriptor releases the flock
		}
	}
	for _, pool := range pools {
		f, err := d.lockOne(ctx, pool)
		if err != nil {
			unlock()
			return nil, err
		}
		files = append(files, f)
	}
	return unlock, nil
}

func (d *Dir) lockOne(ctx context.Context, pool string) (*os.File, error) {
	if err := checkName("pool", pool); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(filepath.Join(d.path, pool+".lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open the lock of pool %s: %w", pool, err)
	}
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return f, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			_ = f.Close()
			return nil, fmt.Errorf("lock pool %s: %w", pool, err)
		}
		select {
		case <-ctx.Done():
			_ = f.Close()
			return nil, fmt.Errorf("wait for this node's lock on pool %s: %w", pool, ctx.Err())
		case <-time.After(lockPollInterval):
		}
	}
}

// Cursor returns the last address the node handed out from pool, or the
// zero Addr when there is none (or the file is unreadable).
func (d *Dir) Cursor(pool string) netip.Addr {
	data, err := os.ReadFile(d.cursorPath(pool))
	if err != nil {
		return netip.Addr{}
	}
	a, err := netip.ParseAddr(strings.TrimSpace(string(data)))
	if err != nil {
		return netip.Addr{}
	}
	return a
}

// SetCursor records a as the last address handed out from pool. It writes a
// new file and renames it, so a crash never leaves half a cursor.
func (d *Dir) SetCursor(pool string, a netip.Addr) error {
	if err := checkName("pool", pool); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(d.path, pool+".cursor.*")
	if err != nil {
		return fmt.Errorf("write the cursor of pool %s: %w", pool, err)
	}
	defer func() { _ = os.Remove(tmp.Name()) }()
	if _, err := tmp.WriteString(a.String() + "\n"); err != nil {
		_ = tmp.Close()
		return fmt.Errorf("write the cursor of pool %s: %w", pool, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write the cursor of pool %s: %w", pool, err)
	}
	return os.Rename(tmp.Name(), d.cursorPath(pool))
}

func (d *Dir) cursorPath(pool string) string {
	return filepath.Join(d.path, pool+".cursor")
}
