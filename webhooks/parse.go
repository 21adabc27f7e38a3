package webhooks

import (
	"net/netip"
)

// family names the address family of a, for messages.
func family(a netip.Addr) string {
	if a.Is4() {
		return "IPv4"
	}
	return "IPv6"
}
