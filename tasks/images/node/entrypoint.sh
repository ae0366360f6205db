#!/bin/sh
# Node container entrypoint: prepares the few kernel-facing mounts systemd and the kubelet need in a
# non-privileged container, then replaces itself with systemd (PID 1).
set -eu

# Docker mounts the cgroup filesystems read-only unless the container is privileged. With a private
# cgroup namespace each mount shows only this container's subtree, so making them writable lets
# systemd and the kubelet manage their own cgroups without seeing (or touching) the host's.
# The read-only flag is on the mount point, not the filesystem: a bind remount clears it.
is_readonly() {
  awk -v m="$1" '$5 == m && $6 ~ /(^|,)ro(,|$)/ { found = 1 } END { exit !found }' /proc/self/mountinfo
}
for mountpoint in /sys/fs/cgroup $(awk '$9 ~ /^cgroup2?$/ { print $5 }' /proc/self/mountinfo); do
  if is_readonly "$mountpoint"; then
    mount -o remount,bind,rw "$mountpoint" || echo "node-entrypoint: cannot make $mountpoint writable" >&2
  fi
done

# containerd and the kubelet mount volumes for pods and expect those mounts to propagate.
mount --make-rshared / 2>/dev/null || echo "node-entrypoint: cannot make / rshared" >&2

exec "$@"
