#!/bin/sh
# /init of the kdump-rs lab guests (busybox-static). Written by xtask (xtask/guest/init.sh).
#
# 1. mounts proc/sys/dev/tmp, installs busybox applets, insmods /lib/modules/load-order;
# 2. exports KDUMP_RS_GUEST=1, the guard marker (crates/kexec-image/src/guard.rs; the kernel
#    command line also carries kdumprs.lab=guest);
# 3. runs the scenario named by kdumprs.scenario=NAME: /scenarios/NAME.sh, in a subshell that
#    sees the helpers below (karg, mark, result, meminfo, workload, ...);
# 4. prints "KDUMPRS-DONE scenario=NAME rc=N" and powers off.
# Markers on the serial console (ttyS0):  KDUMPRS: text | KDUMPRS-RESULT key=value |
# KDUMPRS-<TAG>-BEGIN ... KDUMPRS-<TAG>-END (blocks, e.g. MEMINFO) | KDUMPRS-DONE ...
/bin/busybox mkdir -p /proc /sys /dev /tmp /mnt /sbin /usr/bin /usr/sbin
/bin/busybox --install -s
export PATH=/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev 2>/dev/null
mount -t tmpfs tmp /tmp
export KDUMP_RS_GUEST=1
export HOME=/root

uptime_s() { cut -d' ' -f1 /proc/uptime; }
mark() { echo "KDUMPRS: $*"; }
result() { echo "KDUMPRS-RESULT $1=$2"; }
# karg NAME [DEFAULT]: value of NAME=... on the kernel command line
karg() {
    for a in $(cat /proc/cmdline); do
        case $a in "$1="*) echo "${a#*=}"; return 0;; esac
    done
    echo "${2:-}"
}
block() { # block TAG command...: output of a command between markers
    local tag=$1; shift
    echo "KDUMPRS-$tag-BEGIN"; "$@"; echo "KDUMPRS-$tag-END"
}
meminfo() { block MEMINFO cat /proc/meminfo; }
# workload: page cache, anonymous memory, hugetlb pages (if reserved), then leave the rest free.
#   workload [ANON_MB] [HUGE_PAGES]
workload() {
    local anon=${1:-30} huge=${2:-0}
    if [ -b /dev/vda ]; then dd if=/dev/vda of=/dev/null bs=1M count=64 2>/dev/null; fi
    dd if=/init of=/dev/null 2>/dev/null
    cat /usr/bin/makedumpfile /usr/sbin/kexec > /dev/null
    local hfile=""
    if [ "$huge" -gt 0 ] && grep -q hugetlbfs /proc/filesystems; then
        mkdir -p /mnt/huge && mount -t hugetlbfs none /mnt/huge && hfile=/mnt/huge/lab
    fi
    if [ -n "$hfile" ]; then
        lab-memhog "$anon" "$huge" "$hfile" > /tmp/memhog.log 2>&1 &
    else
        lab-memhog "$anon" 0 > /tmp/memhog.log 2>&1 &
    fi
    local i=0
    while ! grep -q READY /tmp/memhog.log 2>/dev/null && [ $i -lt 100 ]; do sleep 0.2; i=$((i+1)); done
    cat /tmp/memhog.log
    sync
}

# crash_now: sync, print KDUMPRS-CRASH for the host, crash through sysrq-c (the panic kernel
# takes over); if the kernel is still alive 30 s later, the scenario fails.
crash_now() {
    sync
    echo "KDUMPRS-CRASH uptime=$(uptime_s)"
    echo c > /proc/sysrq-trigger
    sleep 30
    mark "still alive after sysrq-c"
    exit 1
}

mark "kernel $(uname -r) up after $(uptime_s)s; cmdline: $(cat /proc/cmdline)"
for m in $(cat /lib/modules/load-order 2>/dev/null); do
    insmod /lib/modules/$m.ko 2>/dev/null || mark "insmod $m failed"
done
scenario=$(karg kdumprs.scenario shell)
mark "guard marker KDUMP_RS_GUEST=$KDUMP_RS_GUEST; scenario $scenario at $(uptime_s)s"
if [ "$scenario" = shell ]; then
    exec setsid cttyhack sh
fi
if [ -f "/scenarios/$scenario.sh" ]; then
    ( . "/scenarios/$scenario.sh" ); rc=$?
else
    mark "no such scenario: /scenarios/$scenario.sh"; rc=127
fi
sync
echo "KDUMPRS-DONE scenario=$scenario rc=$rc uptime=$(uptime_s)"
poweroff -f
