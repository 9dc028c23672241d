package docker

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"debug/elf"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/build"
	"github.com/moby/moby/client"

	cyberrange "github.com/cyrange/cyrange/range"
)

// Dockerfile is the recipe of the range's image, as BuildImage sends it:
// the static cyrange binary alone, run as nobody, and an empty directory
// of nobody's where a target writes the copy of its log for the defence
// box (cyberrange.TargetLogDir). The range mounts a new volume there, and
// the engine gives a new volume the owner of the image's directory: with
// no directory, the volume would be root's and the target, read-only
// and nobody, could not write it. images/cyrange.Dockerfile is the same
// for people who build by hand.
const Dockerfile = `FROM scratch
COPY cyrange /cyrange
COPY --chown=65534:65534 logdir /var/log/cyrange
USER 65534:65534
ENTRYPOINT ["/cyrange"]
`

// logDir is the build context's empty directory that the Dockerfile
// copies to cyberrange.TargetLogDir.
const logDir = "logdir"

// LabelImage marks the images the driver builds; its value is the role
// ("cyrange", "attackbox").
const LabelImage = "cyrange.image"

// ErrNotStatic is returned for a binary that needs a dynamic loader, which
// a FROM scratch image does not have.
var ErrNotStatic = errors.New("not a static binary")

// CheckStatic checks that path is an ELF executable that needs no dynamic
// loader (no PT_INTERP program header), so that it runs alone in a FROM
// scratch image. A cgo build of cyrange is dynamic: build it with
// CGO_ENABLED=0 go build -o cyrange ./cmd/cyrange.
func CheckStatic(path string) error {
	f, err := elf.Open(path)
	if err != nil {
		return fmt.Errorf("docker: %s is not an ELF executable: %w", path, err)
	}
	defer f.Close()
	return checkStaticELF(path, f)
}

func checkStaticELF(path string, f *elf.File) error {
	if f.Type != elf.ET_EXEC && f.Type != elf.ET_DYN {
		return fmt.Errorf("docker: %s is an ELF %s, not an executable", path, f.Type)
	}
	for _, p := range f.Progs {
		if p.Type != elf.PT_INTERP {
			continue
		}
		interp := "a dynamic loader"
		if b, err := io.ReadAll(io.LimitReader(p.Open(), 4096)); err == nil {
			interp = strings.TrimRight(string(b), "\x00")
		}
		return fmt.Errorf("docker: %s: %w: it needs %s; build it with CGO_ENABLED=0 go build -o cyrange ./cmd/cyrange", path, ErrNotStatic, interp)
	}
	if f.Type == elf.ET_DYN && len(f.Progs) == 0 {
		return fmt.Errorf("docker: %s is a shared object, not an executable", path)
	}
	return nil
}

// buildContext is the tar the engine builds from: the Dockerfile, the
// binary and the empty log directory, made in memory.
func buildContext(binary []byte, mtime time.Time) (*bytes.Buffer, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	files := []struct {
		name string
		mode int64
		data []byte
	}{
		{"Dockerfile", 0o644, []byte(Dockerfile)},
		{"cyrange", 0o755, binary},
	}
	dir := &tar.Header{Name: logDir + "/", Mode: 0o755, ModTime: mtime, Typeflag: tar.TypeDir, Format: tar.FormatPAX}
	if err := tw.WriteHeader(dir); err != nil {
		return nil, err
	}
	for _, f := range files {
		hdr := &tar.Header{Name: f.name, Mode: f.mode, Size: int64(len(f.data)), ModTime: mtime, Typeflag: tar.TypeReg, Format: tar.FormatPAX}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, err
		}
		if _, err := tw.Write(f.data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return &buf, nil
}

// BuildImage builds the range's image, tag, from a static cyrange binary:
// FROM scratch, the binary at /cyrange as the entry point, run as user
// 65534. No registry and no file on disk besides the binary are needed.
func (d *Driver) BuildImage(ctx context.Context, tag, binary string) error {
	if err := CheckStatic(binary); err != nil {
		return err
	}
	data, err := os.ReadFile(binary)
	if err != nil {
		return fmt.Errorf("docker: build %s: %w", tag, err)
	}
	bc, err := buildContext(data, d.now())
	if err != nil {
		return fmt.Errorf("docker: build %s: context: %w", tag, err)
	}
	bctx, cancel := context.WithTimeout(ctx, d.buildTimeout)
	defer cancel()
	res, err := d.e.ImageBuild(bctx, bc, client.ImageBuildOptions{
		Tags:        []string{tag},
		Dockerfile:  "Dockerfile",
		Remove:      true,
		ForceRemove: true,
		Labels:      map[string]string{LabelImage: "cyrange"},
		// The classic builder: BuildKit needs a session the API alone
		// does not give.
		Version: build.BuilderV1,
	})
	if err != nil {
		return fail("build", tag, err)
	}
	defer res.Body.Close()
	if err := readStream(res.Body, d.out); err != nil {
		return fmt.Errorf("docker: build %s: %w", tag, err)
	}
	return nil
}

// RemoveImage removes an image by reference; a missing one is not an
// error.
func (d *Driver) RemoveImage(ctx context.Context, ref string) error {
	cctx, cancel := d.call(ctx)
	defer cancel()
	_, err := d.e.ImageRemove(cctx, ref, client.ImageRemoveOptions{Force: true, PruneChildren: true})
	if err != nil && !cerrdefs.IsNotFound(err) {
		return fail("remove image", ref, err)
	}
	return nil
}

// streamMessage is one line of the engine's JSON progress stream (build,
// import). Engines send the error twice, as text and as a detail.
type streamMessage struct {
	Stream      string `json:"stream"`
	Status      string `json:"status"`
	Error       string `json:"error"`
	ErrorDetail *struct {
		Message string `json:"message"`
	} `json:"errorDetail"`
}

// maxStreamLine bounds one message of a progress stream.
const maxStreamLine = 1 << 20

// readStream reads a progress stream to its end, copying what it says to
// out, and returns the error it reports, if any. A build that fails says
// so in the stream, not in the HTTP status.
func readStream(r io.Reader, out io.Writer) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), maxStreamLine)
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		var m streamMessage
		if err := json.Unmarshal(line, &m); err != nil {
			return fmt.Errorf("unreadable progress from the engine: %w", err)
		}
		if m.ErrorDetail != nil && m.ErrorDetail.Message != "" {
			return fmt.Errorf("engine: %s", strings.TrimSpace(m.ErrorDetail.Message))
		}
		if m.Error != "" {
			return fmt.Errorf("engine: %s", strings.TrimSpace(m.Error))
		}
		switch {
		case m.Stream != "":
			io.WriteString(out, m.Stream)
		case m.Status != "":
			io.WriteString(out, m.Status+"\n")
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("reading progress from the engine: %w", err)
	}
	return nil
}

