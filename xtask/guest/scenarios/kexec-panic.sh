# kexec-panic (issue 6, item 3): load the panic kernel with our kexec-load, note the facts
# VMCOREINFO must repeat, crash with sysrq-c. The capture kernel runs kexec-capture.
#   kdumprs.kexec_syscall=c|s
mode=$(karg kdumprs.kexec_syscall c)
append="console=ttyS0 irqpoll nr_cpus=1 reset_devices panic=-1 kdumprs.lab=guest kdumprs.scenario=kexec-capture"
result crash_size "$(cat /sys/kernel/kexec_crash_size)"
kexec-load -d -p -$mode /vmlinuz --initrd=/initrd.img --append="$append"
result panic_load_rc $?
result crash_loaded "$(cat /sys/kernel/kexec_crash_loaded)"
[ "$(cat /sys/kernel/kexec_crash_loaded)" = 1 ] || exit 1
result first_osrelease "$(uname -r)"
for s in init_uts_ns _stext init_top_pgt; do
    result "first_sym_$s" "$(grep " $s\$" /proc/kallsyms | head -1 | cut -d' ' -f1)"
done
crash_now
