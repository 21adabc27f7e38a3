// Package nodestate keeps what one node remembers between CNI calls, in
// files under the plugin's data dir: a lock per (node, pool) that keeps the
// node's own ADDs from racing each other, and per (node, pool) a round-robin
// cursor and the resourceVersion of the node's last claim. All are keyed by
// node name, so several simulated nodes on one machine behave like separate
// hosts.
//
// The state is best effort: a lost or unreadable file only changes which
// free address is picked next and how fresh the next read must be, never
// whether an address is handed out twice (the API server arbitrates that).
package nodestate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/ipkeeper/ipkeeper/cni/filelock"
)

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
	// A blocking flock lets the kernel wake the next waiter the moment
	// the lock is free, without waiters burning CPU on polling. It cannot
	// be cancelled, so it runs aside; if the caller gave up meanwhile, the
	// lock is released as soon as it is taken.
	acquired := make(chan error, 1)
	go func() { acquired <- filelock.Exclusive(f) }()
	select {
	case err := <-acquired:
		if err != nil {
			_ = f.Close()
			return nil, fmt.Errorf("lock pool %s: %w", pool, err)
		}
		return f, nil
	case <-ctx.Done():
		go releaseWhenTaken(f, acquired)
		return nil, fmt.Errorf("wait for this node's lock on pool %s: %w", pool, ctx.Err())
	}
}

// releaseWhenTaken waits for a flock the caller gave up on and closes its
// file, which releases the lock if it was taken after all.
func releaseWhenTaken(f *os.File, acquired <-chan error) {
	defer func() { _ = f.Close() }()
	if err := <-acquired; err != nil {
		return // not taken: nothing to release but the descriptor
	}
}

// PoolState is what the node remembers of one pool.
type PoolState struct {
	// Cursor is the last address the node handed out from the pool; the
	// next search starts after it.
	Cursor netip.Addr `json:"cursor"`
	// ResourceVersion is that of the node's last claim in the pool. The
	// next ADD lists the node's claims "not older than" it: it sees its own
	// writes without waiting for the API server's cache to catch up with
	// every other write in the cluster.
	ResourceVersion string `json:"resourceVersion,omitempty"`
	// PoolUID is the UID of the pool the state was kept for. A version
	// remembered for a pool of another UID (the pool was deleted and made
	// again, or the cluster was rebuilt under the node) may be one this API
	// server never reached: reading "not older than" it would wait until
	// the API server gives up.
	PoolUID string `json:"poolUID,omitempty"`
}

// Trusted reports whether the state's resourceVersion may be asked for
// of the pool with uid: it was kept for that pool, or for a pool of unknown
// UID (a state written before UIDs were kept).
func (st PoolState) Trusted(uid string) bool {
	return st.PoolUID == "" || st.PoolUID == uid
}

// Pool returns what the node remembers of pool; a missing or unreadable
// file is an empty state.
func (d *Dir) Pool(pool string) PoolState {
	var st PoolState
	data, err := os.ReadFile(d.statePath(pool))
	if err != nil || json.Unmarshal(data, &st) != nil {
		return PoolState{}
	}
	return st
}

// SavePool records st for pool. It writes a new file and renames it, so a
// crash never leaves half a state.
func (d *Dir) SavePool(pool string, st PoolState) error {
	if err := checkName("pool", pool); err != nil {
		return err
	}
	data, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("save the state of pool %s: %w", pool, err)
	}
	tmp, err := os.CreateTemp(d.path, pool+".state.*")
	if err != nil {
		return fmt.Errorf("save the state of pool %s: %w", pool, err)
	}
	defer func() { _ = os.Remove(tmp.Name()) }()
	if _, err := tmp.Write(data); err != nil {
		_ = tmp.Close()
		return fmt.Errorf("save the state of pool %s: %w", pool, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("save the state of pool %s: %w", pool, err)
	}
	if err := os.Rename(tmp.Name(), d.statePath(pool)); err != nil {
		return fmt.Errorf("save the state of pool %s: %w", pool, err)
	}
	return nil
}

// Pools returns what the node remembers of every pool.
func (d *Dir) Pools() []PoolState {
	files, _ := filepath.Glob(filepath.Join(d.path, "*.state"))
	states := make([]PoolState, 0, len(files))
	for _, f := range files {
		states = append(states, d.Pool(strings.TrimSuffix(filepath.Base(f), ".state")))
	}
	return states
}

// ForgetNewerThan drops every remembered resourceVersion newer than rv,
// the version of a claim just created: the node cannot have written
// anything newer to this API server, so such versions come from another
// cluster, and a DEL, which reads not older than the newest version of any
// pool, would wait for them in vain.
func (d *Dir) ForgetNewerThan(rv string) error {
	limit, err := strconv.ParseUint(rv, 10, 64)
	if err != nil {
		return nil // not a number: nothing to compare
	}
	files, _ := filepath.Glob(filepath.Join(d.path, "*.state"))
	var errs []error
	for _, f := range files {
		pool := strings.TrimSuffix(filepath.Base(f), ".state")
		st := d.Pool(pool)
		if v, err := strconv.ParseUint(st.ResourceVersion, 10, 64); err == nil && v > limit {
			st.ResourceVersion = ""
			errs = append(errs, d.SavePool(pool, st))
		}
	}
	return errors.Join(errs...)
}

// NewestResourceVersion returns the newest resourceVersion among states, or
// "" when there is none. Resource versions are compared as the numbers the
// API server issues; one that is not a number is ignored.
func NewestResourceVersion(states ...PoolState) string {
	var newest uint64
	for _, st := range states {
		if v, err := strconv.ParseUint(st.ResourceVersion, 10, 64); err == nil && v > newest {
			newest = v
		}
	}
	if newest == 0 {
		return ""
	}
	return strconv.FormatUint(newest, 10)
}

func (d *Dir) statePath(pool string) string {
	return filepath.Join(d.path, pool+".state")
}
