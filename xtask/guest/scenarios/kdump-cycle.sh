# kdump-cycle (first kernel): one crash, for `cargo xtask demo`, the timing pair and the
# target/action tests. The capture kernel runs kdump-cycle-capture, which writes the
# kdump.conf named by kdumprs.conf and saves the dump.
#   kdumprs.mode=ours     `kdump load` (reads /etc/kdump.conf and /etc/sysconfig/kdump)
#   kdumprs.mode=debian   Debian's `kexec -p` with the same kernel, initrd and command line
#   kdumprs.anon_mb, kdumprs.huge   the workload
mode=$(karg kdumprs.mode ours)
mkdir -p /etc/sysconfig
cat > /etc/kdump.conf <<CONF
ext4 LABEL=kdumpfs
path /var/crash
core_collector makedumpfile -l --message-level 7 -d 31
CONF
cat > /etc/sysconfig/kdump <<CONF
KDUMP_COMMANDLINE_REMOVE="hugepages hugepagesz slub_debug quiet log_buf_len swiotlb cma hugetlb_cma kdumprs.scenario"
KDUMP_COMMANDLINE_APPEND="irqpoll nr_cpus=1 reset_devices cgroup_disable=memory mce=off numa=off panic=10 acpi_no_memhotplug transparent_hugepage=never nokaslr hest_disable novmcoredd cma=0 hugetlb_cma=0 pcie_ports=compat kdumprs.scenario=kdump-cycle-capture"
CONF
kdump load --kernel /vmlinuz --initrd /initrd.img --dry-run > /tmp/plan.txt 2>&1
cmdline=$(sed -n 's/^cmdline: //p' /tmp/plan.txt)
case $mode in
debian) kexec -p /vmlinuz --initrd=/initrd.img --append="$cmdline"; rc=$? ;;
*)      kdump load --kernel /vmlinuz --initrd /initrd.img; rc=$? ;;
esac
result load_rc "$rc"
result loaded "$(cat /sys/kernel/kexec_crash_loaded)"
mark "panic kernel loaded ($mode) rc=$rc at $(uptime_s)s"
[ "$(cat /sys/kernel/kexec_crash_loaded)" = 1 ] || exit 1
workload "$(karg kdumprs.anon_mb 30)" "$(karg kdumprs.huge 0)"
crash_now
