#!/usr/bin/env bash
# One-time fixtures for tests/worker (idempotent; scripts/test runs it, as root):
#  - an arm64 busybox-static unpacked into $CROSSFARM_TEST_CACHE/busybox-arm64
#    (dpkg --add-architecture arm64 + apt-get download, reused by later runs);
#  - Debian's `hello` .deb in $CROSSFARM_TEST_CACHE/debs (bst's deb source form);
#  - binfmt_misc mounted and Debian's qemu-user-static handlers registered with
#    flag F for the foreign archs of our table, the same steps as
#    crossfarm::worker::SetupBinfmt (worker/binfmt.cc);
#  - a Debian 12 arm64 root made by mmdebstrap, as users make theirs (minbase
#    with gcc, make, libc6-dev: no /lib64), as a tarball in
#    $CROSSFARM_TEST_CACHE/mmdebstrap-bookworm-arm64.tar for the accel e2e
#    tests (tests/e2e/accel_e2e_test.cc). Made once (10-20 minutes: the
#    packages are configured under qemu, hence after the binfmt handlers).
set -euo pipefail

CACHE=${CROSSFARM_TEST_CACHE:-/var/cache/crossfarm-test}
BINFMT=/proc/sys/fs/binfmt_misc
mkdir -p "$CACHE"

if [ "$(id -u)" -ne 0 ]; then
  echo "prepare-fixtures.sh: must run as root (binfmt_misc, dpkg)" >&2
  exit 1
fi

# --- arm64 busybox ---------------------------------------------------------
if [ ! -x "$CACHE/busybox-arm64/bin/busybox" ]; then
  if ! dpkg --print-foreign-architectures | grep -qx arm64; then
    dpkg --add-architecture arm64
    apt-get update -qq
  fi
  tmp=$(mktemp -d)
  chmod 755 "$tmp"  # apt's _apt user downloads into it
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && apt-get download -qq busybox-static:arm64) || {
    apt-get update -qq
    (cd "$tmp" && apt-get download -qq busybox-static:arm64)
  }
  rm -rf "$CACHE/busybox-arm64.new"
  dpkg-deb -x "$tmp"/busybox-static_*_arm64.deb "$CACHE/busybox-arm64.new"
  rm -rf "$CACHE/busybox-arm64"
  mv "$CACHE/busybox-arm64.new" "$CACHE/busybox-arm64"
fi

# --- a .deb for bst's deb source form (tests/worker/source_deb_url_test.cc) ---
# The test downloads it the same way when it is missing.
mkdir -p "$CACHE/debs"
if ! ls "$CACHE/debs"/hello_*_"$(dpkg --print-architecture)".deb >/dev/null 2>&1; then
  (cd "$CACHE/debs" && apt-get download -qq -o APT::Sandbox::User=root hello) || {
    apt-get update -qq
    (cd "$CACHE/debs" && apt-get download -qq -o APT::Sandbox::User=root hello)
  }
fi

# --- binfmt_misc + qemu-user handlers ---------------------------------------
# The foreign archs of common/arch.cc's table, by qemu name (i386 runs natively
# on x86_64, armv7 on aarch64).
case "$(uname -m)" in
  x86_64) QEMUS="aarch64 arm riscv64 s390x ppc64le" ;;
  aarch64) QEMUS="x86_64 riscv64 s390x ppc64le i386" ;;
  *) QEMUS="aarch64 arm riscv64 s390x ppc64le x86_64 i386" ;;
esac
for qemu in $QEMUS; do
  conf=/usr/lib/binfmt.d/qemu-$qemu.conf
  if [ ! -f "$conf" ]; then
    echo "qemu-user-static is not installed: apt-get install qemu-user-static" >&2
    exit 1
  fi
done
[ -e "$BINFMT/register" ] || mount -t binfmt_misc binfmt_misc "$BINFMT"
for qemu in $QEMUS; do
  entry=$BINFMT/qemu-$qemu
  line=$(head -n1 "/usr/lib/binfmt.d/qemu-$qemu.conf")
  case "${line##*:}" in *F*) ;; *) line="${line}F" ;; esac
  if [ -e "$entry" ] && ! grep -q '^flags:.*F' "$entry"; then
    echo -1 > "$entry"  # registered without F: useless inside bwrap
  fi
  if [ ! -e "$entry" ]; then
    printf '%s' "$line" > "$BINFMT/register"
  elif ! grep -qx enabled "$entry"; then
    echo 1 > "$entry"
  fi
done
# --- an mmdebstrap arm64 root ------------------------------------------------
ROOT_TAR=$CACHE/mmdebstrap-bookworm-arm64.tar
if [ ! -s "$ROOT_TAR" ]; then
  command -v mmdebstrap >/dev/null || {
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends mmdebstrap
  }
  # Written beside its final name, renamed when complete: an interrupted run
  # leaves no tarball that looks finished. --skip=output/dev: no device nodes
  # (bwrap gives each sandbox its own /dev; the artifact cache stores none).
  rm -f "$ROOT_TAR".new.tar
  mmdebstrap --quiet --variant=minbase --architectures=arm64 --include=gcc,make,libc6-dev \
    --skip=output/dev bookworm "$ROOT_TAR".new.tar
  mv "$ROOT_TAR".new.tar "$ROOT_TAR"
fi

echo "tests/worker fixtures ready in $CACHE"
