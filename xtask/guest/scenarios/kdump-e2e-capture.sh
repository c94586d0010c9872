# kdump-e2e-capture (capture kernel of kdump-e2e): save /proc/vmcore as kdump.conf says.
# Disks: vda ext4 LABEL=kdumpfs, vdb raw, vdc MBR-partitioned with ext3 on vdc1, vdd raw
# (reference: Debian makedumpfile's flattened stream of the same crash).
# `kdump save` for ext4 LABEL=, raw /dev/vdb and ext3 /dev/vdc1 (the Debian timing
# reference is kdump-cycle-capture.sh).
[ -e /proc/vmcore ] || { mark "no /proc/vmcore: not a capture kernel"; exit 1; }
echo "KDUMPRS-CAPTURE uptime=$(uptime_s)"
result vmcore_size "$(stat -c %s /proc/vmcore)"
mkdir -p /etc
rc=0
cat > /etc/kdump.conf <<EOF
ext4 LABEL=kdumpfs
path /var/crash
core_collector makedumpfile -l --message-level 7 -d 31
final_action poweroff
EOF
kdump save --no-action > /tmp/save1.log 2>&1; r=$?
cat /tmp/save1.log
result save_label_rc $r; [ $r = 0 ] || rc=1
echo "KDUMPRS-SAVED uptime=$(uptime_s)"
umount /kdumproot 2>/dev/null
cat > /etc/kdump-raw.conf <<EOF
raw /dev/vdb
core_collector makedumpfile -F -l --message-level 7 -d 31
EOF
kdump save --config /etc/kdump-raw.conf --no-action; r=$?
result save_raw_rc $r; [ $r = 0 ] || rc=1
cat > /etc/kdump-dev.conf <<EOF
ext3 /dev/vdc1
path /dumps
core_collector dumpfilter -l --message-level 7 -d 31
EOF
kdump save --config /etc/kdump-dev.conf --no-action; r=$?
result save_dev_rc $r; [ $r = 0 ] || rc=1
umount /kdumproot 2>/dev/null
t0=$(uptime_s)
makedumpfile -F -l --message-level 7 -d 31 /proc/vmcore > /dev/vdd 2>/tmp/ref.log; r=$?
result ref_rc $r; [ $r = 0 ] || rc=1
result ref_seconds "$(awk "BEGIN{print $(uptime_s)-$t0}")"
sync
exit $rc
