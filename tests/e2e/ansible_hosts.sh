#!/bin/sh
# "Machines" for tests/e2e/ansible_netns_test.cc: each a network namespace
# (tests/e2e/netns.sh: 10.99.0.(i+2) on a bridge, no route out) holding its own
# Debian root and its own sshd, so ansible manages it over real SSH.
#
#   ansible_hosts.sh up TAG DIR ROOT_TAR PUBKEY NAME...
#       extracts ROOT_TAR (tests/e2e/ansible_fixtures.sh) into DIR/NAME for
#       each NAME, lets PUBKEY log in as root, and starts sshd in it
#   ansible_hosts.sh down TAG
#       kills everything in the namespaces (sshd and what it started) and
#       removes them; the roots under DIR are the caller's to remove
#
# Not chroot: the kernel refuses new user namespaces (bubblewrap) to a
# chrooted process. Each host gets a mount namespace whose root is
# pivot_root'ed into its tree, with a fresh /proc, /run and /tmp, the
# machine's /dev, and binfmt_misc (global to the kernel: the handlers the
# fixtures registered).
set -eu
here=$(dirname "$0")
cmd=$1; tag=$2
case "$cmd" in
down)
  exec "$here/netns.sh" down "$tag"
  ;;
up)
  dir=$3; root_tar=$4; pubkey=$5; shift 5
  "$here/netns.sh" up "$tag" "$@"
  i=2
  for name in "$@"; do
    root=$dir/$name
    mkdir -p "$root"
    tar -xf "$root_tar" -C "$root"
    install -d -m 0700 "$root/root/.ssh"
    install -m 0600 "$pubkey" "$root/root/.ssh/authorized_keys"
    cat > "$root/etc/ssh/sshd_config.d/crossfarm-test.conf" <<CONF
ListenAddress 10.99.0.$i
PermitRootLogin prohibit-password
PasswordAuthentication no
UsePAM no
CONF
    echo "$name" > "$root/etc/hostname"
    ip netns exec "cf$tag-$name" unshare --mount --propagation private -- sh -euc '
      root=$1
      mkdir -p "$root/dev" "$root/proc" "$root/sys" "$root/run" "$root/tmp"
      mount --bind "$root" "$root"
      mount -t proc proc "$root/proc"
      mount -t binfmt_misc binfmt_misc "$root/proc/sys/fs/binfmt_misc"
      mount --rbind /dev "$root/dev"
      mount -t sysfs sysfs "$root/sys"
      mount -t tmpfs -o mode=0755 tmpfs "$root/run"
      mount -t tmpfs -o mode=1777 tmpfs "$root/tmp"
      cd "$root"
      mkdir -p .oldroot
      pivot_root . .oldroot
      cd /
      umount -l /.oldroot
      rmdir /.oldroot
      mkdir -p /run/sshd
      ssh-keygen -A >/dev/null
      /usr/sbin/sshd
    ' sh "$(realpath "$root")"
    i=$((i + 1))
  done
  ;;
*)
  echo "usage: ansible_hosts.sh up TAG DIR ROOT_TAR PUBKEY NAME... | down TAG" >&2
  exit 2
  ;;
esac
