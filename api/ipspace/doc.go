// Package ipspace is the address maths of pools: exact 128-bit counting,
// usable addresses (a prefix minus exclusions, the gateway and the reserved
// addresses), the layout of node blocks and the search for free ones, and
// the one-to-one codec between addresses and IPClaim names. It is pure: no
// Kubernetes client, no disk, and it never walks a range address by
// address, so an IPv6 /48 costs what an IPv4 /24 does.
package ipspace
