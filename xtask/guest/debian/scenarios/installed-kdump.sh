# installed-kdump: a whole kdump cycle on the installed Debian image, as a user does it, with
# our capture initramfs (kdump as its PID 1; no shell, udev or systemd inside).
# boot 1: apt install the .deb, kdump reset-crashkernel --apply, update-grub, reboot
# boot 2: systemctl enable --now kdump (builds /var/lib/kdump/initramfs-<r>kdump.img and
#         loads it), kdump status, kdump test --yes (sysrq-c)
# capture kernel: our image saves /var/crash/<host>-<date>/vmcore and vmcore-dmesg.txt on the
#         root file system, then final_action reboot
# boot 3: the dump is there, complete, private (0700/0600); makedumpfile reads its log; the
#         service loaded the capture kernel at boot. Then a second target: xfs by UUID= on
#         the blank disk /dev/vdc, -c; kdump status says the image is stale; kdump restart
#         rebuilds it (now with xfs and vdc's driver chain); kdump test --yes again
# boot 4: the second dump is on the xfs disk. Then a third target: ssh to the host's sshd
#         (xtask/src/sshd.rs), which QEMU's guestfwd puts at 10.0.2.100:22: the key placed
#         as kdump.conf's sshkey, `kdump propagate` (pins the server's host key), kdump
#         restart (the image now holds ssh, the key, its known_hosts, the NIC's driver and
#         the recorded network), kdump test --yes
# capture kernel: the network from the recorded config, the flattened dump streamed over ssh
# boot 5: the package's life: reinstall, upgrade (a conffile edit kept), purge (nothing left
#         but the dumps and the admin's GRUB backup). The host checks the ssh dump itself.
# Payload: kdump-rs_*-1_amd64.deb and kdump-rs_*-2_amd64.deb (the upgrade); kdump_id_rsa(.pub)
# (the client key the host's sshd authorizes) and ssh.env (SSH_SERVER, SSH_PATH: the server's
# address and the dump directory on it).

# files whose names contain kdump, on the root file system, but for these lists, the dumps,
# the backup of /etc/default/grub that reset-crashkernel leaves and /root/.ssh (the ssh key the
# admin placed and the host-key pins `kdump propagate` wrote beside it): the admin's files, kept
kdump_files() {
	find / -xdev \( -path '/var/lib/lab-kdump-files*' -o -path /etc/default/grub.kdump-bak \
		-o -path /var/crash -o -path /root/.ssh \) -prune -o -name '*kdump*' -print 2>/dev/null | sort
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
	# the second target: xfs by UUID on the blank disk
	check mkfs mkfs.xfs -q -f /dev/vdc || fail "mkfs.xfs /dev/vdc"
	uuid=$(blkid -s UUID -o value /dev/vdc)
	result xfs_uuid "$uuid"
	printf 'xfs UUID=%s\npath /dumps\ncore_collector makedumpfile -c --message-level 7 -d 31\n' "$uuid" > /etc/kdump.conf
	check stale_status kdump status
	result stale_said "$(kdump status 2>&1 | grep -c 'is stale')"
	check restart kdump restart
	result restart_loaded "$(cat /sys/kernel/kexec_crash_loaded)"
	result image_xfs "$(kdump build-initrd --list -o /tmp/list2.img | grep -c '/xfs.ko ')"
	echo 4 > "$STATE"
	sync
	echo "KDUMPRS-CRASH step=4 uptime=$(uptime_s)"
	kdump test --yes
	sleep 60
	fail "still alive 60 s after the second kdump test --yes"
}

step_4() {
	wait_system
	mkdir -p /mnt/x && mount /dev/vdc /mnt/x || fail "mount /dev/vdc"
	d=$(ls -d /mnt/x/dumps/*/ 2>/dev/null | head -1)
	[ -n "$d" ] || fail "no dump directory on the xfs disk"
	result xfs_files "$(ls "$d" | tr '\n' ' ')"
	result xfs_modes "$(stat -c %a "$d" "$d/vmcore" 2>&1 | tr '\n' ' ')"
	check xfs_mdf makedumpfile --dump-dmesg "$d/vmcore" /tmp/mdf2.txt
	result xfs_sysrq "$(grep -c 'sysrq: Trigger a crash' /tmp/mdf2.txt)"
	result xfs_zlib "$(od -An -tu4 -j424 -N4 "$d/vmcore" | tr -d ' ')"
	umount /mnt/x
	# the third target: ssh, as a kdumpctl user sets it up
	. /payload/ssh.env
	install -d -m 700 /root/.ssh
	install -m 600 /payload/kdump_id_rsa /root/.ssh/kdump_id_rsa
	install -m 644 /payload/kdump_id_rsa.pub /root/.ssh/kdump_id_rsa.pub
	# the server by name, as most kdump.conf files give it (/etc/hosts here; the capture
	# image has no name service: kdump init maps the name to the address found at build time)
	echo "${SSH_SERVER#*@} kdump-dumphost" >> /etc/hosts
	printf 'ssh %s@kdump-dumphost\nsshkey /root/.ssh/kdump_id_rsa\npath %s\ncore_collector makedumpfile -F -l --message-level 7 -d 31\n' \
		"${SSH_SERVER%@*}" "$SSH_PATH" > /etc/kdump.conf
	block SSH_CONF cat /etc/kdump.conf
	check propagate kdump propagate
	result ssh_pinned "$(grep -c . /root/.ssh/kdump_id_rsa.known_hosts 2>/dev/null)"
	check ssh_restart kdump restart
	result ssh_loaded "$(cat /sys/kernel/kexec_crash_loaded)"
	kdump build-initrd --list -o /tmp/list3.img > /tmp/list3.txt 2>&1
	result ssh_list_rc $?
	block SSH_LIST cat /tmp/list3.txt
	result ssh_img_ssh "$(grep -c '/usr/bin/ssh ' /tmp/list3.txt)"
	result ssh_img_key "$(grep -c '/root/.ssh/kdump_id_rsa ' /tmp/list3.txt)"
	result ssh_img_known "$(grep -c '/root/.ssh/kdump_id_rsa.known_hosts ' /tmp/list3.txt)"
	result ssh_img_nic "$(grep -c '/e1000.ko' /tmp/list3.txt)"
	block SSH_NET ip -4 addr show
	echo 5 > "$STATE"
	sync
	echo "KDUMPRS-CRASH step=5 uptime=$(uptime_s)"
	kdump test --yes
	sleep 60
	fail "still alive 60 s after the third kdump test --yes"
}

step_5() {
	wait_system
	result ssh_back 1
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
