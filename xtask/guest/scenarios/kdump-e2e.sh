# kdump-e2e (first kernel): `kdump load` reads /etc/kdump.conf and /etc/sysconfig/kdump, loads
# /vmlinuz + /initrd.img as the panic kernel; workload; sysrq-c. The capture kernel runs
# kdump-e2e-capture (named in KDUMP_COMMANDLINE_APPEND; kdumprs.scenario is removed by
# KDUMP_COMMANDLINE_REMOVE, as kdumpctl edits the command line).
mkdir -p /etc
cat > /etc/kdump.conf <<EOF
ext4 LABEL=kdumpfs
path /var/crash
core_collector makedumpfile -l --message-level 7 -d 31
EOF
cat > /etc/sysconfig-kdump <<EOF
KDUMP_COMMANDLINE_REMOVE="hugepages hugepagesz slub_debug quiet log_buf_len swiotlb cma hugetlb_cma ignition.firstboot kdumprs.scenario"
KDUMP_COMMANDLINE_APPEND="irqpoll nr_cpus=1 reset_devices cgroup_disable=memory mce=off numa=off udev.children-max=2 panic=10 acpi_no_memhotplug transparent_hugepage=never nokaslr hest_disable novmcoredd cma=0 hugetlb_cma=0 pcie_ports=compat kdumprs.scenario=kdump-e2e-capture"
EOF
mkdir -p /etc/sysconfig && mv /etc/sysconfig-kdump /etc/sysconfig/kdump
result crash_size "$(cat /sys/kernel/kexec_crash_size)"
kdump check; result check_rc $?
kdump load --kernel /vmlinuz --initrd /initrd.img --dry-run > /tmp/plan.txt 2>&1; result dry_rc $?
mark "capture cmdline: $(sed -n 's/^cmdline: //p' /tmp/plan.txt)"
t0=$(uptime_s)
kdump load --kernel /vmlinuz --initrd /initrd.img; rc=$?
result load_rc "$rc"
result loaded "$(cat /sys/kernel/kexec_crash_loaded)"
mark "panic kernel loaded rc=$rc in $(awk "BEGIN{print $(uptime_s)-$t0}")s"
[ "$(cat /sys/kernel/kexec_crash_loaded)" = 1 ] || exit 1
kdump unload; result unload_rc $?
result unloaded "$(cat /sys/kernel/kexec_crash_loaded)"
kdump load --kernel /vmlinuz --initrd /initrd.img > /dev/null; result reload_rc $?
workload "$(karg kdumprs.anon_mb 30)" "$(karg kdumprs.huge 0)"
crash_now
