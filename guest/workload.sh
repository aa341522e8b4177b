#!/bin/sh
# workload: the default VM's scripted self-test: busybox commands, a fork/exec loop and tmpfs
# file I/O, each reported as PASS:/FAIL: with a SUMMARY line, plus timing lines for benchmarks.
tests=0
failures=0
# The checks' prefix: "linux", or hv.checks=<name> from the kernel command line, so the
# checks of VMs sharing one console can be told apart (qemu.linux_two_vms).
prefix=$(sed -n 's/.*hv\.checks=\([a-z0-9_]*\).*/\1/p' /proc/cmdline)
prefix=${prefix:-linux}
check() {   # check <name> <command...>: PASS if the command succeeds
    name=$1; shift
    tests=$((tests + 1))
    if "$@" >/tmp/check.out 2>&1; then
        echo "PASS: $prefix.$name"
    else
        failures=$((failures + 1))
        echo "FAIL: $prefix.$name: $(head -c 200 /tmp/check.out)"
    fi
}

check_eq() {   # check_eq <name> <got> <want>: PASS if equal, else FAIL showing both
    check "$1" sh -c '[ "$1" = "$2" ] || { echo "got \"$1\", want \"$2\""; exit 1; }' _ "$2" "$3"
}

# The kernel's monotonic clock in ns (/proc/timer_list: "now at <ns> nsecs"), for the phase
# durations scripts/bench compares (guest_cpu_ratio, forkexec_*_ratio); /proc/uptime's
# 10 ms steps are too coarse for a ratio near 1. Falls back to /proc/uptime.
now_ns() {
    awk '/^now at/ { print $3; found = 1; exit } END { if (!found) exit 1 }' /proc/timer_list 2>/dev/null ||
        awk '{ printf "%.0f\n", $1 * 1e9 }' /proc/uptime
}
seconds() {   # seconds <start_ns> <end_ns>: the difference in seconds, 6 decimals
    awk "BEGIN { printf \"%.6f\", ($2 - $1) / 1e9 }"
}

# hv.cpus=N on the command line: the VM has N CPUs (the cpus check, and the SMP checks below).
cpus_cmdline=$(sed -n 's/.*hv\.cpus=\([0-9][0-9]*\).*/\1/p' /proc/cmdline)
[ -n "$cpus_cmdline" ] && HV_EXPECT_CPUS=$cpus_cmdline && export HV_EXPECT_CPUS

# Kernel and userspace basics.
check uname sh -c '[ "$(uname -s)" = Linux ] && [ "$(uname -m)" = x86_64 ]'
check cpus sh -c 'grep -c ^processor /proc/cpuinfo | grep -qx "${HV_EXPECT_CPUS:-[0-9]*}"'
check meminfo sh -c 'awk "/MemTotal/ { exit !(\$2 > 65536) }" /proc/meminfo'
check text_tools sh -c '[ "$(printf "b\na\nc\n" | sort | tr "\n" " " | sed "s/ $//")" = "a b c" ]'
check arithmetic sh -c '[ $((6 * 7)) -eq 42 ] && [ "$(expr 2 \* 2 \* 2)" = 8 ]'

# Fork/exec loop: N child processes, each an exec of a separate binary (busybox applet).
loops=${HV_FORK_LOOPS:-500}
start=$(now_ns)
i=0
while [ $i -lt "$loops" ]; do
    /bin/true || break
    i=$((i + 1))
done
end=$(now_ns)
check forkexec_count [ "$i" -eq "$loops" ]
echo "hv-guest: forkexec $loops loops in $(seconds "$start" "$end") s"

# tmpfs: write 4 MiB of pseudo-random data, read it back, compare checksums, then delete.
check tmpfs_write dd if=/dev/urandom of=/tmp/data bs=64k count=64
check tmpfs_size sh -c '[ "$(wc -c < /tmp/data)" -eq 4194304 ]'
sum1=$(md5sum < /tmp/data)
check tmpfs_copy cp /tmp/data /tmp/data2
check tmpfs_readback sh -c "[ \"\$(md5sum < /tmp/data2)\" = \"$sum1\" ]"
check tmpfs_many_files sh -c 'mkdir /tmp/d && for n in $(seq 1 200); do echo $n > /tmp/d/f$n; done && [ "$(cat /tmp/d/f* | wc -l)" -eq 200 ]'
check tmpfs_remove sh -c 'rm -r /tmp/data /tmp/data2 /tmp/d && [ ! -e /tmp/data ]'

