package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	cyberrange "github.com/cyrange/cyrange/range"
	"github.com/cyrange/cyrange/range/docker"
)

// testImage is the cyrange:VERSION image of this source, built once for
// every Docker test of the run (a build costs tens of seconds) and removed
// by TestMain when the tests end.
var testImage struct {
	mu    sync.Mutex
	built bool
	err   string
}

// needDocker skips the test when no Docker engine is reachable, or fails
// it when CYRANGE_REQUIRE_DOCKER=1 (as CI sets).
func needDocker(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	d, err := docker.New(ctx, docker.Options{})
	if err != nil {
		if os.Getenv("CYRANGE_REQUIRE_DOCKER") == "1" {
			t.Fatalf("no Docker engine and CYRANGE_REQUIRE_DOCKER=1: %v", err)
		}
		t.Skipf("no Docker engine reachable (set CYRANGE_REQUIRE_DOCKER=1 to make this a failure): %v", err)
	}
	d.Close()
}

// needDockerImage is needDocker, and the image of this run (cyrange:VERSION,
// a version of this run's own) built from a static build of this source.
func needDockerImage(t *testing.T) {
	t.Helper()
	needDocker(t)
	testImage.mu.Lock()
	defer testImage.mu.Unlock()
	if !testImage.built && testImage.err == "" {
		testImage.err = buildTestImage()
		testImage.built = testImage.err == ""
	}
	if testImage.err != "" {
		t.Fatal(testImage.err)
	}
}

func buildTestImage() string {
	static := filepath.Join(filepath.Dir(binary), "cyrange-static")
	build := exec.Command("go", "build", "-ldflags", "-X main.version="+version, "-o", static, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		return "static build: " + err.Error() + "\n" + string(out)
	}
	if out, err := exec.Command(binary, "images", "build", "--binary", static).CombinedOutput(); err != nil {
		return "images build: " + err.Error() + "\n" + string(out)
	}
	return ""
}

// removeTestImage removes the image of this run, if a test built it.
func removeTestImage() {
	testImage.mu.Lock()
	defer testImage.mu.Unlock()
	if testImage.built {
		exec.Command("docker", "image", "rm", "cyrange:"+version).Run()
	}
}

// abandonedName matches the names of what a run of these tests makes on
// the engine: its image's tag and its exercises carry its pid.
var abandonedName = regexp.MustCompile(`^(?:test|chaos-up-docker|chaos-kill|e2e-docker)-([0-9]+)$`)

// sweepAbandoned removes from the engine what runs of these tests left
// when they could not clean up (a -timeout panic skips every cleanup):
// the images and ranges named after a process that is gone. Nothing of a
// live run, nor anything not named by these tests, is touched.
func sweepAbandoned() {
	docker, err := exec.LookPath("docker")
	if err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	gone := func(name string) bool {
		m := abandonedName.FindStringSubmatch(name)
		if m == nil {
			return false
		}
		pid, _ := strconv.Atoi(m[1])
		return pid > 0 && syscall.Kill(pid, 0) == syscall.ESRCH
	}
	lines := func(args ...string) []string {
		out, err := exec.CommandContext(ctx, docker, args...).Output()
		if err != nil {
			return nil
		}
		return strings.Fields(string(out))
	}
	exercises := map[string]bool{}
	for _, l := range lines("ps", "-a", "--filter", "label="+cyberrange.LabelExercise, "--format", `{{.Label "`+cyberrange.LabelExercise+`"}}`) {
		exercises[l] = true
	}
	for _, l := range lines("network", "ls", "--filter", "label="+cyberrange.LabelExercise, "--format", `{{.Label "`+cyberrange.LabelExercise+`"}}`) {
		exercises[l] = true
	}
	for ex := range exercises {
		if !gone(ex) {
			continue
		}
		filter := "label=" + cyberrange.LabelExercise + "=" + ex
		if ids := lines("ps", "-aq", "--filter", filter); len(ids) > 0 {
			exec.CommandContext(ctx, docker, append([]string{"rm", "-f"}, ids...)...).Run()
		}
		if ids := lines("network", "ls", "-q", "--filter", filter); len(ids) > 0 {
			exec.CommandContext(ctx, docker, append([]string{"network", "rm"}, ids...)...).Run()
		}
	}
	for _, tag := range lines("images", "cyrange", "--format", "{{.Tag}}") {
		if gone(tag) {
			exec.CommandContext(ctx, docker, "image", "rm", "cyrange:"+tag).Run()
		}
	}
}
