package docker

import (
	"archive/tar"
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/moby/moby/client"

	cyberrange "github.com/cyrange/cyrange/range"
)

// AttackBoxPackages are the tools of the attack box image, on top of
// Debian's minimal base. The image is the workstation of the attack teams
// and of the defence (its defence box): scanning and probing, and the
// defence's reading of the replicas' JSON logs (jq), of SQLite stores
// (sqlite3) and of TLS (openssl).
var AttackBoxPackages = []string{
	"nmap", "curl", "python3", "hydra", "swaks", "netcat-openbsd", "openssh-server",
	"ca-certificates", "iproute2", "openssl", "jq", "sqlite3",
	// The web tools attackers reach for against the portal, and dirb for
	// its stock wordlists (/usr/share/dirb/wordlists).
	"sqlmap", "ffuf", "gobuster", "dirb",
}

// attackBoxStart is the attack box's start: it makes the team's login
// from CYRANGE_BOX_USER and CYRANGE_BOX_PASSWORD (the plan's team short
// name and token), drops the password from the environment, makes host
// keys of its own (the image ships none, so no two boxes share one) and
// runs the SSH server. It is the image's CMD, in both ways of building it.
const attackBoxStart = `set -e
if [ -n "$CYRANGE_BOX_USER" ]; then
  id -u "$CYRANGE_BOX_USER" >/dev/null 2>&1 || useradd --create-home --shell /bin/bash "$CYRANGE_BOX_USER"
  printf '%s:%s\n' "$CYRANGE_BOX_USER" "$CYRANGE_BOX_PASSWORD" | chpasswd
fi
unset CYRANGE_BOX_PASSWORD
ssh-keygen -A >/dev/null
exec /usr/sbin/sshd -D -e`

// attackBoxSSHConfig is the box's SSH server configuration: passwords
// (the team's token) for the team's login, never for root.
const attackBoxSSHConfig = "PermitRootLogin no\nPasswordAuthentication yes\nKbdInteractiveAuthentication no\nX11Forwarding no\n"

// attackBoxCmd is attackBoxStart as an image CMD.
func attackBoxCmd() string {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // a Dockerfile reads it too: keep > and & as they are
	enc.Encode([]string{"/bin/sh", "-c", attackBoxStart})
	return strings.TrimSuffix(b.String(), "\n")
}

// AttackBoxOptions configure BuildAttackBox. Tag is required.
type AttackBoxOptions struct {
	Tag string
	// Mirror and Suite are the Debian mirror and release; empty means the
	// first Debian source of this machine's APT configuration.
	Mirror, Suite string
	// Packages are installed on top of the minimal base
	// (AttackBoxPackages when nil).
	Packages []string
	// WorkDir holds the temporary root file system (os.TempDir() when
	// empty); it needs about 400 MB.
	WorkDir string
	// Output receives debootstrap's and the engine's progress.
	Output io.Writer
	// AptDir is the APT configuration read for the mirror (/etc/apt).
	AptDir string
	// CacheDir, when set, keeps the downloaded packages between builds
	// (debootstrap's --cache-dir), so that a rebuild needs the mirror
	// only for what changed. It is made if missing.
	CacheDir string
}

