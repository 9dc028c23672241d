package linetarget

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cyrange/cyrange/images/flow"
)

// Limits of one connection.
const (
	maxLine  = 4096
	idleTime = 30 * time.Second
)

type note struct{ secret, value string }

// server is one running line service.
type server struct {
	log    *slog.Logger
	slots  int
	dump   atomic.Bool
	allow  []netip.Prefix
	opPass string

	mu    sync.Mutex
	notes map[string]note
	order []string
}

func runServer(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet(Name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "0.0.0.0", "address to listen on")
	linePort := fs.Int("line-port", 7070, "line service port")
	adminPort := fs.Int("admin-port", 8025, "admin console port")
	allow := fs.String("admin-allow", "", "networks the admin console lets in (CIDR,...)")
	fs.String("replica", "", "the replica's name in the game")
	slots := fs.Int("slots", 1000, "notes kept")
	weaknesses := fs.String("weaknesses", "all", "planted weaknesses: all, none or a list")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *slots < MinSlots || *slots > MaxSlots {
		return fmt.Errorf("%s: --slots %d out of range", Name, *slots)
	}
	s := &server{slots: *slots, notes: map[string]note{}, opPass: rand.Text()}
	s.dump.Store(*weaknesses == "all" || strings.Contains(","+*weaknesses+",", ","+DebugDump+","))
	for _, p := range strings.Split(*allow, ",") {
		if p = strings.TrimSpace(p); p == "" {
			continue
		}
		pr, err := netip.ParsePrefix(p)
		if err != nil {
			return fmt.Errorf("%s: --admin-allow: %w", Name, err)
		}
		s.allow = append(s.allow, pr)
	}
	out := flow.SyncWriter(stdout)
	s.log = slog.New(slog.NewJSONHandler(out, nil))
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", net.JoinHostPort(*listen, strconv.Itoa(*linePort)))
	if err != nil {
		return fmt.Errorf("%s: %w", Name, err)
	}
	ln = flow.NewRecorder(flow.Options{Output: out}).Listen(ln)
	aln, err := lc.Listen(ctx, "tcp", net.JoinHostPort(*listen, strconv.Itoa(*adminPort)))
	if err != nil {
		ln.Close()
		return fmt.Errorf("%s: %w", Name, err)
	}
	fmt.Fprintf(stderr, "%s: admin console operator password: %s\n", Name, s.opPass)
	admin := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	go admin.Serve(aln)
	go s.serve(ctx, ln)
	<-ctx.Done()
	ln.Close()
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return admin.Shutdown(sctx)
}

func (s *server) serve(ctx context.Context, ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		go s.conn(c)
	}
}

func (s *server) action(level slog.Level, msg, src, action string, attrs ...any) {
	s.log.Log(context.Background(), level, msg, append([]any{"proto", "line", "src", src, "action", action}, attrs...)...)
}

// conn serves one connection's commands.
func (s *server) conn(c net.Conn) {
	defer c.Close()
	src := c.RemoteAddr().String()
	sc := bufio.NewScanner(c)
	sc.Buffer(make([]byte, 512), maxLine)
	w := bufio.NewWriter(c)
	for {
		c.SetDeadline(time.Now().Add(idleTime))
		if !sc.Scan() {
			return
		}
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		switch strings.ToUpper(f[0]) {
		case "PUT":
			fmt.Fprintln(w, s.put(f, src))
		case "GET":
			fmt.Fprintln(w, s.get(f, src))
		case "DUMP":
			s.writeDump(w, src)
		case "QUIT":
			w.Flush()
			return
		default:
			fmt.Fprintln(w, "ERR unknown command")
		}
		if w.Flush() != nil {
			return
		}
	}
}

func (s *server) put(f []string, src string) string {
	if len(f) != 4 {
		return "ERR usage: PUT KEY SECRET VALUE"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.notes[f[1]]; !ok {
		if len(s.order) >= s.slots {
			delete(s.notes, s.order[0])
			s.order = s.order[1:]
		}
		s.order = append(s.order, f[1])
	}
	s.notes[f[1]] = note{secret: f[2], value: f[3]}
	s.action(slog.LevelInfo, "note stored", src, "put", "key", f[1])
	return "OK"
}

func (s *server) get(f []string, src string) string {
	if len(f) != 3 {
		return "ERR usage: GET KEY SECRET"
	}
	s.mu.Lock()
	n, ok := s.notes[f[1]]
	s.mu.Unlock()
	if !ok || subtle.ConstantTimeCompare([]byte(n.secret), []byte(f[2])) != 1 {
		s.action(slog.LevelWarn, "note refused", src, "get", "key", f[1])
		return "ERR denied"
	}
	s.action(slog.LevelInfo, "note read", src, "get", "key", f[1])
	return "VALUE " + n.value
}

// writeDump is the planted weakness: every note, to anyone.
func (s *server) writeDump(w io.Writer, src string) {
	if !s.dump.Load() {
		fmt.Fprintln(w, "ERR unknown command")
		return
	}
	s.action(slog.LevelWarn, "debug dump", src, "dump")
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, k := range s.order {
		fmt.Fprintf(w, "%s %s\n", k, s.notes[k].value)
	}
	fmt.Fprintln(w, "END")
}

// ServeHTTP is the admin console: the remedy, for the operator, from the
// allowed networks only.
func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	allowed := false
	for _, p := range s.allow {
		allowed = allowed || err == nil && p.Contains(ap.Addr().Unmap())
	}
	user, pass, ok := r.BasicAuth()
	switch {
	case !allowed:
		http.Error(w, "forbidden", http.StatusForbidden)
		return
	case !ok || user != "operator" || subtle.ConstantTimeCompare([]byte(pass), []byte(s.opPass)) != 1:
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	case r.Method != http.MethodPost || r.URL.Path != "/remedy" || r.URL.Query().Get("weakness") != DebugDump:
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	changes := ""
	if s.dump.Swap(false) {
		changes = DebugDump + ": on -> off"
	}
	s.log.Info("settings saved", "proto", "admin", "src", r.RemoteAddr, "action", "settings", "changes", changes)
	fmt.Fprintln(w, "ok")
}

// getenv is the secret's environment variable, read by the checker role.
func getenv(k string) string { return os.Getenv(k) }
