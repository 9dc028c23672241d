package gateway

import (
	"context"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/proxy"
)

// benchGateway serves a gateway in front of a target that echoes
// whatever it reads.
func benchGateway(b *testing.B) (proxy.Dialer, string) {
	b.Helper()
	tl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := tl.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				io.Copy(c, c)
				c.Close()
			})
		}
	})
	g, err := New(Options{Team: team, Password: token, Source: team7Source,
		Allow: []Rule{AllowAddrPort(addrPortOf(tl.Addr()))}, MaxConns: 4096})
	if err != nil {
		b.Fatal(err)
	}
	gl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	wg.Go(func() { g.Serve(context.Background(), gl) })
	b.Cleanup(func() {
		g.Close()
		tl.Close()
		wg.Wait()
	})
	d, err := proxy.SOCKS5("tcp", gl.Addr().String(), &proxy.Auth{User: team, Password: token}, proxy.Direct)
	if err != nil {
		b.Fatal(err)
	}
	return d, tl.Addr().String()
}

// BenchmarkConnect is a whole connection through the gateway: SOCKS
// negotiation, authentication, the dial from the team's address, one
// round trip and the close (which records the telemetry).
func BenchmarkConnect(b *testing.B) {
	d, target := benchGateway(b)
	buf := []byte{'x'}
	start := time.Now()
	for b.Loop() {
		c, err := d.Dial("tcp", target)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := c.Write(buf); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(c, buf); err != nil {
			b.Fatal(err)
		}
		c.Close()
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "conns/s")
}

// BenchmarkThroughput is the cost of relaying (and counting) bytes
// through an open connection, both ways.
func BenchmarkThroughput(b *testing.B) {
	d, target := benchGateway(b)
	c, err := d.Dial("tcp", target)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	const chunk = 64 << 10
	out, in := make([]byte, chunk), make([]byte, chunk)
	b.SetBytes(2 * chunk)
	start := time.Now()
	for b.Loop() {
		errc := make(chan error, 1)
		go func() { _, err := c.Write(out); errc <- err }()
		if _, err := io.ReadFull(c, in); err != nil {
			b.Fatal(err)
		}
		if err := <-errc; err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)*2*chunk/time.Since(start).Seconds()/1e6, "MB/s")
}
