#!/bin/busybox sh
# init: PID 1 of the default VM's initramfs: busybox applets, the usual mounts, then either
# the scripted workload (hv.workload=1 on the kernel command line) or a shell on the console.
/bin/busybox --install -s /bin
export PATH=/bin
mkdir -p /proc /sys /dev /tmp
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mount -t tmpfs tmpfs /tmp

# The marker tests and benchmarks wait for (same text in a VM and on bare metal), with the
# kernel's uptime: the boot time scripts/bench compares (linux_boot_ratio).
echo "hv-guest: userspace up at $(cut -d' ' -f1 /proc/uptime) s"

# hv.bench=boot: power off at the marker (scripts/bench's boot run: the vmm's exit counts
# when the VM stops are then the boot's).
if grep -q 'hv.bench=boot' /proc/cmdline; then
    poweroff -f
fi

if grep -q 'hv.workload=1' /proc/cmdline; then
    /bin/workload.sh
    poweroff -f
fi

# PID 1 stays this script so `poweroff`, `halt` and `reboot` in the shell (busybox signals
# PID 1: USR2, USR1, TERM) end the VM; so does leaving the shell.
trap 'poweroff -f' USR2 USR1
trap 'reboot -f' TERM
echo "hv-guest: shell ready (poweroff to stop this VM)"
setsid cttyhack sh -l &
wait
poweroff -f
