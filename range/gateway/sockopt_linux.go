package gateway

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// bindNoPort lets the kernel choose the local port of a connection bound
// to the team's source address at connect time, by the whole 4-tuple,
// instead of at bind time, when it must find a port free for every
// destination: that search grows slow with many connections in TIME_WAIT
// and caps a team at one connection per port of its source address.
func bindNoPort(_, _ string, c syscall.RawConn) error {
	var serr error
	err := c.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_BIND_ADDRESS_NO_PORT, 1)
	})
	if err != nil {
		return err
	}
	return serr
}
