package local

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	cyberrange "github.com/cyrange/cyrange/range"
)

// readyPoll is how often WaitReady looks again.
const readyPoll = 20 * time.Millisecond

// WaitReady waits until the container's own process listens on each of
// its ports at its address. Any local process may bind any loopback
// address, so a dial that succeeds proves nothing: a foreign process (a
// range left by a failed run, another exercise) may be the one that
// answers, and the exercise would then plant flags in it. The listening
// socket must be one of the container's process's, which /proc tells. A
// process that exits, or a port another process holds, ends the wait at
// once with the reason.
func (d *Driver) WaitReady(ctx context.Context, c cyberrange.Container) error {
	if len(c.Networks) == 0 {
		return nil
	}
	addr := c.Networks[0].Address
	for _, p := range c.Ports {
		ap := netip.AddrPortFrom(addr, uint16(p.Number))
		for {
			rec, err := d.readContainer(c.Name)
			if err != nil {
				return fmt.Errorf("local: %s: %w", c.Name, err)
			}
			// A published port (a gateway's) listens where it was
			// published, on the port it got.
			if got, err := netip.ParseAddrPort(rec.Ports[p.Name]); err == nil {
				ap = got
			}
			if !rec.alive() {
				return fmt.Errorf("local: %s exited before it listened on %s (%s): %s", c.Name, ap, p.Name, d.lastLine(c.Name))
			}
			owned, err := listensOn(rec.Process.Pid, ap)
			switch {
			case err != nil && !rec.alive():
				// It died while we looked: say so, not what the look
				// tripped on.
				return fmt.Errorf("local: %s exited before it listened on %s (%s): %s", c.Name, ap, p.Name, d.lastLine(c.Name))
			case errors.Is(err, errForeign):
				return fmt.Errorf("local: %s: %s (%s): %w", c.Name, ap, p.Name, err)
			case err != nil:
				return fmt.Errorf("local: %s: %w", c.Name, err)
			}
			if owned {
				break
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("local: %s: nothing listens on %s (%s): %w", c.Name, ap, p.Name, ctx.Err())
			case <-time.After(readyPoll):
			}
		}
	}
	return nil
}

// errForeign: another process listens where a container should.
var errForeign = errors.New("another process listens there (a range left behind, or another exercise): take it down first")

// listensOn reports whether process pid holds the socket that accepts
// connections to ap: the listener bound to ap itself, or else one bound
// to the wildcard address on ap's port, as the kernel chooses. It is
// errForeign when that socket is another process's.
func listensOn(pid int, ap netip.AddrPort) (bool, error) {
	exact, wild, err := listeners(pid, ap)
	if err != nil {
		return false, err
	}
	chosen := exact
	if len(chosen) == 0 {
		chosen = wild
	}
	if len(chosen) == 0 {
		return false, nil
	}
	mine, err := socketInodes(pid)
	if err != nil {
		return false, err
	}
	for _, ino := range chosen {
		if mine[ino] {
			return true, nil
		}
	}
	return false, errForeign
}

// listeners returns the inodes of the listening TCP sockets bound to ap,
// and of those bound to the wildcard address on its port, in the network
// namespace of pid.
func listeners(pid int, ap netip.AddrPort) (exact, wild []uint64, err error) {
	for _, name := range []string{"tcp", "tcp6"} {
		b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "net", name))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, nil, fmt.Errorf("local: reading the sockets: %w", err)
		}
		e, w := parseListeners(b, ap)
		exact, wild = append(exact, e...), append(wild, w...)
	}
	return exact, wild, nil
}

// tcpListen is the state of a listening socket in /proc/net/tcp.
const tcpListen = "0A"

// parseListeners reads /proc/net/tcp or tcp6 text: after a header, one
// socket a line, "sl local_address rem_address st ... uid timeout inode",
// addresses as hex words in the host's byte order (little endian here).
func parseListeners(b []byte, ap netip.AddrPort) (exact, wild []uint64) {
	sc := bufio.NewScanner(bytes.NewReader(b))
	first := true
	for sc.Scan() {
		if first {
			first = false
			continue
		}
		f := strings.Fields(sc.Text())
		if len(f) < 10 || f[3] != tcpListen {
			continue
		}
		local, ok := parseProcAddr(f[1])
		if !ok || local.Port() != ap.Port() {
			continue
		}
		ino, err := strconv.ParseUint(f[9], 10, 64)
		if err != nil {
			continue
		}
		switch a := local.Addr().Unmap(); {
		case a == ap.Addr().Unmap():
			exact = append(exact, ino)
		case a.IsUnspecified():
			wild = append(wild, ino)
		}
	}
	return exact, wild
}

// parseProcAddr decodes "0100007F:1F90" (IPv4) or the 32-digit IPv6 form:
// the address as 32-bit words each in little-endian order, the port big
// endian.
func parseProcAddr(s string) (netip.AddrPort, bool) {
	host, port, ok := strings.Cut(s, ":")
	if !ok {
		return netip.AddrPort{}, false
	}
	raw, err := hex.DecodeString(host)
	if err != nil || (len(raw) != 4 && len(raw) != 16) {
		return netip.AddrPort{}, false
	}
	for i := 0; i+4 <= len(raw); i += 4 {
		raw[i], raw[i+1], raw[i+2], raw[i+3] = raw[i+3], raw[i+2], raw[i+1], raw[i]
	}
	p, err := strconv.ParseUint(port, 16, 16)
	if err != nil {
		return netip.AddrPort{}, false
	}
	a, _ := netip.AddrFromSlice(raw)
	return netip.AddrPortFrom(a, uint16(p)), true
}

// socketInodes returns the inodes of the sockets process pid holds open.
func socketInodes(pid int) (map[uint64]bool, error) {
	dir := filepath.Join("/proc", strconv.Itoa(pid), "fd")
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("local: reading pid %d's files: %w", pid, err)
	}
	out := map[uint64]bool{}
	for _, e := range ents {
		l, err := os.Readlink(filepath.Join(dir, e.Name()))
		if err != nil {
			continue // closed meanwhile
		}
		if s, ok := strings.CutPrefix(l, "socket:["); ok {
			if ino, err := strconv.ParseUint(strings.TrimSuffix(s, "]"), 10, 64); err == nil {
				out[ino] = true
			}
		}
	}
	return out, nil
}

// lastLine is the last line a container's process wrote, for the
// message of a process that died starting.
func (d *Driver) lastLine(name string) string {
	f, err := os.Open(filepath.Join(d.containerDir(name), "output.log"))
	if err != nil {
		return cyberrange.LastLine(nil)
	}
	defer f.Close()
	const window = 4 << 10
	if st, err := f.Stat(); err == nil && st.Size() > window {
		f.Seek(st.Size()-window, io.SeekStart)
	}
	b, _ := io.ReadAll(io.LimitReader(f, window))
	return cyberrange.LastLine(b)
}
