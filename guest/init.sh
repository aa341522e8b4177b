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

# hv.test=reboot (test linux_vm_reboot): boot, reboot, boot again, power off. A reset keeps
# the CMOS NVRAM, as on a PC, so byte 0x48 (through /dev/port: index to 0x70, data at 0x71)
# counts the boots: 0 -> set it to 1 and `reboot -f`; 1 -> the check passes, power off.
cmos_get() {
    printf "\\$(printf %03o "$1")" | dd of=/dev/port bs=1 seek=112 conv=notrunc 2>/dev/null
    dd if=/dev/port bs=1 skip=113 count=1 2>/dev/null | od -An -tu1 | tr -d ' \n'
}
cmos_set() {
    printf "\\$(printf %03o "$1")\\$(printf %03o "$2")" | dd of=/dev/port bs=1 seek=112 conv=notrunc 2>/dev/null
}
if grep -q 'hv.test=reboot' /proc/cmdline; then
    boots=$(cmos_get 72)
    if [ "$boots" = 0 ]; then
        cmos_set 72 1
        echo "hv-guest: reboot test: first boot, rebooting"
        reboot -f
    fi
    echo "hv-guest: reboot test: CMOS counted $boots earlier boots"
    total=1 failures=0
    if [ "$boots" = 1 ]; then
        echo "PASS: linux.reboot_second_boot"
    else
        echo "FAIL: linux.reboot_second_boot: CMOS byte 0x48 is '$boots', not 1"
        failures=1
    fi
    # hv.cpus=N: the reset brought every CPU back (the APs through INIT/SIPI again), and the
    # last one runs work.
    cpus=$(sed -n 's/.*hv\.cpus=\([0-9]*\).*/\1/p' /proc/cmdline)
    if [ -n "$cpus" ]; then
        total=2
        online=$(grep -c '^processor' /proc/cpuinfo)
        ran=$(taskset -c $((cpus - 1)) awk '{ print $39 }' /proc/self/stat 2>/dev/null)
        if [ "$online" = "$cpus" ] && [ "$ran" = $((cpus - 1)) ]; then
            echo "PASS: linux.reboot_all_cpus"
        else
            echo "FAIL: linux.reboot_all_cpus: $online of $cpus CPUs online after the reset, work on CPU $((cpus - 1)) ran on '$ran'"
            failures=$((failures + 1))
        fi
    fi
    echo "SUMMARY: $total tests, $failures failures"
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