// BuildAttackBox makes the attack box image, a Debian workstation with
// the range's tools: debootstrap installs Debian's packages into a
// temporary directory, which is then imported into the engine as the
// image Tag. It needs root (debootstrap does) and takes minutes.
func (d *Driver) BuildAttackBox(ctx context.Context, o AttackBoxOptions) (err error) {
	if o.Tag == "" {
		return fmt.Errorf("docker: attack box: %w: no tag", cyberrange.ErrInvalid)
	}
	if o.Output == nil {
		o.Output = io.Discard
	}
	if o.Packages == nil {
		o.Packages = AttackBoxPackages
	}
	if o.AptDir == "" {
		o.AptDir = "/etc/apt"
	}
	if o.Mirror == "" || o.Suite == "" {
		mirror, suite, err := AptSource(o.AptDir)
		if err != nil {
			return err
		}
		if o.Mirror == "" {
			o.Mirror = mirror
		}
		if o.Suite == "" {
			o.Suite = suite
		}
	}
	if os.Geteuid() != 0 {
		return errors.New("docker: attack box: debootstrap must run as root")
	}
	debootstrap, err := exec.LookPath("debootstrap")
	if err != nil {
		return fmt.Errorf("docker: attack box: debootstrap is missing (apt-get install debootstrap): %w", err)
	}
	work, err := os.MkdirTemp(o.WorkDir, "cyrange-attackbox-")
	if err != nil {
		return fmt.Errorf("docker: attack box: %w", err)
	}
	root := filepath.Join(work, "rootfs")
	defer func() {
		if cerr := removeRoot(work); cerr != nil && err == nil {
			err = cerr
		}
	}()

	bctx, cancel := context.WithTimeout(ctx, d.buildTimeout)
	defer cancel()
	fmt.Fprintf(o.Output, "debootstrap %s from %s into %s\n", o.Suite, o.Mirror, root)
	args := []string{"--variant=minbase", "--components=main", "--include=" + strings.Join(o.Packages, ",")}
	if o.CacheDir != "" {
		// debootstrap wants it absolute and existing.
		cache, err := filepath.Abs(o.CacheDir)
		if err != nil {
			return fmt.Errorf("docker: attack box: cache: %w", err)
		}
		if err := os.MkdirAll(cache, 0o755); err != nil {
			return fmt.Errorf("docker: attack box: cache: %w", err)
		}
		args = append(args, "--cache-dir="+cache)
	}
	cmd := exec.CommandContext(bctx, debootstrap, append(args, o.Suite, root, o.Mirror)...)
	cmd.Stdout, cmd.Stderr = o.Output, o.Output
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("docker: attack box: debootstrap: %w", err)
	}
	if err := prepareRoot(root); err != nil {
		return fmt.Errorf("docker: attack box: %w", err)
	}

	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(tarDir(root, pw)) }()
	defer pr.Close()
	res, err := d.e.ImageImport(bctx, client.ImageImportSource{Source: pr, SourceName: "-"}, o.Tag, client.ImageImportOptions{
		Message: "cyrange attack box: Debian " + o.Suite + " with " + strings.Join(o.Packages, " "),
		Changes: []string{
			"CMD " + attackBoxCmd(),
			"ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
			"LABEL " + LabelImage + "=attackbox",
		},
	})
	if err != nil {
		return fail("import", o.Tag, err)
	}
	defer res.Close()
	if err := readStream(res, o.Output); err != nil {
		return fmt.Errorf("docker: import %s: %w", o.Tag, err)
	}
	return nil
}

// prepareRoot readies a root file system for an image: it drops what an
// image should not carry (package caches and lists, and the SSH host keys
// the package made: each box makes its own) and sets the SSH server up
// for the team's login.
func prepareRoot(root string) error {
	for _, pattern := range []string{
		"var/cache/apt/archives/*.deb", "var/cache/apt/*.bin", "var/lib/apt/lists/*_*", "etc/ssh/ssh_host_*",
	} {
		matches, err := filepath.Glob(filepath.Join(root, pattern))
		if err != nil {
			return err
		}
		for _, m := range matches {
			if err := os.Remove(m); err != nil {
				return err
			}
		}
	}
	if err := os.MkdirAll(filepath.Join(root, "run", "sshd"), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(root, "etc", "ssh", "sshd_config.d", "cyrange.conf"), []byte(attackBoxSSHConfig), 0o644); err != nil {
		return err
	}
	// A container may not set the audit login id (that needs
	// CAP_AUDIT_CONTROL, which the box does not get): PAM must not fail
	// the session for it.
	pam := filepath.Join(root, "etc", "pam.d", "sshd")
	b, err := os.ReadFile(pam)
	if err != nil {
		return err
	}
	return os.WriteFile(pam, []byte(loginUIDOptional(string(b))), 0o644)
}

