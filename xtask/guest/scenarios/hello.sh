# hello: the guest boots, the guard marker is set, our static binaries run.
result guest_env "$KDUMP_RS_GUEST"
if grep -q 'kdumprs.lab=guest' /proc/cmdline; then result cmdline_token 1; else result cmdline_token 0; fi
result kernel "$(uname -r)"
rc=0
for b in kexec-load dumpfilter kdump; do
    if [ -x /usr/local/bin/$b ]; then
        /usr/local/bin/$b --help > /tmp/$b.out 2>&1; r=$?
        head -2 /tmp/$b.out
        result "${b}_help_rc" "$r"
        [ "$r" = 0 ] || rc=1
    else
        result "${b}_help_rc" missing
        rc=1
    fi
done
# An ext4 scratch disk made on the host (mkfs.ext4 -d) as /dev/vda: read input, write output.
if [ -b /dev/vda ]; then
    mkdir -p /mnt/disk
    if mount -t ext4 /dev/vda /mnt/disk; then
        result disk_input "$(cat /mnt/disk/input.txt)"
        echo "written by $(uname -r)" > /mnt/disk/output.txt
        umount /mnt/disk && result disk_written 1
    else
        result disk_written 0; rc=1
    fi
fi
result vmcoreinfo_fw_cfg "$(ls /sys/firmware/qemu_fw_cfg/by_name/etc/ 2>/dev/null | grep -c vmcoreinfo)"
exit $rc
