package nodeagent

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
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
	ownerName = "agent-version"
)

// Version orders the node agents that may run on a node: those of a
// DaemonSet created later (Epoch) are newer, and among the agents of one
// DaemonSet those of a higher pod-template generation. The generation
// alone would not do: a DaemonSet deleted and created again starts at 1,
// and its agents would yield for ever to the gone ones it replaces.
type Version struct {
	// Epoch is when the operator created the agent's DaemonSet, in Unix
	// nanoseconds (0 when unknown).
	Epoch int64
	// Generation is the pod-template generation of the agent's pod.
	Generation int64
}

// newerThan reports whether v is newer than o.
func (v Version) newerThan(o Version) bool {
	if v.Epoch != o.Epoch {
		return v.Epoch > o.Epoch
	}
	return v.Generation > o.Generation
}

// String is the version as the owner file records it: epoch, then
// generation.
func (v Version) String() string { return fmt.Sprintf("%d %d", v.Epoch, v.Generation) }

// owning takes the node's agent lock and, unless a newer agent owns the
// node side, records this one, of version v, as its owner. It returns the
// function that releases the lock, and ErrSuperseded when a newer agent
// owns it.
func owning(dir string, v Version) (func(), error) {
	lock, err := os.OpenFile(filepath.Join(dir, lockName), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open the node agents' lock: %w", err)
	}
	unlock := func() { _ = lock.Close() } // closing releases the flock
	if err := filelock.Exclusive(lock); err != nil {
		unlock()
		return nil, fmt.Errorf("take the node agents' lock: %w", err)
	}
	owner, err := readVersion(filepath.Join(dir, ownerName))
	if err == nil && owner.newerThan(v) {
		unlock()
		return nil, fmt.Errorf("%w (epoch and generation %s, in %s; this one's are %s): if no other node-agent pod runs on this node, delete that file, and this agent writes at its next look",
			ErrSuperseded, owner, filepath.Join(dir, ownerName), v)
	}
	if _, err := atomicfile.WriteBytes(filepath.Join(dir, ownerName), 0o644, []byte(v.String()+"\n")); err != nil {
		unlock()
		return nil, err
	}
	return unlock, nil
}

// readVersion reads the version an owner file records. A file it cannot
// read names no owner: the agent reading it takes over.
func readVersion(path string) (Version, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Version{}, err
	}
	var v Version
	if _, err := fmt.Sscanf(strings.TrimSpace(string(data)), "%d %d", &v.Epoch, &v.Generation); err != nil {
		return Version{}, fmt.Errorf("read %s: %w", path, err)
	}
	return v, nil
}
