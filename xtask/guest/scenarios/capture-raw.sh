# capture-raw (runs in the capture kernel): copy /proc/vmcore as it is to /dev/vda.
# The host cuts the disk image to VMCORE_SIZE.
[ -e /proc/vmcore ] || { mark "no /proc/vmcore: not a capture kernel"; exit 1; }
echo "KDUMPRS-CAPTURE uptime=$(uptime_s)"
result vmcore_size "$(stat -c %s /proc/vmcore)"
echo "KDUMPRS: VMCORE_SIZE=$(stat -c %s /proc/vmcore)"
dd if=/proc/vmcore of=/dev/vda bs=1M 2>&1 | tail -1 || exit 1
sync
result vmcore_disk vda
echo "KDUMPRS-COPIED uptime=$(uptime_s)"
