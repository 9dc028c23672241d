package checks

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
)

// CanonicalHost is the host of an address (host or host:port), spelled
// one way, so that a checker compares a task's address with its replica
// list whatever form the task gives it in.
func CanonicalHost(address string) string {
	host := strings.TrimSpace(address)
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.Trim(host, "[]")
	if a, err := netip.ParseAddr(host); err == nil {
		return a.Unmap().String()
	}
	return strings.ToLower(strings.TrimRight(host, "."))
}

// validHost reports whether a canonical host is an IP address or a DNS
// name.
func validHost(host string) bool {
	if _, err := netip.ParseAddr(host); err == nil {
		return true
	}
	if host == "" || host[0] == '.' || host[0] == '-' {
		return false
	}
	for _, r := range host {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '.' || r == '-') {
			return false
		}
	}
	return true
}

// ParseTargets reads a built-in checker's --targets list: comma-separated
// HOST=NAME pairs, each a replica's host and its name in the game (HOST
// alone is a replica run without a name). The keys are canonical hosts.
func ParseTargets(list string) (map[string]string, error) {
	out := make(map[string]string)
	for _, item := range strings.Split(list, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		host, name, _ := strings.Cut(item, "=")
		host, name = CanonicalHost(host), strings.TrimSpace(name)
		if !validHost(host) || strings.ContainsAny(name, " =") {
			return nil, fmt.Errorf("checker: target %q: want HOST=NAME", item)
		}
		if _, dup := out[host]; dup {
			return nil, fmt.Errorf("checker: target %q listed twice", host)
		}
		out[host] = name
	}
	if len(out) == 0 {
		return nil, errors.New("checker: no targets")
	}
	return out, nil
}
