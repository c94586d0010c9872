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
result vmcoreinfo_fw_cfg "$(ls /sys/firmware/qemu_fw_cfg/by_name/etc/ 2>/dev/null | grep -c vmcoreinfo)"
exit $rc