// ModulePath is the Go module whose ./cmd/cyrange BuildStatic builds.
const ModulePath = "github.com/cyrange/cyrange"

// FindModule returns the root of the cyrange module's source at or above
// dir, or an error wrapping cyberrange.ErrNotFound.
func FindModule(dir string) (string, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("docker: %w", err)
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil {
			if modulePath(b) == ModulePath {
				return dir, nil
			}
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("docker: %w: no source of %s at or above the directory", cyberrange.ErrNotFound, ModulePath)
		}
		dir = parent
	}
}

// modulePath reads the module directive of a go.mod.
func modulePath(gomod []byte) string {
	for line := range strings.SplitSeq(string(gomod), "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == "module" {
			return strings.Trim(f[1], `"`)
		}
	}
	return ""
}

// BuildStatic builds a static cyrange binary (CGO_ENABLED=0) from the
// module at moduleDir into out, with the go command found in PATH and the
// given -ldflags (e.g. "-X main.version=1.2.0").
func BuildStatic(ctx context.Context, moduleDir, out, ldflags string) error {
	gobin, err := exec.LookPath("go")
	if err != nil {
		return fmt.Errorf("docker: building a static cyrange needs the Go toolchain: %w", err)
	}
	args := []string{"build", "-trimpath", "-o", out}
	if ldflags != "" {
		args = append(args, "-ldflags", ldflags)
	}
	args = append(args, "./cmd/cyrange")
	cmd := exec.CommandContext(ctx, gobin, args...)
	cmd.Dir = moduleDir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("docker: go build of a static cyrange: %w\n%s", err, b)
	}
	return CheckStatic(out)
}

// StaticBinary returns a static cyrange binary to put in an image: given,
// if not empty; else the running one if it is static; else one built with
// the Go toolchain (BuildStatic, with ldflags) from the cyrange source at
// or above sourceDir, saying so on progress first. A FROM scratch image
// runs nothing else, and a release binary built with cgo is dynamic.
// Call cleanup once the binary has been used: it removes a built one.
//
// The error of a dynamic binary with no source to build from says how to
// get a static one, naming the --binary and --source flags of the
// commands that take given and sourceDir from their users.
func StaticBinary(ctx context.Context, given, sourceDir, ldflags string, progress io.Writer) (path string, cleanup func(), err error) {
	nothing := func() {}
	if given != "" {
		return given, nothing, CheckStatic(given)
	}
	self, err := os.Executable()
	if err != nil {
		return "", nothing, fmt.Errorf("docker: finding this binary: %w", err)
	}
	serr := CheckStatic(self)
	if serr == nil {
		return self, nothing, nil
	}
	if !errors.Is(serr, ErrNotStatic) {
		return "", nothing, serr
	}
	mod, err := FindModule(sourceDir)
	if err != nil {
		// Unprefixed: it is the whole of what the user reads, and it
		// must say what to do.
		return "", nothing, fmt.Errorf("this cyrange (%s) is not static and there is no source to build one from (%v): "+
			"build it with CGO_ENABLED=0 go build -o cyrange ./cmd/cyrange, or give --binary or --source", self, err)
	}
	dir, err := os.MkdirTemp("", "cyrange-image-")
	if err != nil {
		return "", nothing, fmt.Errorf("docker: %w", err)
	}
	cleanup = func() { os.RemoveAll(dir) }
	out := filepath.Join(dir, "cyrange")
	fmt.Fprintf(progress, "this cyrange is not static: building a static one from %s\n", mod)
	if err := BuildStatic(ctx, mod, out, ldflags); err != nil {
		cleanup()
		return "", nothing, err
	}
	return out, cleanup, nil
}
