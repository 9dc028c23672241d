# The attack box image: the Debian workstation of the attack and defence
# teams, with the range's tools. An attack team's attack box is on the
# team's own network; a defending team's defence box (the same image) is
# on its replicas' network, with their logs mounted read-only.
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
      openssl jq sqlite3 sqlmap ffuf gobuster dirb \
 && rm -rf /var/lib/apt/lists/* /etc/ssh/ssh_host_* \
 && mkdir -p /run/sshd \
 && printf 'PermitRootLogin no\nPasswordAuthentication yes\nKbdInteractiveAuthentication no\nX11Forwarding no\n' \
      > /etc/ssh/sshd_config.d/cyrange.conf \
 && sed -i 's/^session[[:space:]]\+required[[:space:]]\+pam_loginuid.so/session optional pam_loginuid.so/' /etc/pam.d/sshd
# The team's login (user CYRANGE_BOX_USER, password CYRANGE_BOX_PASSWORD,
# which the range sets to the team's short name and token), host keys of
# its own, then the SSH server. Keep it in step with docker.attackBoxStart.
CMD ["/bin/sh","-c","set -e\nif [ -n \"$CYRANGE_BOX_USER\" ]; then\n  id -u \"$CYRANGE_BOX_USER\" >/dev/null 2>&1 || useradd --create-home --shell /bin/bash \"$CYRANGE_BOX_USER\"\n  printf '%s:%s\\n' \"$CYRANGE_BOX_USER\" \"$CYRANGE_BOX_PASSWORD\" | chpasswd\nfi\nunset CYRANGE_BOX_PASSWORD\nssh-keygen -A >/dev/null\nexec /usr/sbin/sshd -D -e"]
