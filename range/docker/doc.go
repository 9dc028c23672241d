// Package docker runs a range on a Docker engine: it implements
// cyberrange.Driver on the Engine API, builds the range's images from the
// running cyrange binary (FROM scratch, no registry) and imports the
// attack box image made with debootstrap, the teams' workstation (attack
// and defence boxes).
//
// It is one of the range's driver packages, the only ones of the project
// that import the Docker SDK (github.com/moby/moby/client and .../api),
// with range/swarm and what both share, range/internal/dockerapi. It
// speaks cyberrange's types to its callers; nothing of the SDK appears in
// its exported API.
//
// How the networks keep teams apart and targets away from the host:
//
//   - Every network of the plan is an internal bridge (no NAT, no route
//     out) whose bridge has no IP address (the bridge option
//     com.docker.network.bridge.inhibit_ipv4). An internal bridge alone
//     is not enough: the host's end of it (.1) is an address of the host,
//     so a target could reach every service the host runs on 0.0.0.0.
//     Without that address, a target can reach nothing but the other
//     containers of the networks it is attached to.
//   - A container the host must reach — one that publishes a port (the
//     gateways, attack and defence) or a checker, which the game calls over HTTP — is also
//     attached to the exercise's ingress network, a bridge the driver
//     makes by itself ("cyrange-<exercise>-ingress"): not internal, so
//     ports can be published on it, but without NAT to the outside and
//     with inter-container traffic off (enable_icc=false), so gateways of
//     different teams cannot reach one another through it. While a
//     container uses it, List does not report it (it is not the plan's);
//     removing the exercise's networks takes it along, and if it is ever
//     left alone, List reports it as a leftover for Down to remove.
//
// A container's Mounts are named volumes of the exercise (a target's log,
// which its team's defence box mounts read-only): Start makes each one
// before the container, labelled with the exercise and instance as the
// networks are, and RemoveVolumes (cyberrange.VolumeRemover, which the
// orchestrator's Down calls once the containers are gone) removes them.
// The range's image has an empty /var/log/cyrange of user 65534's, which
// a new volume mounted there takes as its owner, so that a target, read-
// only and unprivileged, can write its log's copy there.
//
// The team's boxes, attack and defence, are the only containers that keep
// a few capabilities (their SSH server's and nmap's) and run as root
// until sshd drops to the team's login.
//
// This package must never import the game (scoreboard), the web server or
// bbolt.
package docker
