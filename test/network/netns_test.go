package network

import (
	"errors"
	"fmt"
	"net"
	"os"
	"runtime"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
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
	for seq := 1; seq <= 5; seq++ {
		if err := echo(conn, dst, id, seq); err == nil {
			return nil
		}
	}
	return fmt.Errorf("no echo reply from %s to %s", dst, n.name)
}

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
