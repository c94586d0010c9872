# kdump: load the panic kernel, run the workload, print meminfo and crash with sysrq-c.
# The capture kernel boots the same /vmlinuz with /initrd.img and runs kdumprs.capture=NAME
# (default capture-raw). Every kdumprs.* argument except scenario/capture is passed on.
#   kdumprs.loader=debian|ours   who loads the panic kernel (ours = kexec-load, when it can)
capture=$(karg kdumprs.capture capture-raw)
pass=""
for a in $(cat /proc/cmdline); do
    case $a in kdumprs.scenario=*|kdumprs.capture=*|kdumprs.lab=*) ;; kdumprs.*) pass="$pass $a";; esac
done
append="console=ttyS0 irqpoll nr_cpus=1 reset_devices panic=-1 kdumprs.lab=guest kdumprs.scenario=$capture$pass"
result crash_size "$(cat /sys/kernel/kexec_crash_size)"
loader=$(karg kdumprs.loader debian)
case $loader in
ours) kexec-load -p /vmlinuz --initrd=/initrd.img --append="$append"; rc=$? ;;
*)    kexec -p /vmlinuz --initrd=/initrd.img --append="$append"; rc=$? ;;
esac
result loader "$loader"
result loaded "$(cat /sys/kernel/kexec_crash_loaded)"
mark "panic kernel loaded by $loader rc=$rc at $(uptime_s)s"
[ "$(cat /sys/kernel/kexec_crash_loaded)" = 1 ] || exit 1
workload "$(karg kdumprs.anon_mb 30)" "$(karg kdumprs.huge 0)"
meminfo
crash_now
