//go:build !linux

package gateway

import "syscall"

// bindNoPort has no equivalent here: the port is chosen at bind time.
func bindNoPort(_, _ string, _ syscall.RawConn) error { return nil }
