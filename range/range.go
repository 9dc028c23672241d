// Package cyberrange is the range's domain: the Plan (the desired networks,
// containers and addresses of an exercise, a pure function of its
// scenario), the Driver interface that makes a plan real (Docker, or local
// processes), and the Orchestrator that reconciles a driver's actual state
// to the plan and reports its progress.
//
// The directory is range/ but the package is cyberrange: "range" is a Go
// keyword.
//
// This package must never import the Docker SDK, bbolt or echo; drivers
// live in subpackages named after what they drive.
package cyberrange

import (
	"context"
	"errors"
	"io"
	"net/netip"
	"strings"
	"time"
)

// Labels every resource of an exercise carries. Down removes exactly what
// carries the exercise's LabelExercise, and a restarted orchestrator adopts
// it.
const (
	LabelExercise = "cyrange.exercise"
	LabelKind     = "cyrange.kind"
	LabelTeam     = "cyrange.team"
	LabelService  = "cyrange.service"
	LabelPlanHash = "cyrange.plan-hash"
	// LabelInstance names the exercise's data directory (a digest of
	// its secret): two data directories of one scenario share a name
	// on an engine, never a range.
	LabelInstance = "cyrange.instance"
)

// Errors drivers and the orchestrator return.
var (
	ErrNotFound    = errors.New("not found")
	ErrUnavailable = errors.New("driver unavailable")
	ErrInvalid     = errors.New("invalid")
	// ErrConflict: what exists belongs to another instance of the
	// exercise.
	ErrConflict = errors.New("conflict")
)

// Kind is what a container is for.
type Kind string

// Container kinds.
const (
	KindTarget    Kind = "target"
	KindChecker   Kind = "checker"
	KindGateway   Kind = "gateway"
	KindAttackBox Kind = "attackbox"
	// KindDefenceGateway is a defending team's way into its own replicas:
	// the same SOCKS5 gateway as an attack team's, on the replica
	// network, whose connections are the defence's own and never ground
	// truth against anyone.
	KindDefenceGateway Kind = "defencegateway"
	// KindDefenceBox is a defending team's workstation on its replica
	// network, reached over SSH through its defence gateway.
	KindDefenceBox Kind = "defencebox"
)

// Network is one network of the plan: an attack team's, a replica's, or
// the checkers'.
type Network struct {
	// Name is unique on the host: "<exercise>-team-a01",
	// "<exercise>-replica-d01", "<exercise>-checkers".
	Name   string
	Subnet netip.Prefix
	// Team is the owning team's index in the scenario, or -1.
	Team   int
	Labels map[string]string
}

// Attachment puts a container on a network at a fixed address.
type Attachment struct {
	Network string
	Address netip.Addr
}

// Port is one port a container serves.
type Port struct {
	Name   string
	Number int
	// Publish is the host address ("127.0.0.1:0" or "0.0.0.0:1080") the
	// port is published on; empty means not published. Only gateways (and
	// attack boxes' SSH, through the gateway's host) are published.
	Publish string
}

// Limits bound a container's resources.
type Limits struct {
	MemoryBytes int64
	NanoCPUs    int64
	Pids        int64
}

// Container is one container (or local process) of the plan.
type Container struct {
	// Name is unique on the host: "cyrange-<exercise>-<role>".
	Name string
	Kind Kind
	// Image is the image to run (docker); the local driver runs the
	// cyrange binary itself with Command.
	Image string
	// Command is the cyrange command line inside, e.g.
	// ["target", NAME, "--listen", "0.0.0.0", ...] for a built-in target.
	Command []string
	Env     map[string]string
	// Networks lists the attachments; the first is the primary one.
	Networks []Attachment
	Ports    []Port
	Labels   map[string]string
	Limits   Limits
	ReadOnly bool
	// Mounts are volumes of the exercise the container shares with
	// others (a target's log, which the defence box reads); the driver
	// makes each volume before its first user and removes it with the
	// range. Drivers without volumes leave them out.
	Mounts []Mount `json:",omitempty"`
	// Team is the owning team's index (replica owner, gateway's team), or
	// -1; Service the service's index for targets, or -1.
	Team    int
	Service int
}

// Mount is a volume mounted into a container.
type Mount struct {
	// Volume is the volume's name, unique on the host like a container's.
	Volume string
	// Path is where it is mounted inside the container.
	Path     string
	ReadOnly bool `json:",omitempty"`
}

// Plan is the desired state of an exercise's range.
type Plan struct {
	Exercise   string
	Driver     string
	Networks   []Network
	Containers []Container
}

// State of a container as a driver sees it.
type State string

// Container states.
const (
	StateRunning State = "running"
	StateExited  State = "exited"
	StateCreated State = "created"
	StateMissing State = "missing"
)

