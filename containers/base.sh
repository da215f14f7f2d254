#!/usr/bin/env bash
# Makes the local Java 17 runtime base image (localhost/backup-base:17) without a
# registry: debootstrap a minimal Debian bookworm from the machine's own mirror, install
# openjdk-17-jre-headless in it, tar it and podman-import it. The tarball is cached in
# $BACKUP_CACHE (default /var/cache/backup-containers) so later runs take seconds.
set -euo pipefail
IMAGE=localhost/backup-base:17
CACHE=${BACKUP_CACHE:-/var/cache/backup-containers}
if podman image exists "$IMAGE"; then
  exit 0
fi
mkdir -p "$CACHE"
TAR="$CACHE/backup-base-17.tar"
if [[ ! -s "$TAR" ]]; then
  MIRROR=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
  MIRROR=${MIRROR:-$(awk '/^deb / {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)}
  MIRROR=${MIRROR:-http://deb.debian.org/debian}
  ROOTFS=$(mktemp -d "$CACHE/rootfs.XXXXXX")
  # (Each command may fail here, /proc being unmounted already: none may fail the script,
  # as under set -e a failing command in the EXIT trap becomes its exit status.)
  trap 'umount "$ROOTFS/proc" 2>/dev/null || true; rm -rf "$ROOTFS" || true' EXIT
  echo "base image: debootstrap bookworm from $MIRROR ..."
  debootstrap --variant=minbase bookworm "$ROOTFS" "$MIRROR" >"$CACHE/debootstrap.log" 2>&1 \
    || { echo "error: debootstrap failed; see $CACHE/debootstrap.log" >&2; exit 1; }
  echo "base image: installing openjdk-17-jre-headless ..."
  mount -t proc proc "$ROOTFS/proc"
  chroot "$ROOTFS" /bin/sh -c 'export DEBIAN_FRONTEND=noninteractive; apt-get update -qq && \
    apt-get install -y -qq --no-install-recommends openjdk-17-jre-headless passwd >/dev/null && \
    apt-get clean && rm -rf /var/lib/apt/lists/*' >"$CACHE/jre.log" 2>&1 \
    || { echo "error: installing the JRE in the base failed; see $CACHE/jre.log" >&2; exit 1; }
  umount "$ROOTFS/proc"
  tar -C "$ROOTFS" -cf "$TAR.part" .
  mv "$TAR.part" "$TAR"
fi
podman import --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV LANG=C.UTF-8' "$TAR" "$IMAGE" >/dev/null 2>"$CACHE/import.log" \
  || { echo "error: podman import failed: $(tail -3 "$CACHE/import.log")" >&2; exit 1; }
echo "base image: $IMAGE ready"
exit 0
