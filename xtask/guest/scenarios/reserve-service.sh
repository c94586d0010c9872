# reserve-service: issue 8 in a guest booted with crashkernel=192M (and `lab --ours --kexec`).
# `/usr/local/bin/kdump status` must report the reservation from /proc/iomem and sysfs; the SysV service
# installed by `/usr/local/bin/kdump install-service --sysv` must load the panic kernel on start
# (kexec_crash_loaded = 1) and unload it on stop (0). Never crashes the guest.
rc=0
result crash_size "$(cat /sys/kernel/kexec_crash_size)"
block IOMEM grep -i "crash kernel" /proc/iomem
# The images `kdump load` uses: the kexec payload of the lab initramfs.
mkdir -p /etc/default
printf 'USE_KDUMP=1\nKDUMP_KERNEL=/vmlinuz\nKDUMP_INITRD=/initrd.img\n' > /etc/default/kdump-tools
block STATUS-BEFORE /usr/local/bin/kdump status
/usr/local/bin/kdump status > /tmp/status1 2>&1; result status_rc_before $?
grep -q '^reserved: *192.0 MiB' /tmp/status1 && result status_reserved 192M || { result status_reserved bad; rc=1; }
grep -q '^/proc/iomem: *Crash kernel 0x' /tmp/status1 && result status_iomem ok || { result status_iomem bad; rc=1; }
grep -q '^verdict: *images fit' /tmp/status1 && result status_fit yes || { result status_fit no; rc=1; }
/usr/local/bin/kdump install-service --sysv; result install_rc $?
[ -x /etc/init.d/kdump ] || { result init_script missing; rc=1; }
/etc/init.d/kdump start; result service_start_rc $?
result loaded_after_start "$(cat /sys/kernel/kexec_crash_loaded)"
/etc/init.d/kdump status; result service_status_rc $?
block STATUS-LOADED /usr/local/bin/kdump status
/usr/local/bin/kdump status > /dev/null 2>&1; result status_rc_loaded $?
[ "$(cat /sys/kernel/kexec_crash_loaded)" = 1 ] || rc=1
/etc/init.d/kdump stop; result service_stop_rc $?
result loaded_after_stop "$(cat /sys/kernel/kexec_crash_loaded)"
[ "$(cat /sys/kernel/kexec_crash_loaded)" = 0 ] || rc=1
[ "$(cat /sys/kernel/kexec_crash_size)" = 201326592 ] || rc=1
exit $rc
