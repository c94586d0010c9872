# kexec-second: runs in the kernel that kexec-load -e booted.
echo "KDUMPRS-KEXEC-SECOND uptime=$(uptime_s)"
result second_kernel "$(uname -r)"
result second_kexec_loaded "$(cat /sys/kernel/kexec_loaded)"
exit 0
