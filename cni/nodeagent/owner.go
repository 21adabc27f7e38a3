package nodeagent

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/ipkeeper/ipkeeper/cni/atomicfile"
	"github.com/ipkeeper/ipkeeper/cni/filelock"
)

// ErrSuperseded is what Sync returns when a newer node agent writes on
// this node: during a rolling update the new agent runs beside the old
// one, and only the newest may write, or the old one would put back the
// token that stops working when its pod goes.
var ErrSuperseded = errors.New("a newer node agent writes on this node")

// Names, in the kubeconfig's directory, of the lock that serialises the
// agents of a node and of the file naming the newest one.
const (
	lockName  = ".lock"
	ownerName = "agent-generation"
)

// owning takes the node's agent lock and, unless a newer agent (a higher
// pod-template generation of the DaemonSet) owns the node side, records
// this one as its owner. It returns the function that releases the lock,
// and ErrSuperseded when a newer agent owns it.
func owning(dir string, generation int64) (func(), error) {
	lock, err := os.OpenFile(filepath.Join(dir, lockName), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open the node agents' lock: %w", err)
	}
	unlock := func() { _ = lock.Close() } // closing releases the flock
	if err := filelock.Exclusive(lock); err != nil {
		unlock()
		return nil, fmt.Errorf("take the node agents' lock: %w", err)
	}
	owner, err := readGeneration(filepath.Join(dir, ownerName))
	if err == nil && owner > generation {
		unlock()
		return nil, fmt.Errorf("%w (generation %d; this one is %d)", ErrSuperseded, owner, generation)
	}
	if _, err := atomicfile.WriteBytes(filepath.Join(dir, ownerName), 0o644, []byte(strconv.FormatInt(generation, 10)+"\n")); err != nil {
		unlock()
		return nil, err
	}
	return unlock, nil
}

// readGeneration reads the generation an owner file records.
func readGeneration(path string) (int64, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	return strconv.ParseInt(strings.TrimSpace(string(data)), 10, 64)
}
