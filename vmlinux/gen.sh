#!/bin/sh
# Regenerates vmlinux/vmlinux.h from the running kernel's BTF.
# The committed header is what the build uses; run this only to follow a newer kernel.
set -eu
cd "$(dirname "$0")"
bpftool btf dump file /sys/kernel/btf/vmlinux format c > vmlinux.h.tmp
mv vmlinux.h.tmp vmlinux.h
echo "vmlinux/vmlinux.h regenerated from /sys/kernel/btf/vmlinux ($(uname -r))"
