# kexec-load (issue 6, items 1, 2, 4, 5): load /vmlinuz + /initrd.img with our kexec-load,
# check -u and -p -u, then boot it with -e. The new kernel runs kexec-second.
#   kdumprs.kexec_syscall=c|s   -c: our segments + purgatory (kexec_load); -s: kexec_file_load
#   kdumprs.kexec_corrupt=1     test-only switch: corrupt the purgatory digest (must not boot)
#   kdumprs.kexec_ref=1         reference run: the final load and -e by kexec-tools instead
mode=$(karg kdumprs.kexec_syscall c)
corrupt=""
[ "$(karg kdumprs.kexec_corrupt 0)" = 1 ] && corrupt="--corrupt-digest-for-testing"
append="console=ttyS0 panic=-1 kdumprs.lab=guest kdumprs.scenario=kexec-second"
result crash_size "$(cat /sys/kernel/kexec_crash_size)"

# -l then -u
kexec-load -l -$mode /vmlinuz --initrd=/initrd.img --append="$append" $corrupt
result first_load_rc $?
result loaded_after_load "$(cat /sys/kernel/kexec_loaded)"
kexec-load -u -$mode
result unload_rc $?
result loaded_after_unload "$(cat /sys/kernel/kexec_loaded)"

# -p then -p -u (needs crashkernel= on the command line)
if [ "$(cat /sys/kernel/kexec_crash_size)" != 0 ]; then
    kexec-load -p -$mode /vmlinuz --initrd=/initrd.img --append="$append irqpoll nr_cpus=1"
    result panic_load_rc $?
    result crash_loaded_after_load "$(cat /sys/kernel/kexec_crash_loaded)"
    kexec-load -p -u -$mode
    result panic_unload_rc $?
    result crash_loaded_after_unload "$(cat /sys/kernel/kexec_crash_loaded)"
fi

# load for real, show the segment table, status, then -e
if [ "$(karg kdumprs.kexec_ref 0)" = 1 ]; then
    kexec -l -$mode /vmlinuz --initrd=/initrd.img --append="$append"
else
    kexec-load -d -l -$mode /vmlinuz --initrd=/initrd.img --append="$append" $corrupt
fi
rc=$?
result load_rc $rc
[ $rc = 0 ] && [ "$(cat /sys/kernel/kexec_loaded)" = 1 ] || exit 1
kexec-load -S
result status_rc $?
sync
echo "KDUMPRS-KEXEC-EXEC uptime=$(uptime_s)"
kexec-load -e
mark "kexec-load -e returned $?"
exit 1
