# The attack box: a Debian workstation with the range's tools, one per
# attack team on the team's own network.
#
# cyrange images build --attackbox makes the same image with no registry
# (debootstrap from this machine's Debian mirror, then an import into the
# engine). To build it by hand where a registry is at hand:
#
#   docker build -f images/attackbox.Dockerfile -t cyrange-attackbox:dev images
#
# Keep the package list in step with docker.AttackBoxPackages.
FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      nmap curl python3 hydra swaks netcat-openbsd openssh-server ca-certificates iproute2 \
 && rm -rf /var/lib/apt/lists/* /etc/ssh/ssh_host_* \
 && mkdir -p /run/sshd
CMD ["/bin/sh", "-c", "ssh-keygen -A >/dev/null && exec /usr/sbin/sshd -D -e"]
