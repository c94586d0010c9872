# kdump-cycle-capture (capture kernel of kdump-cycle): write the kdump.conf named by
# kdumprs.conf and save /proc/vmcore. KDUMPRS-SAVED marks the dump complete on disk.
#   kdumprs.mode=ours     `kdump save` (core_collector run in-process)
#   kdumprs.mode=debian   kdump-utils' steps with Debian's makedumpfile: mount the target,
#                         --dump-dmesg, makedumpfile into vmcore-incomplete, sync, rename
#   kdumprs.conf=label    ext4 LABEL=kdumpfs (vda), /var/crash, makedumpfile -l -d 31,
#                         final_action poweroff
#   kdumprs.conf=rootfs   ext4 LABEL=missing, failure_action dump_to_rootfs (root fs: vda
#                         mounted on /sysroot, as the capture initramfs would), poweroff
#   kdumprs.conf=faulty   ext4 LABEL=faulty (a disk behind QEMU's blkdebug, or too small),
#                         failure_action kdumprs.failure (default poweroff), final_action
#                         poweroff; kdumprs.sysroot=vda mounts vda on /sysroot (dump_to_rootfs)
#   kdumprs.conf=nfs      nfs 10.0.2.2:/export (kdumprs.nfsport: mountd and nfsd on the host;
#                         kdump save adds addr=10.0.2.2 itself)
#   kdumprs.action=run    run the final/failure action for real (default: --no-action)
[ -e /proc/vmcore ] || { mark "no /proc/vmcore: not a capture kernel"; exit 1; }
echo "KDUMPRS-CAPTURE uptime=$(uptime_s)"
mode=$(karg kdumprs.mode ours)
conf=$(karg kdumprs.conf label)
collector="makedumpfile -l --message-level $(karg kdumprs.msglevel 7) -d 31"
result vmcore_size "$(stat -c %s /proc/vmcore)"
extra=""
case $conf in
rootfs)
    mkdir -p /sysroot && mount -t ext4 /dev/vda /sysroot || exit 1
    target="ext4 LABEL=missing"
    tail="failure_action dump_to_rootfs
final_action poweroff" ;;
faulty)
    if [ "$(karg kdumprs.sysroot)" = vda ]; then
        mkdir -p /sysroot && mount -t ext4 /dev/vda /sysroot || exit 1
    fi
    target="ext4 LABEL=faulty"
    tail="failure_action $(karg kdumprs.failure poweroff)
final_action poweroff" ;;
nfs)
    for m in sunrpc grace lockd nfs_acl netfs fscache nfs nfsv3 e1000; do
        [ -e /lib/modules/nfs/$m.ko ] && { insmod /lib/modules/nfs/$m.ko || mark "insmod $m failed"; }
    done
    ip link set lo up
    ip link set eth0 up && ip addr add 10.0.2.15/24 dev eth0 || { mark "no eth0"; ip link; exit 1; }
    p=$(karg kdumprs.nfsport)
    target="nfs 10.0.2.2:/export"
    extra="--nfs-options nolock,vers=3,proto=tcp,port=$p,mountport=$p,mountproto=tcp,mountvers=3"
    tail="final_action poweroff" ;;
*)
    target="ext4 LABEL=kdumpfs"
    tail="final_action poweroff" ;;
esac
mkdir -p /etc
printf '%s\npath /var/crash\ncore_collector %s\n%s\n' "$target" "$collector" "$tail" > /etc/kdump.conf
block KDUMPCONF cat /etc/kdump.conf
if [ "$mode" = debian ]; then
    mkdir -p /kdumproot && mount -t ext4 /dev/vda /kdumproot || exit 1
    d=/kdumproot/var/crash/127.0.0.1-$(date +%Y-%m-%d-%T)
    mkdir -p "$d"
    makedumpfile --dump-dmesg /proc/vmcore "$d/vmcore-dmesg.txt" > /dev/null 2>&1
    $collector /proc/vmcore "$d/vmcore-incomplete" > /tmp/collector.log 2>&1; r=$?
    sync && mv "$d/vmcore-incomplete" "$d/vmcore" && sync
    umount /kdumproot
    echo "KDUMPRS-SAVED rc=$r uptime=$(uptime_s)"
    result save_rc $r
    block COLLECTOR cat /tmp/collector.log
    exit $r
fi
if [ "$(karg kdumprs.action)" = run ]; then
    # The action powers the guest off: nothing after this line should run.
    kdump save $extra
    mark "kdump save returned $? instead of running its action"
    exit 1
fi
kdump save --no-action $extra; r=$?
echo "KDUMPRS-SAVED rc=$r uptime=$(uptime_s)"
result save_rc $r
exit $r
