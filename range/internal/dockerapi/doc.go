// Package dockerapi is what the range's two Docker drivers, range/docker
// (one engine) and range/swarm (a swarm's manager), do the same way
// through the Engine API: the part of the SDK's client both use, the
// errors the range's sentinels are made of, the log streams, the port
// label, and the confinement and checks every container or service of
// the plan gets. One place for them, so that the drivers cannot drift
// apart where they must agree.
//
// Like the drivers, it may import the Docker SDK
// (github.com/moby/moby/client and .../api) and speaks cyberrange's
// types; it must never import the game (scoreboard), the web server or
// bbolt, nor either driver. Its errors carry no driver's prefix: Fail
// takes it, and the others are wrapped by the driver.
package dockerapi
