// Package swarm runs a range on a Docker Swarm, for a drill that
// outgrows one host: it implements cyberrange.Driver with the plan's
// networks as overlay networks and its containers as Swarm services of
// one task each, through the Engine API of one of the swarm's managers.
//
// Like range/docker, it is one of the range's driver packages, the only
// ones that import the Docker SDK (github.com/moby/moby/client and
// .../api), with what both share (range/internal/dockerapi: the errors,
// log streams, port label and confinement that must not drift between
// them); it speaks cyberrange's types to its callers and must never
// import the game (scoreboard), the web server or bbolt. It never makes
// or leaves a swarm: that is the organizer's (docker swarm init, join,
// node labels), and New refuses an engine that is not a manager.
//
// How the plan maps onto Swarm (spec.go):
//
//   - Every network of the plan is an internal overlay network at the
//     plan's subnet, encrypted between nodes when Options.Encrypt is set;
//     the checkers' network is attachable, so that the game can join it
//     to call the checkers. An overlay network has no address on the
//     host, so a target cannot reach the host through it.
//   - Every container is a replicated service of one task, named as the
//     container, with the Docker driver's confinement: capabilities
//     dropped (the boxes keep the same few), read-only root with a tmpfs
//     /tmp, no new privileges, the same limits and no swap, the image's
//     user (65534 in the range's image), the same log drivers. Swarm
//     restarts a task that dies (restart policy "any"), so Watch's Start
//     of an unchanged service is a no-op.
//   - Services resolve by DNS round robin, not a virtual IP, so that a
//     target sees the gateway's own address as the source and the
//     telemetry's attribution holds.
//   - A gateway's port is published in host mode on the node that runs
//     it, through a network of its own that is not internal (its edge
//     network, see edgeOptions): a task only on internal networks gets no
//     endpoint on docker_gwbridge, where host-mode ports are bound. That
//     endpoint is also a route out, with NAT unless the organizer made
//     each gateway node's docker_gwbridge without it
//     (com.docker.network.bridge.enable_ip_masquerade=false) before the
//     node joined: the Docker driver's ingress has no NAT.
//   - Node labels (NodeRoleLabel, Options.Placement) place targets,
//     gateways, checkers and boxes.
//   - The checker secret, the peer secrets and the teams' tokens are
//     Swarm secrets, one per service and variable, named after the plan
//     hash and labelled with their service, mounted read-only at
//     /run/secrets/<variable in lower case>; the variable itself is
//     replaced by <variable>_FILE, its path (see secretEnv).
//   - Reconciliation is the Docker driver's: adopt a service by its
//     labels and plan hash, replace it when the hash or image changed,
//     remove exactly the exercise's labelled services, networks and
//     secrets. Swarm has no task events: Events, WaitReady and Remove
//     poll the tasks.
//
// An engine accepts a service spec with fields newer than its API and
// drops them without a word: no-new-privileges needs API 1.44 (Docker
// 25.0) and no swap API 1.52, so New refuses an older manager unless the
// daemons deny new privileges themselves (Options.DaemonNoNewPrivileges),
// and warns that swap is allowed below 1.52.
//
// Two more of Swarm's ways matter to the address plan: every node that
// runs a task on an overlay network takes an address of it for its load
// balancer endpoint, so a /24 holds fewer tasks than on a bridge; and the
// edge networks take their subnets from the swarm's default address pool
// (10.0.0.0/8 unless docker swarm init --default-addr-pool says
// otherwise), which must not overlap the scenario's subnets.
//
// Not done yet (issue 15):
//
//   - Fixed addresses. Swarm gives a service's task the next free
//     address of each network; the Engine API has no way to ask for one.
//     The plan's addresses (a target's .10+ on every network, a gateway's
//     .2 as its --source, the addresses in the gateways' --allow and
//     --resolve and the checkers' --targets) do not hold, so the roles
//     must name their peers (service DNS names on each network) or the
//     driver must learn the given addresses and the plan follow them,
//     before the range works on Swarm (moby/moby#24170, open since 2016).
//     A fixed address on an overlay network is possible only for a plain
//     container on an attachable network (docker run --ip through the
//     engine of the node that runs it), not for a service.
//   - The roles' side of the secrets: reading K_FILE when K is unset
//     (the gateway's --token-env, the targets' and checkers' secrets, the
//     attack box's password).
//   - The plan itself: cyberrange.NewPlan knows only the docker and local
//     drivers; a swarm plan is a docker plan for now.
//   - The defence box reads its team's targets' logs from volumes, which
//     on Swarm are local to a node: the box and its targets must share
//     one (a per-team placement constraint), or the logs must travel
//     otherwise. Those volumes are not removed by RemoveVolumes, which
//     cannot reach other nodes' engines.
//   - The game reaching the checkers (from a container attached to the
//     checkers' network), and remedies (Execer), which need the engine
//     of the node that runs the checker.
//   - ContainerStatus has no node: range status cannot show each task's
//     node yet (List knows it, from the task).
//   - Kill (rangetest.Killer) and WaitReady's probe of the ports, both of
//     which need the engine of the node that runs the task; WaitReady
//     waits for the task to run, not for it to listen.
//   - Replicas spread over the labelled nodes and pinned by a scenario or
//     flag: Placement is per kind only.
//   - Images on every node, the check that each node has them before
//     anything is made, cmd/ wiring (--driver swarm), the README, and the
//     contract, isolation and end-to-end tests on a real swarm.
package swarm
