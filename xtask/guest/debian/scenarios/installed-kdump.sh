# installed-kdump: a whole kdump cycle on the installed Debian image, as a user does it, with
# our capture initramfs (kdump as its PID 1; no shell, udev or systemd inside).
# boot 1: apt install the .deb, kdump reset-crashkernel --apply, update-grub, reboot
# boot 2: systemctl enable --now kdump (builds /var/lib/kdump/initramfs-<r>kdump.img and
#         loads it), kdump status, kdump test --yes (sysrq-c)
# capture kernel: our image saves /var/crash/<host>-<date>/vmcore and vmcore-dmesg.txt on the
#         root file system, then final_action reboot
# boot 3: the dump is there, complete, private (0700/0600); makedumpfile reads its log; the
#         service loaded the capture kernel at boot; then the package's life: reinstall,
#         upgrade (a conffile edit kept), purge (nothing left but the dumps and the admin's
#         GRUB backup)
# Payload: kdump-rs_*-1_amd64.deb and kdump-rs_*-2_amd64.deb (the upgrade).

# files whose names contain kdump, on the root file system, but for these lists, the dumps and
# the backup of /etc/default/grub that reset-crashkernel leaves (the admin's file: kept)
kdump_files() {
	find / -xdev \( -path '/var/lib/lab-kdump-files*' -o -path /etc/default/grub.kdump-bak \
		-o -path /var/crash \) -prune -o -name '*kdump*' -print 2>/dev/null | sort
}

step_1() {
	result kernel "$(uname -r)"
	kdump_files > /var/lib/lab-kdump-files
	deb=$(ls /payload/kdump-rs_*-1_amd64.deb)
	check apt apt-get install -y --no-install-recommends "$deb" || check dpkg dpkg -i "$deb" ||
		fail "the package does not install"
	check reset kdump reset-crashkernel --apply || fail "kdump reset-crashkernel --apply"
	check update_grub update-grub || fail "update-grub"
	next_boot 2
}

step_2() {
	wait_system
	result crash_size "$(cat /sys/kernel/kexec_crash_size)"
	check enable systemctl enable --now kdump
	result loaded "$(cat /sys/kernel/kexec_crash_loaded)"
	check journal journalctl -b -u kdump --no-pager
	check status kdump status
	check image kdump build-initrd --check
	r=$(uname -r)
	result image_size "$(stat -c %s /var/lib/kdump/initramfs-${r}kdump.img 2>/dev/null)"
	[ "$(cat /sys/kernel/kexec_crash_loaded)" = 1 ] || fail "no capture kernel loaded"
	echo 3 > "$STATE"
	sync
	echo "KDUMPRS-CRASH step=3 uptime=$(uptime_s)"
	kdump test --yes
	sleep 60
	fail "still alive 60 s after kdump test --yes"
}

step_3() {
	wait_system
	d=$(ls -d /var/crash/*/ 2>/dev/null | head -1)
	[ -n "$d" ] || fail "no dump directory in /var/crash"
	result dump_dir "$d"
	result files "$(ls "$d" | tr '\n' ' ')"
	result vmcore_size "$(stat -c %s "$d/vmcore" 2>/dev/null)"
	result modes "$(stat -c %a /var/crash "$d" "$d/vmcore" "$d/vmcore-dmesg.txt" 2>&1 | tr '\n' ' ')"
	result dmesg_sysrq "$(grep -c 'sysrq: Trigger a crash' "$d/vmcore-dmesg.txt")"
	check mdf_dmesg makedumpfile --dump-dmesg "$d/vmcore" /tmp/mdf-dmesg.txt
	result mdf_sysrq "$(grep -c 'sysrq: Trigger a crash' /tmp/mdf-dmesg.txt)"
	result loaded_again "$(cat /sys/kernel/kexec_crash_loaded)"
	result enabled "$(systemctl is-enabled kdump 2>&1)"
	deb1=$(ls /payload/kdump-rs_*-1_amd64.deb)
	deb2=$(ls /payload/kdump-rs_*-2_amd64.deb)
	check reinstall dpkg -i "$deb1"
	result reinstall_active "$(systemctl is-active kdump 2>&1)"
	echo "# an edit by the admin" >> /etc/kdump.conf
	check upgrade dpkg -i "$deb2"
	result upgrade_version "$(dpkg-query -W -f='${Version}' kdump-rs)"
	result upgrade_conf_kept "$(grep -c '^# an edit by the admin' /etc/kdump.conf)"
	result upgrade_active "$(systemctl is-active kdump 2>&1)"
	result upgrade_loaded "$(cat /sys/kernel/kexec_crash_loaded)"
	check purge apt-get purge -y kdump-rs
	result purged_loaded "$(cat /sys/kernel/kexec_crash_loaded)"
	kdump_files > /var/lib/lab-kdump-files.after
	block LEFTOVERS diff /var/lib/lab-kdump-files /var/lib/lab-kdump-files.after
	result leftovers "$(diff /var/lib/lab-kdump-files /var/lib/lab-kdump-files.after | grep -c '^[<>]')"
	result masked "$(ls /var/lib/systemd/deb-systemd-helper-masked/ 2>/dev/null | grep -c kdump)"
	finish 0
}