// loginUIDOptional makes pam_loginuid optional in a PAM configuration.
func loginUIDOptional(conf string) string {
	lines := strings.Split(conf, "\n")
	for i, l := range lines {
		f := strings.Fields(l)
		if len(f) >= 3 && f[0] == "session" && f[1] == "required" && f[2] == "pam_loginuid.so" {
			lines[i] = "session optional " + strings.Join(f[2:], " ")
		}
	}
	return strings.Join(lines, "\n")
}

// skipped are the trees of a root file system the engine provides in
// every container; their content on disk is not the image's.
var skipped = []string{"proc", "sys", "dev"}

// tarDir writes the tree at root as a tar stream, keeping modes, owners,
// symbolic and hard links.
func tarDir(root string, w io.Writer) error {
	tw := tar.NewWriter(w)
	type inode struct{ dev, ino uint64 }
	links := map[inode]string{}
	err := filepath.WalkDir(root, func(path string, de fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, path)
		if err != nil || rel == "." {
			return err
		}
		rel = filepath.ToSlash(rel)
		top, _, _ := strings.Cut(rel, "/")
		skip := slices.Contains(skipped, top)
		if skip && rel != top {
			if de.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		info, err := de.Info()
		if err != nil {
			return err
		}
		mode := info.Mode()
		if mode&(fs.ModeDevice|fs.ModeNamedPipe|fs.ModeSocket|fs.ModeCharDevice) != 0 {
			return nil
		}
		var target string
		if mode&fs.ModeSymlink != 0 {
			if target, err = os.Readlink(path); err != nil {
				return err
			}
		}
		hdr, err := tar.FileInfoHeader(info, target)
		if err != nil {
			return err
		}
		hdr.Name = rel
		if info.IsDir() {
			hdr.Name += "/"
		}
		hdr.Format = tar.FormatPAX
		if st, ok := info.Sys().(*syscall.Stat_t); ok {
			hdr.Uid, hdr.Gid = int(st.Uid), int(st.Gid)
			hdr.Uname, hdr.Gname = "", ""
			if mode.IsRegular() && st.Nlink > 1 {
				key := inode{uint64(st.Dev), uint64(st.Ino)}
				if first, ok := links[key]; ok {
					hdr.Typeflag, hdr.Linkname, hdr.Size = tar.TypeLink, first, 0
				} else {
					links[key] = rel
				}
			}
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if skip && info.IsDir() {
			return filepath.SkipDir
		}
		if hdr.Typeflag != tar.TypeReg {
			return nil
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.Copy(tw, f)
		return err
	})
	if err != nil {
		return fmt.Errorf("docker: packing %s: %w", root, err)
	}
	return tw.Close()
}

// removeRoot removes a debootstrap work directory, unmounting first what
// a failed debootstrap may have left mounted in it (/proc, /sys), so that
// removing never walks into the host's own trees.
func removeRoot(dir string) error {
	mounts, err := mountsUnder(dir)
	if err != nil {
		return fmt.Errorf("docker: attack box: %w", err)
	}
	// Deepest first.
	slices.SortFunc(mounts, func(a, b string) int { return len(b) - len(a) })
	for _, m := range mounts {
		if err := syscall.Unmount(m, syscall.MNT_DETACH); err != nil {
			return fmt.Errorf("docker: attack box: unmount %s: %w (remove %s by hand)", m, err, dir)
		}
	}
	return os.RemoveAll(dir)
}

// mountsUnder lists the mount points at or below dir.
func mountsUnder(dir string) ([]string, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return parseMountinfo(f, dir)
}

// parseMountinfo reads /proc/self/mountinfo's format (the fifth field is
// the mount point, with spaces escaped as \040).
func parseMountinfo(r io.Reader, dir string) ([]string, error) {
	dir = filepath.Clean(dir)
	var out []string
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 5 {
			continue
		}
		mp := strings.NewReplacer(`\040`, " ", `\011`, "\t", `\012`, "\n", `\134`, `\`).Replace(f[4])
		if mp == dir || strings.HasPrefix(mp, dir+"/") {
			out = append(out, mp)
		}
	}
	return out, sc.Err()
}

// AptSource returns the first Debian mirror and release of an APT
// configuration directory (sources.list and sources.list.d/*.list in the
// one-line format, sources.list.d/*.sources in deb822), skipping the
// security and updates suites. It returns an error wrapping
// cyberrange.ErrNotFound when there is none.
func AptSource(aptDir string) (mirror, suite string, err error) {
	files := []string{filepath.Join(aptDir, "sources.list")}
	more, _ := filepath.Glob(filepath.Join(aptDir, "sources.list.d", "*"))
	slices.Sort(more)
	files = append(files, more...)
	for _, name := range files {
		var deb822 bool
		switch {
		case strings.HasSuffix(name, ".sources"):
			deb822 = true
		case strings.HasSuffix(name, ".list"):
		default:
			continue
		}
		b, err := os.ReadFile(name)
		if err != nil {
			continue
		}
		if deb822 {
			mirror, suite = parseDeb822(string(b))
		} else {
			mirror, suite = parseOneLine(string(b))
		}
		if mirror != "" {
			return mirror, suite, nil
		}
	}
	return "", "", fmt.Errorf("docker: %w: no Debian source in %s (give the mirror and suite)", cyberrange.ErrNotFound, aptDir)
}

// mainSuite reports whether suite is a release itself, not its security
// or updates pocket.
func mainSuite(suite string) bool {
	return suite != "" && !strings.Contains(suite, "/") && !strings.Contains(suite, "-")
}

func goodMirror(uri string) bool {
	return (strings.HasPrefix(uri, "http://") || strings.HasPrefix(uri, "https://")) && !strings.Contains(uri, "security")
}

// parseOneLine reads "deb [options] URI SUITE COMPONENTS..." lines.
func parseOneLine(s string) (mirror, suite string) {
	for line := range strings.SplitSeq(s, "\n") {
		line, _, _ = strings.Cut(line, "#")
		f := strings.Fields(line)
		if len(f) < 3 || f[0] != "deb" {
			continue
		}
		f = f[1:]
		if strings.HasPrefix(f[0], "[") {
			for len(f) > 0 && !strings.HasSuffix(f[0], "]") {
				f = f[1:]
			}
			if len(f) == 0 {
				continue
			}
			f = f[1:]
		}
		if len(f) >= 2 && goodMirror(f[0]) && mainSuite(f[1]) {
			return f[0], f[1]
		}
	}
	return "", ""
}

// parseDeb822 reads stanzas of "Types:", "URIs:", "Suites:" fields.
func parseDeb822(s string) (mirror, suite string) {
	for stanza := range strings.SplitSeq(strings.ReplaceAll(s, "\r\n", "\n"), "\n\n") {
		fields := map[string][]string{}
		for line := range strings.SplitSeq(stanza, "\n") {
			if strings.HasPrefix(line, "#") {
				continue
			}
			k, v, ok := strings.Cut(line, ":")
			if !ok || strings.HasPrefix(k, " ") {
				continue
			}
			fields[strings.ToLower(strings.TrimSpace(k))] = strings.Fields(v)
		}
		if !slices.Contains(fields["types"], "deb") {
			continue
		}
		if len(fields["enabled"]) > 0 && strings.EqualFold(fields["enabled"][0], "no") {
			continue
		}
		for _, uri := range fields["uris"] {
			if !goodMirror(uri) {
				continue
			}
			for _, su := range fields["suites"] {
				if mainSuite(su) {
					return uri, su
				}
			}
		}
	}
	return "", ""
}
