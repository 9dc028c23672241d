package logship

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// missing skips, or fails with CYRANGE_REQUIRE_TOOLS=1 (as in CI).
func missing(t *testing.T, what string) {
	t.Helper()
	if os.Getenv("CYRANGE_REQUIRE_TOOLS") == "1" {
		t.Fatalf("%s not installed", what)
	}
	t.Skipf("%s not installed", what)
}

func rsyslogd(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("rsyslogd")
	if err != nil {
		if _, err := os.Stat("/usr/sbin/rsyslogd"); err != nil {
			missing(t, "rsyslogd")
		}
		p = "/usr/sbin/rsyslogd"
	}
	return p
}

// collector is a real rsyslog on loopback writing what it receives, one
// line per message, to a file.
type collector struct {
	t    *testing.T
	bin  string
	conf string
	out  string
	addr string
	cmd  *exec.Cmd
}

// outTemplate keeps the fields a SOC's rules would use.
const outTemplate = `%hostname%|%app-name%|%structured-data%|%msg%\n`

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startCollector writes a config (TLS when tlsDir holds ca.pem, cert.pem,
// key.pem) and starts rsyslogd.
func startCollector(t *testing.T, tlsDir string) *collector {
	t.Helper()
	bin := rsyslogd(t)
	dir := t.TempDir()
	port := freePort(t)
	c := &collector{t: t, bin: bin, conf: filepath.Join(dir, "rsyslog.conf"),
		out: filepath.Join(dir, "out.log"), addr: fmt.Sprintf("127.0.0.1:%d", port)}
	var conf strings.Builder
	fmt.Fprintf(&conf, "global(workDirectory=%q)\n", dir)
	if tlsDir != "" {
		if m, _ := filepath.Glob("/usr/lib/*/rsyslog/lmnsd_gtls.so"); len(m) == 0 {
			missing(t, "rsyslog-gnutls")
		}
		fmt.Fprintf(&conf, "global(DefaultNetstreamDriver=\"gtls\" DefaultNetstreamDriverCAFile=%q DefaultNetstreamDriverCertFile=%q DefaultNetstreamDriverKeyFile=%q)\n",
			filepath.Join(tlsDir, "ca.pem"), filepath.Join(tlsDir, "cert.pem"), filepath.Join(tlsDir, "key.pem"))
		conf.WriteString("module(load=\"imtcp\" StreamDriver.Name=\"gtls\" StreamDriver.Mode=\"1\" StreamDriver.AuthMode=\"anon\")\n")
	} else {
		conf.WriteString("module(load=\"imtcp\")\n")
	}
	// Octet-counted framing is imtcp's default (SupportOctetCountedFraming).
	fmt.Fprintf(&conf, "input(type=\"imtcp\" address=\"127.0.0.1\" port=\"%d\" SupportOctetCountedFraming=\"on\")\n", port)
	fmt.Fprintf(&conf, "template(name=\"soc\" type=\"string\" string=\"%s\")\n", outTemplate)
	fmt.Fprintf(&conf, "*.* action(type=\"omfile\" file=%q template=\"soc\")\n", c.out)
	if err := os.WriteFile(c.conf, []byte(conf.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	c.start()
	t.Cleanup(c.stop)
	return c
}

func (c *collector) start() {
	c.t.Helper()
	cmd := exec.Command(c.bin, "-n", "-f", c.conf, "-i", filepath.Join(filepath.Dir(c.conf), "rsyslogd.pid"))
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	// Its complaints (the readiness probe's bare TCP connection to a TLS
	// port) go to a file beside the config, not the test's output.
	logf, err := os.OpenFile(filepath.Join(filepath.Dir(c.conf), "rsyslogd.stderr"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		c.t.Fatal(err)
	}
	defer logf.Close()
	cmd.Stderr = logf
	if err := cmd.Start(); err != nil {
		c.t.Fatal(err)
	}
	c.cmd = cmd
	// Ready when it accepts a connection; an empty session is harmless.
	for i := 0; ; i++ {
		conn, err := net.Dial("tcp", c.addr)
		if err == nil {
			conn.Close()
			return
		}
		if i == 200 {
			c.stop()
			c.t.Fatalf("rsyslogd did not listen on %s: %v", c.addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stop kills rsyslogd, as a crash would, and waits for it.
func (c *collector) stop() {
	if c.cmd == nil {
		return
	}
	syscall.Kill(-c.cmd.Process.Pid, syscall.SIGKILL)
	c.cmd.Wait()
	c.cmd = nil
}

// line is one message as rsyslog wrote it.
type line struct {
	host, app, sd, msg string
	seq                int
}

// wait reads the output until pred holds, failing after a generous bound
// (a hang, not a performance check).
func (c *collector) wait(pred func([]line) bool) []line {
	c.t.Helper()
	for i := 0; ; i++ {
		ls := c.lines()
		if pred(ls) {
			return ls
		}
		if i == 1200 {
			c.t.Fatalf("collector has %d lines; condition never met", len(ls))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (c *collector) lines() []line {
	c.t.Helper()
	f, err := os.Open(c.out)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		c.t.Fatal(err)
	}
	defer f.Close()
	var ls []line
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		p := strings.SplitN(sc.Text(), "|", 4)
		if len(p) != 4 {
			c.t.Fatalf("line %.200q", sc.Text())
		}
		l := line{host: p[0], app: p[1], sd: p[2], msg: p[3]}
		var m struct{ Seq int }
		if err := json.Unmarshal([]byte(l.msg), &m); err != nil {
			c.t.Fatalf("message %.200q: %v", l.msg, err)
		}
		l.seq = m.Seq
		ls = append(ls, l)
	}
	return ls
}

// target makes record i: a JSON line whose service and replica values need
// every escape RFC 5424 has.
func target(i int) Record {
	return Record{Time: time.Now(), Host: "portal-team1", App: "portal",
		Data:    map[string]string{"service": `portal"]\`, "replica": "portal-team1"},
		Message: fmt.Appendf(nil, `{"seq":%d,"msg":"GET /login \"x\" ]"}`, i)}
}

const wantSD = `[cyrange replica="portal-team1" service="portal\"\]\\"]`

func checkLines(t *testing.T, ls []line) {
	t.Helper()
	for i, l := range ls {
		if l.host != "portal-team1" || l.app != "portal" || l.sd != wantSD {
			t.Fatalf("line %d: %+v, want SD %s", i, l, wantSD)
		}
		if i > 0 && l.seq <= ls[i-1].seq {
			t.Fatalf("out of order: %d after %d", l.seq, ls[i-1].seq)
		}
	}
}

// sendPaced sends records from..to-1, waiting for the buffer to empty
// after each step records.
func sendPaced(t *testing.T, s *Shipper, from, to, step int) {
	t.Helper()
	for i := from; i < to; i++ {
		if !s.Send(target(i)) {
			t.Fatal("Send refused")
		}
		if (i-from+1)%step != 0 && i != to-1 {
			continue
		}
		for j := 0; s.Stats().Queued > 0; j++ {
			if j == 1200 {
				t.Fatalf("buffer never drained: %+v", s.Stats())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

func countTo(n int) func([]line) bool {
	return func(ls []line) bool { return len(ls) >= n }
}

// TestRsyslogTCP: every record arrives in order with its structured data;
// with rsyslog killed, Send keeps returning at once, the loss is bounded by
// the buffer and counted; after a restart delivery resumes.
func TestRsyslogTCP(t *testing.T) {
	c := startCollector(t, "")
	const buffer, batch = 100, 10
	s := NewSyslog(SyslogConfig{Addr: c.addr}, Options{Buffer: buffer, Batch: batch,
		MinBackoff: 10 * time.Millisecond, MaxBackoff: 200 * time.Millisecond})
	t.Cleanup(func() { s.Close(context.Background()) })

	// A loop outruns any socket: while the collector is up, send in
	// buffer-sized steps so that nothing is dropped.
	const n1, n2, n3 = 500, 1000, 500
	sendPaced(t, s, 0, n1, buffer)
	checkLines(t, c.wait(countTo(n1)))

	c.stop()
	before := s.Stats()
	for i := n1; i < n1+n2; i++ {
		if !s.Send(target(i)) {
			t.Fatal("Send refused")
		}
	}
	during := s.Stats()
	checkInvariant(t, during)
	if during.Queued > buffer {
		t.Fatalf("queued %d > buffer %d", during.Queued, buffer)
	}
	// Everything sent while down is queued, dropped, or (at most one batch,
	// written before the dead connection was noticed) lost unseen.
	if lost := during.Dropped - before.Dropped; lost < n2-buffer-batch {
		t.Fatalf("dropped %d of %d sent to a dead collector with a buffer of %d", lost, n2, buffer)
	}

	c.start()
	sendPaced(t, s, n1+n2, n1+n2+n3, buffer)
	ls := c.wait(func(ls []line) bool { return len(ls) > 0 && ls[len(ls)-1].seq == n1+n2+n3-1 })
	checkLines(t, ls)
	var outage, after int
	for _, l := range ls[n1:] {
		if l.seq < n1+n2 {
			outage++
		} else {
			after++
		}
	}
	if after != n3 {
		t.Fatalf("%d of %d records after the restart arrived", after, n3)
	}
	if outage < buffer-batch {
		t.Fatalf("only %d records held during the outage arrived, buffer %d", outage, buffer)
	}
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	st := s.Stats()
	checkInvariant(t, st)
	if got := uint64(len(ls)); got+st.Dropped < st.Accepted-batch || got > st.Sent {
		t.Fatalf("collector has %d; stats %+v", got, st)
	}
	t.Logf("stats %+v, outage records delivered %d", st, outage)
}

// TestRsyslogTLS: the same over TLS (RFC 5425) to rsyslog's gtls driver,
// the sender checking the collector's certificate against a test CA.
func TestRsyslogTLS(t *testing.T) {
	rsyslogd(t)
	dir := t.TempDir()
	pool := writeTestPKI(t, dir)
	c := startCollector(t, dir)
	s := NewSyslog(SyslogConfig{Addr: c.addr, TLS: &tls.Config{RootCAs: pool, ServerName: "collector.test"}},
		Options{MinBackoff: 10 * time.Millisecond, MaxBackoff: 200 * time.Millisecond})
	t.Cleanup(func() { s.Close(context.Background()) })
	const n = 500
	sendPaced(t, s, 0, n, 1000)
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	ls := c.wait(countTo(n))
	checkLines(t, ls)
	if len(ls) != n || ls[0].seq != 0 {
		t.Fatalf("%d lines, want %d", len(ls), n)
	}
	if st := s.Stats(); st.Sent != n || st.Dropped != 0 {
		t.Fatalf("stats %+v", st)
	}
}

// writeTestPKI writes a CA and a server certificate for collector.test
// (and 127.0.0.1) into dir as ca.pem, cert.pem, key.pem.
func writeTestPKI(t *testing.T, dir string) *x509.CertPool {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "logship test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "collector.test"},
		DNSNames: []string{"collector.test"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string]*pem.Block{
		"ca.pem":   {Type: "CERTIFICATE", Bytes: caDER},
		"cert.pem": {Type: "CERTIFICATE", Bytes: der},
		"key.pem":  {Type: "PRIVATE KEY", Bytes: keyDER},
	} {
		if err := os.WriteFile(filepath.Join(dir, name), pem.EncodeToMemory(b), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	return pool
}

// TestRsyslogKilledWhileSending: rsyslog dies under a caller sending as
// fast as it can. Send never refuses or waits, the buffer never exceeds
// its bound, the counters add up, what arrived is in order, and after a
// restart every new record arrives.
func TestRsyslogKilledWhileSending(t *testing.T) {
	c := startCollector(t, "")
	const buffer, batch = 200, 20
	s := NewSyslog(SyslogConfig{Addr: c.addr}, Options{Buffer: buffer, Batch: batch,
		MinBackoff: 10 * time.Millisecond, MaxBackoff: 200 * time.Millisecond})
	t.Cleanup(func() { s.Close(context.Background()) })

	stop := make(chan struct{})
	sent := make(chan int)
	go func() {
		i := 0
		for {
			select {
			case <-stop:
				sent <- i
				return
			default:
			}
			if !s.Send(target(i)) {
				t.Error("Send refused")
			}
			if q := s.Stats().Queued; q > buffer {
				t.Errorf("queued %d > buffer %d", q, buffer)
			}
			i++
		}
	}()
	c.wait(countTo(1)) // the stream is flowing
	c.stop()
	close(stop)
	n := <-sent
	st := s.Stats()
	checkInvariant(t, st)
	if st.Accepted != uint64(n) {
		t.Fatalf("accepted %d, sent %d", st.Accepted, n)
	}

	c.start()
	const more = 300
	sendPaced(t, s, n, n+more, buffer)
	ls := c.wait(func(ls []line) bool { return len(ls) > 0 && ls[len(ls)-1].seq == n+more-1 })
	checkLines(t, ls)
	after := 0
	for _, l := range ls {
		if l.seq >= n {
			after++
		}
	}
	if after != more {
		t.Fatalf("%d of %d records after the restart arrived", after, more)
	}
	st = s.Stats()
	checkInvariant(t, st)
	t.Logf("caller sent %d during the run; stats %+v; collector has %d", n, st, len(ls))
}
