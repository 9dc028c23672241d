package main

import (
	"net"
	"strings"
	"testing"
)

func TestProbe(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Write([]byte("hello\n"))
			c.Close()
		}
	}()
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedAddr := closed.Addr().String()
	closed.Close()
	defer l.Close()

	tests := []struct {
		desc string
		args []string
		code int
		out  string
	}{
		{"connects", []string{"probe", "tcp", l.Addr().String()}, 0, "received hello"},
		{"flags after the address", []string{"probe", "tcp", l.Addr().String(), "--timeout", "1s"}, 0, "connected to " + l.Addr().String()},
		{"refused", []string{"probe", "tcp", closedAddr, "--timeout", "1s"}, 1, "no connection"},
		{"no unix socket", []string{"probe", "unix", t.TempDir() + "/docker.sock"}, 1, "no connection"},
		{"no address", []string{"probe", "tcp"}, 2, "usage"},
		{"unknown", []string{"probe", "udp", "x"}, 2, "usage"},
		{"listen without address", []string{"probe", "listen"}, 2, "usage"},
		{"ready", []string{"probe", "ready", l.Addr().String(), "--timeout", "1s"}, 0, "ready: " + l.Addr().String()},
		{"not ready", []string{"probe", "ready", l.Addr().String(), closedAddr, "--timeout", "300ms"}, 1, "nothing listens on " + closedAddr},
		{"ready without address", []string{"probe", "ready"}, 2, "usage"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			code, out, errs := runMain(t, tt.args...)
			if code != tt.code || !strings.Contains(out+errs, tt.out) {
				t.Errorf("code %d (want %d), out %q, err %q (want %q)", code, tt.code, out, errs, tt.out)
			}
		})
	}
}

func TestImagesUsage(t *testing.T) {
	for _, args := range [][]string{{"images"}, {"images", "push"}, {"images", "build", "extra"}} {
		if code, _, errs := runMain(t, args...); code != 2 || !strings.Contains(errs, "usage") {
			t.Errorf("%v: code %d, %q", args, code, errs)
		}
	}
}
