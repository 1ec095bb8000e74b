#!/usr/bin/env bash
# One-time fixture for tests/e2e/ansible_netns_test.cc (idempotent; scripts/test
# runs it as root): a Debian 12 root for the test's "hosts", as a tarball
#   $CROSSFARM_TEST_CACHE/ansible-host-bookworm-<arch>-<hash>.tar
# made by mmdebstrap once and extracted per host by the test. It holds what a
# freshly installed Debian server has for ansible (openssh-server, python3,
# python3-apt for the apt module) plus what the roles install (bubblewrap,
# distcc) and the shared libraries of crossfarm's binaries, because the test's
# hosts have no route to a Debian mirror: the roles' apt tasks then find
# everything present, as on a host installed from a local mirror. Not
# qemu-user-static: binfmt_misc is global to the kernel and the fixtures
# registered its handlers (flag F), which the emulation role then leaves
# alone. <hash> is of the package list, so editing it makes a new root.
# A few minutes once (download + unpack), ~230 MB.
set -euo pipefail

CACHE=${CROSSFARM_TEST_CACHE:-/var/cache/crossfarm-test}
if [ "$(id -u)" -ne 0 ]; then
  echo "ansible_fixtures.sh: must run as root (mmdebstrap)" >&2
  exit 1
fi
mkdir -p "$CACHE"

PKGS=(
  # what ansible needs on a managed host
  openssh-server python3 python3-apt
  # what the roles install (ansible/roles/*/tasks/main.yml)
  bubblewrap distcc
  # run-time libraries of crossfarm's binaries (roles/crossfarm_common/files/runtime-packages)
  libarchive13 libcapnp-0.9.2 libcurl4 libfmt9 libjemalloc2 libspdlog1.10 libssl3
  libyaml-cpp0.7 libzmq5 libsodium23 libsnappy1v5 liblz4-1 libzstd1 libyaml-0-2
  libcpp-httplib0.11  # the daemons' /metrics and status page (daemon/)
)
arch=$(dpkg --print-architecture)
hash=$(printf '%s\n' "${PKGS[@]}" | sha256sum | cut -c1-12)
ROOT_TAR=$CACHE/ansible-host-bookworm-$arch-$hash.tar
if [ -s "$ROOT_TAR" ]; then
  echo "ansible host root ready: $ROOT_TAR"
  exit 0
fi
command -v mmdebstrap >/dev/null || {
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends mmdebstrap
}
# Written beside its final name, renamed when complete. No device nodes (the
# test binds the host's /dev); no ssh host keys (each host makes its own, as a
# cloned server image should).
rm -f "$ROOT_TAR".new.tar
include=$(IFS=,; echo "${PKGS[*]}")
mmdebstrap --quiet --variant=minbase --architectures="$arch" --include="$include" \
  --customize-hook='rm -f "$1"/etc/ssh/ssh_host_*' \
  --skip=output/dev bookworm "$ROOT_TAR".new.tar
mv "$ROOT_TAR".new.tar "$ROOT_TAR"
# Older roots of this fixture (another package list) are garbage now.
find "$CACHE" -maxdepth 1 -name "ansible-host-bookworm-$arch-*.tar" ! -name "$(basename "$ROOT_TAR")" -delete
echo "ansible host root ready: $ROOT_TAR"
