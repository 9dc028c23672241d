# The range's image: the static cyrange binary alone, run as nobody. Every
# role runs from it: cyrange target mailserver, cyrange checker mailserver,
# cyrange gateway...
#
# cyrange images build makes the same image through the Engine API, with no
# file on disk; to build it by hand, from the repository's root:
#
#   CGO_ENABLED=0 go build -trimpath -ldflags "-X main.version=dev" -o images/cyrange ./cmd/cyrange
#   mkdir -p images/logdir
#   docker build -f images/cyrange.Dockerfile -t cyrange:dev images
#
# The binary must be static (no cgo): a FROM scratch image has no dynamic
# loader. The empty /var/log/cyrange, nobody's, is where a target writes
# the copy of its log that the defence box reads: the range mounts a new
# volume there, which takes the directory's owner.
FROM scratch
COPY cyrange /cyrange
COPY --chown=65534:65534 logdir /var/log/cyrange
USER 65534:65534
ENTRYPOINT ["/cyrange"]