// ContainerStatus is one container as it actually is.
type ContainerStatus struct {
	Name     string
	Kind     Kind
	State    State
	Labels   map[string]string
	Restarts int
	// Started is when it last started; ExitCode is meaningful when exited.
	Started  time.Time
	ExitCode int
	// Ports maps a port's name to the host address it was published on.
	Ports map[string]string
	// Networks are the exercise's networks it is attached to; nil when
	// the driver cannot tell, and then a network goes only after every
	// container.
	Networks []string
	// Node is the machine it runs on where a range spans several (a
	// swarm node's name); empty on one engine.
	Node string
}

// NetworkStatus is one network as it actually is.
type NetworkStatus struct {
	Name   string
	Subnet netip.Prefix
	Labels map[string]string
}

// Actual is what a driver found of one exercise.
type Actual struct {
	Networks   []NetworkStatus
	Containers []ContainerStatus
}

// RangeEvent is something that happened to a container, as the driver
// reports it (Docker's own events, or a local process exiting).
type RangeEvent struct {
	Time      time.Time
	Container string
	Kind      Kind
	// Action is "start", "die", "restart", "remove"...
	Action   string
	ExitCode int
}

// Driver makes a plan real. Every method is bounded by ctx and safe to call
// again with the same arguments (idempotent): creating what exists is not
// an error, removing what is gone is not an error.
type Driver interface {
	Name() string
	// List returns every network and container labelled with exercise.
	List(ctx context.Context, exercise string) (Actual, error)
	EnsureNetwork(ctx context.Context, n Network) error
	RemoveNetwork(ctx context.Context, name string) error
	// Start creates the container if missing and starts it if not running.
	Start(ctx context.Context, c Container) error
	// Remove stops and removes the container.
	Remove(ctx context.Context, name string) error
	// Logs follows the container's output (stdout and stderr) from now on,
	// or from its start when since is zero.
	Logs(ctx context.Context, name string, since time.Time) (io.ReadCloser, error)
	// Events reports what happens to the exercise's containers until ctx
	// is done.
	Events(ctx context.Context, exercise string) (<-chan RangeEvent, error)
}

// ReadyWaiter is a Driver that can tell when a started container serves:
// something accepts connections on each of its ports. A started process
// is not yet a listening one; Up waits for targets, checkers and gateways, so that
// what follows a bring-up (the game's first checks) does not find them
// still starting. WaitReady returns nil when it cannot tell.
//
// A container whose process ends while WaitReady waits ends the wait at
// once, with an error naming the container and its LastLine: a target
// that refuses its options says why as it exits, and waiting out the
// timeout would only bury that under "nothing listens".
type ReadyWaiter interface {
	WaitReady(ctx context.Context, c Container) error
}

// VolumeRemover is a Driver whose containers share volumes
// (Container.Mounts). A volume outlives the containers that mount it and
// belongs to none of them, so Down, once the exercise's containers and
// networks are gone, removes the exercise's volumes through it; the
// driver makes them as its containers need them.
//
// RemoveVolumes removes every volume of the exercise; none is not an
// error. One still mounted by a container is an error wrapping
// ErrConflict.
type VolumeRemover interface {
	RemoveVolumes(ctx context.Context, exercise string) error
}

// Execer is a Driver that can run a cyrange command inside a running
// container, from where the container reaches: the docker driver's
// replica networks are closed to the host by design, so what the host
// must do there (apply a remedy through a replica's admin console) runs
// in a container that reaches them (the service's checker), as that
// container's own process would.
//
// Exec returns an error wrapping ErrNotFound when the container does not
// exist or does not run, and one wrapping ErrInvalid when args is empty.
type Execer interface {
	// Exec runs the cyrange command line args (without the program
	// name, e.g. ["console", "remedy", "--url", u, "w"]) inside the
	// running container name, with env added to its environment, and
	// returns its combined output; a non-zero exit is an error that
	// carries the exit status and the output's last line.
	Exec(ctx context.Context, name string, args []string, env map[string]string) (output string, err error)
}

// CommandWords names a command line in messages by its leading words
// (the role and its subcommand), not its arguments, which may be secret.
func CommandWords(args []string) string {
	n := 0
	for n < len(args) && n < 2 && !strings.HasPrefix(args[n], "-") {
		n++
	}
	if n == 0 {
		return "cyrange"
	}
	return strings.Join(args[:n], " ")
}

// EnvSourceAddr is set by a driver that shares its network with the
// containers (the local driver) in the environment of a command it
// Execs: the container's primary address, which the command binds its
// outgoing connections to, so that it comes from the container as the
// container's own process would. Where the command runs inside the
// container's network namespace (docker), it is not set.
const EnvSourceAddr = "CYRANGE_SOURCE_ADDR"

// noOutput is LastLine's answer for a process that wrote nothing.
const noOutput = "(no output)"

// LastLine is the last line that is not blank in a process's output
// (stdout and stderr as it wrote them), or "(no output)": what a
// container that died starting said last, which is usually why.
func LastLine(out []byte) string {
	s := strings.TrimSpace(string(out))
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = strings.TrimSpace(s[i+1:])
	}
	if s == "" {
		return noOutput
	}
	return s
}