# CPU-bound loop for the guest_cpu_ratio benchmark (shell arithmetic, no system calls inside).
start=$(now_ns)
n=0; acc=0
while [ $n -lt 20000 ]; do acc=$(((acc * 31 + n) % 1000003)); n=$((n + 1)); done
end=$(now_ns)
check cpu_loop [ "$acc" -ne 0 ]
echo "hv-guest: cpu loop 20000 steps in $(seconds "$start" "$end") s"

# SMP (only with hv.cpus=N, N > 1): every CPU online, work placed on CPU 0 and on the last
# CPU runs there, every CPU takes local timer interrupts, rescheduling IPIs were sent, two
# CPU-bound loops at once, and the last CPU taken offline and brought back (the second
# INIT/SIPI to a started CPU).
if [ "${HV_EXPECT_CPUS:-1}" -gt 1 ]; then
    last=$((HV_EXPECT_CPUS - 1))
    # The CPU a task pinned to CPU $1 ran on (/proc/self/stat field 39).
    ran_on() { taskset -c "$1" awk '{ print $39 }' /proc/self/stat; }
    # The smallest (min) or the total (sum) per-CPU count on /proc/interrupts line $2.
    irq_count() {
        awk -v how="$1" -v name="$2:" -v n="$HV_EXPECT_CPUS" '$1 == name {
            m = -1; s = 0
            for (i = 2; i <= n + 1; i++) { s += $i; if (m < 0 || $i < m) m = $i }
            print (how == "min" ? m : s); exit }' /proc/interrupts
    }
    check_eq smp_online "$(cat /sys/devices/system/cpu/online)" "0-$last"
    check_eq smp_nproc "$(nproc)" "$HV_EXPECT_CPUS"
    check_eq smp_runs_on_cpu0 "$(ran_on 0)" 0
    check_eq smp_runs_on_last_cpu "$(ran_on $last)" "$last"
    check smp_local_timer_every_cpu [ "$(irq_count min LOC)" -gt 0 ]
    check smp_resched_ipis [ "$(irq_count sum RES)" -gt 0 ]
    grep -E '^ *(LOC|RES|CAL|TLB):' /proc/interrupts | sed 's/^ */hv-guest: interrupts /'
    # Two CPU-bound loops pinned to different CPUs at once; both finish with the same result.
    loop='n=0; a=0; while [ $n -lt 20000 ]; do a=$(((a * 31 + n) % 1000003)); n=$((n + 1)); done; echo $a'
    start=$(now_ns)
    taskset -c 0 sh -c "$loop" >/tmp/par0 &
    p0=$!
    taskset -c "$last" sh -c "$loop" >/tmp/par1 &
    p1=$!
    wait $p0
    wait $p1
    end=$(now_ns)
    check_eq smp_parallel_loops "$(cat /tmp/par0) $(cat /tmp/par1)" "$(sh -c "$loop") $(sh -c "$loop")"
    echo "hv-guest: two cpu loops of 20000 steps in parallel in $(seconds "$start" "$end") s"
    # Hotplug: offline (the CPU parks with interrupts off), online again (INIT/SIPI again).
    echo 0 >/sys/devices/system/cpu/cpu$last/online
    check_eq smp_cpu_offline "$(cat /sys/devices/system/cpu/online)" "$([ $last -eq 1 ] && echo 0 || echo 0-$((last - 1)))"
    echo 1 >/sys/devices/system/cpu/cpu$last/online
    check_eq smp_cpu_online_again "$(cat /sys/devices/system/cpu/online)" "0-$last"
    check_eq smp_runs_on_last_cpu_again "$(ran_on $last)" "$last"
fi

echo "SUMMARY: $tests tests, $failures failures"
