package linetarget

import (
	"bufio"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/cyrange/cyrange/images/target"
	"github.com/cyrange/cyrange/scoreboard/checks"
)

// checker plants a flag as a note whose key and secret it derives from
// the task chain, and reads it back.
type checker struct {
	secret   string
	port     int
	replicas map[string]string
}

func (c *checker) Info(context.Context) (checks.ServiceInfo, error) {
	return checks.ServiceInfo{ServiceName: Name, FlagVariants: 1}, nil
}

// derive makes the note's key and secret from the chain: no state
// between putflag and getflag.
func (c *checker) derive(chain string) (key, secret string) {
	m := hmac.New(sha256.New, []byte(c.secret))
	m.Write([]byte(chain))
	sum := hex.EncodeToString(m.Sum(nil))
	return "n" + sum[:12], sum[12:40]
}

func result(r checks.Result, msg string) checks.TaskResult {
	return checks.TaskResult{Result: r, Message: checks.Str(msg)}
}

func (c *checker) Run(ctx context.Context, t checks.Task) (checks.TaskResult, error) {
	if _, ok := c.replicas[t.Address]; !ok {
		return result(checks.InternalError, "not a replica of this checker"), nil
	}
	if t.Flag == nil || (t.Method != checks.PutFlag && t.Method != checks.GetFlag) {
		return result(checks.InternalError, "unsupported task"), nil
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort(t.Address, strconv.Itoa(c.port)))
	if err != nil {
		return result(checks.Offline, "the service does not answer"), nil
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	key, secret := c.derive(t.TaskChainID)
	cmd := fmt.Sprintf("GET %s %s\n", key, secret)
	if t.Method == checks.PutFlag {
		cmd = fmt.Sprintf("PUT %s %s %s\n", key, secret, *t.Flag)
	}
	if _, err := io.WriteString(conn, cmd); err != nil {
		return result(checks.Offline, "the connection broke"), nil
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return result(checks.Mumble, "no answer"), nil
	}
	line = strings.TrimSpace(line)
	switch {
	case t.Method == checks.PutFlag && line == "OK":
		return checks.TaskResult{Result: checks.OK, AttackInfo: checks.Str(key)}, nil
	case t.Method == checks.GetFlag && line == "VALUE "+*t.Flag:
		return checks.TaskResult{Result: checks.OK}, nil
	}
	return result(checks.Mumble, "the note is not what was stored"), nil
}

// flagPattern is the game's flag format.
var flagPattern = regexp.MustCompile(`[A-Z0-9]{31}=`)

// dumpNotes is the reference exploit of debug_dump.
func dumpNotes(ctx context.Context, d target.Dialer, r target.Replica) ([]string, error) {
	conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort(r.Host, strconv.Itoa(r.Port("line", 7070))))
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	if _, err := io.WriteString(conn, "DUMP\n"); err != nil {
		return nil, err
	}
	var flags []string
	sc := bufio.NewScanner(conn)
	for sc.Scan() {
		line := sc.Text()
		if line == "END" {
			return flags, nil
		}
		if strings.HasPrefix(line, "ERR") {
			return nil, errors.New(line)
		}
		flags = append(flags, flagPattern.FindAllString(line, -1)...)
	}
	return flags, sc.Err()
}

// Remedy turns the debug command off as the operator.
func (Target) Remedy(ctx context.Context, c target.Console, w string) error {
	if w != DebugDump {
		return fmt.Errorf("linetarget: no weakness %q", w)
	}
	tr := &http.Transport{}
	if c.Dialer != nil {
		tr.DialContext = c.Dialer.DialContext
	}
	defer tr.CloseIdleConnections()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(c.URL, "/")+"/remedy?weakness="+w, nil)
	if err != nil {
		return err
	}
	req.SetBasicAuth("operator", c.Password)
	resp, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("linetarget: remedy: %s", resp.Status)
	}
	return nil
}

// runChecker serves the checker over the enochecker v2 protocol.
func runChecker(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("checker", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "0.0.0.0:8000", "address to serve the checker protocol on")
	port := fs.Int("line-port", 7070, "targets' line port")
	targets := fs.String("targets", "", "the replicas: HOST=NAME,...")
	if err := fs.Parse(args); err != nil {
		return err
	}
	secret := getenv("CYRANGE_CHECKER_SECRET")
	if secret == "" || *targets == "" {
		return errors.New("checker: $CYRANGE_CHECKER_SECRET and --targets are required")
	}
	c := &checker{secret: secret, port: *port, replicas: map[string]string{}}
	for _, e := range strings.Split(*targets, ",") {
		host, name, _ := strings.Cut(e, "=")
		c.replicas[host] = name
	}
	log := slog.New(slog.NewJSONHandler(stdout, nil))
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", *listen)
	if err != nil {
		return fmt.Errorf("checker: %w", err)
	}
	srv := &http.Server{Handler: checks.RequireToken(checks.CallerToken(secret), checks.NewHandler(c, log)),
		ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return srv.Shutdown(sctx)
}
