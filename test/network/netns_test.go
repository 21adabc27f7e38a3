package network

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
	"golang.org/x/sys/unix"
)

// netNS is a named network namespace the test created.
type netNS struct {
	name string
}

// path is what the runtime passes as CNI_NETNS.
func (n netNS) path() string { return "/var/run/netns/" + n.name }

// newNetNS creates a named network namespace, as `ip netns add` does,
// without leaving the calling goroutine in it.
func newNetNS(name string) (netNS, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	orig, err := netns.Get()
	if err != nil {
		return netNS{}, err
	}
	defer func() { _ = orig.Close() }()
	created, err := netns.NewNamed(name)
	if err != nil {
		return netNS{}, fmt.Errorf("create network namespace %s: %w", name, err)
	}
	_ = created.Close()
	if err := netns.Set(orig); err != nil {
		return netNS{}, fmt.Errorf("return from network namespace %s: %w", name, err)
	}
	return netNS{name: name}, nil
}

// nameCurrentNetNS gives the test's own network namespace a name, as `ip
// netns add` names a new one, so that a process can enter it by path.
func nameCurrentNetNS(name string) (netNS, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	path := netNS{name: name}.path()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return netNS{}, err
	}
	f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE|os.O_EXCL, 0o444)
	if err != nil {
		return netNS{}, err
	}
	_ = f.Close()
	if err := unix.Mount(fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid()), path, "none", unix.MS_BIND, ""); err != nil {
		return netNS{}, errors.Join(fmt.Errorf("name network namespace %s: %w", name, err), os.Remove(path))
	}
	return netNS{name: name}, nil
}

func (n netNS) delete() error {
	return netns.DeleteNamed(n.name)
}

// do runs f with the calling thread in the namespace.
func (n netNS) do(f func() error) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	orig, err := netns.Get()
	if err != nil {
		return err
	}
	defer func() { _ = orig.Close() }()
	target, err := netns.GetFromName(n.name)
	if err != nil {
		return err
	}
	defer func() { _ = target.Close() }()
	if err := netns.Set(target); err != nil {
		return err
	}
	defer func() { _ = netns.Set(orig) }()
	return f()
}

// addresses returns the IPv4 addresses on ifname inside the namespace.
func (n netNS) addresses(ifname string) ([]*net.IPNet, error) {
	var out []*net.IPNet
	err := n.do(func() error {
		link, err := netlink.LinkByName(ifname)
		if err != nil {
			return err
		}
		addrs, err := netlink.AddrList(link, netlink.FAMILY_V4)
		for _, a := range addrs {
			out = append(out, a.IPNet)
		}
		return err
	})
	return out, err
}

// linkUpTimeout bounds the wait for a link to be operationally up.
const linkUpTimeout = 5 * time.Second

// waitUp waits until link name in the namespace is operationally up. The
// kernel reports a carrier change a moment after the fact, up to a second
// later for a veth end whose index equals its peer's; until then a bridge
// does not forward through the end.
func (n netNS) waitUp(name string) error {
	deadline := time.Now().Add(linkUpTimeout)
	for {
		var state netlink.LinkOperState
		err := n.do(func() error {
			link, err := netlink.LinkByName(name)
			if err == nil {
				state = link.Attrs().OperState
			}
			return err
		})
		switch {
		case err != nil:
			return err
		case state == netlink.OperUp:
			return nil
		case time.Now().After(deadline):
			return fmt.Errorf("link %s in %s is still %s after %v", name, n.name, state, linkUpTimeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// ping sends an ICMP echo from inside the namespace to dst and waits for
// the reply.
func (n netNS) ping(dst net.IP) error {
	var conn *icmp.PacketConn
	err := n.do(func() error {
		var err error
		conn, err = icmp.ListenPacket("ip4:icmp", "0.0.0.0")
		return err
	})
	if err != nil {
		return fmt.Errorf("open an ICMP socket in %s: %w", n.name, err)
	}
	defer func() { _ = conn.Close() }()
	id := os.Getpid() & 0xffff
	deadline := time.Now().Add(pingTimeout)
	for seq := 1; ; seq++ {
		err = echo(conn, dst, id, seq)
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no echo reply from %s to %s within %v: %w", dst, n.name, pingTimeout, err)
		}
		// A send can fail at once while a fresh link settles: do not
		// spend the attempts in a burst.
		time.Sleep(100 * time.Millisecond)
	}
}

// pingTimeout bounds the attempts of ping.
const pingTimeout = 5 * time.Second

func echo(conn *icmp.PacketConn, dst net.IP, id, seq int) error {
	msg := icmp.Message{Type: ipv4.ICMPTypeEcho, Body: &icmp.Echo{ID: id, Seq: seq, Data: []byte("ipkeeper")}}
	raw, err := msg.Marshal(nil)
	if err != nil {
		return err
	}
	if _, err := conn.WriteTo(raw, &net.IPAddr{IP: dst}); err != nil {
		return err
	}
	buf := make([]byte, 1500)
	if err := conn.SetReadDeadline(time.Now().Add(time.Second)); err != nil {
		return err
	}
	for {
		n, peer, err := conn.ReadFrom(buf)
		if err != nil {
			return err
		}
		reply, err := icmp.ParseMessage(1, buf[:n])
		if err != nil || reply.Type != ipv4.ICMPTypeEchoReply || !peer.(*net.IPAddr).IP.Equal(dst) {
			continue
		}
		if body, ok := reply.Body.(*icmp.Echo); ok && body.Seq == seq {
			return nil
		}
		return errors.New("unexpected echo reply")
	}
}
