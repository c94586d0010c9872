# installed-deb: the kdump-rs .deb on the installed Debian image, as a user would use it.
# boot 1: apt install, kdump reset-crashkernel --apply, update-grub, reboot
# boot 2: crashkernel= reserved; systemctl enable --now kdump; kdump status; reboot
# boot 3: the service loaded the crash kernel at boot; reinstall, upgrade (conffile edit kept),
#         purge: nothing left. (The crash step goes here once the capture image is ready:
#         `crash_into 4` and a step_4 that checks /var/crash.)
# Payload: kdump-rs_*-1_amd64.deb and kdump-rs_*-2_amd64.deb (the upgrade).

# files whose names contain kdump, on the root file system, but for these lists and the
# backup of /etc/default/grub that reset-crashkernel leaves (the admin's file: kept on purge)
kdump_files() {
	find / -xdev \( -path '/var/lib/lab-kdump-files*' -o -path /etc/default/grub.kdump-bak \) \
		-prune -o -name '*kdump*' -print 2>/dev/null | sort
}

service_state() {
	if [ -d /run/systemd/system ]; then
		systemctl is-active kdump 2>&1
	else
		service kdump status >/dev/null 2>&1 && echo active || echo inactive
	fi
}

step_1() {
	result kernel "$(uname -r)"
	result init "$(cat /proc/1/comm)"
	kdump_files > /var/lib/lab-kdump-files
	deb1=$(ls /payload/kdump-rs_*-1_amd64.deb)
	if check apt apt-get install -y --no-install-recommends "$deb1"; then
		result installed_by apt
	elif check dpkg dpkg -i "$deb1"; then
		result installed_by dpkg
	else
		fail "the package does not install"
	fi
	result bins "$(ls /usr/sbin/kdump /usr/sbin/kexec-load /usr/sbin/dumpfilter 2>/dev/null | wc -l)"
	result version "$(dpkg-query -W -f='${Version}' kdump-rs)"
	result conffiles "$(dpkg-query -W -f='${Conffiles}' kdump-rs | awk '{print $1}' | sort | tr '\n' ' ')"
	if [ -d /run/systemd/system ]; then
		result enabled "$(systemctl is-enabled kdump 2>&1)"
	fi
	result rc_links "$(ls /etc/rc2.d/ | grep -c 'S[0-9]*kdump$')"
	result var_lib_kdump "$(stat -c %a /var/lib/kdump 2>&1)"
	check check kdump check
	check reset kdump reset-crashkernel --apply || fail "kdump reset-crashkernel --apply"
	block DEFAULT_GRUB grep -n '^GRUB_CMDLINE' /etc/default/grub
	check update_grub update-grub || fail "update-grub"
	result grub_cfg_crashkernel "$(grep -c 'crashkernel=' /boot/grub/grub.cfg)"
	next_boot 2
}

step_2() {
	wait_system
	result cmdline_crashkernel "$(tr ' ' '\n' < /proc/cmdline | grep '^crashkernel=')"
	result iomem_crash "$(grep -c 'Crash kernel' /proc/iomem)"
	result crash_size "$(cat /sys/kernel/kexec_crash_size)"
	if [ -d /run/systemd/system ]; then
		check enable systemctl enable --now kdump
	else
		check enable service kdump start
	fi
	result active "$(service_state)"
	result loaded "$(cat /sys/kernel/kexec_crash_loaded)"
	check status kdump status
	next_boot 3
}

step_3() {
	wait_system
	result boot3_active "$(service_state)"
	result boot3_loaded "$(cat /sys/kernel/kexec_crash_loaded)"
	check boot3_status kdump status
	deb1=$(ls /payload/kdump-rs_*-1_amd64.deb)
	deb2=$(ls /payload/kdump-rs_*-2_amd64.deb)
	check reinstall dpkg -i "$deb1"
	result reinstall_active "$(service_state)"
	echo "# an edit by the admin" >> /etc/kdump.conf
	check upgrade dpkg -i "$deb2"
	result upgrade_version "$(dpkg-query -W -f='${Version}' kdump-rs)"
	result upgrade_conf_kept "$(grep -c '^# an edit by the admin' /etc/kdump.conf)"
	result upgrade_active "$(service_state)"
	result upgrade_loaded "$(cat /sys/kernel/kexec_crash_loaded)"
	check purge apt-get purge -y kdump-rs
	result purged_loaded "$(cat /sys/kernel/kexec_crash_loaded)"
	result purged_status "$(dpkg-query -W -f='${Status}' kdump-rs 2>&1 | head -1)"
	kdump_files > /var/lib/lab-kdump-files.after
	block LEFTOVERS diff /var/lib/lab-kdump-files /var/lib/lab-kdump-files.after
	result leftovers "$(diff /var/lib/lab-kdump-files /var/lib/lab-kdump-files.after | grep -c '^[<>]')"
	result grub_backup "$(ls /etc/default/grub.kdump-bak 2>/dev/null | wc -l)"
	result masked "$(ls /var/lib/systemd/deb-systemd-helper-masked/ 2>/dev/null | grep -c kdump)"
	finish 0
}
