# capture-filter (runs in the capture kernel): filter /proc/vmcore at -d 31 -c with the tool named
# by kdumprs.filter=makedumpfile|dumpfilter, as a flattened stream to /dev/vda; statistics
# (makedumpfile --message-level 31 style) go to the serial log in a STATS block.
[ -e /proc/vmcore ] || { mark "no /proc/vmcore: not a capture kernel"; exit 1; }
echo "KDUMPRS-CAPTURE uptime=$(uptime_s)"
result vmcore_size "$(stat -c %s /proc/vmcore)"
filter=$(karg kdumprs.filter makedumpfile)
case $filter in
dumpfilter) dumpfilter -F --message-level 31 -d 31 -c /proc/vmcore > /dev/vda 2>/tmp/filter.log; rc=$? ;;
*)          makedumpfile -F --message-level 31 -d 31 -c /proc/vmcore > /dev/vda 2>/tmp/filter.log; rc=$? ;;
esac
sync
result filter "$filter"
result filter_rc "$rc"
block STATS sh -c "tr '\r' '\n' < /tmp/filter.log | grep -E 'pages|Pages|Memory Hole|Write bytes'"
echo "KDUMPRS-FILTERED uptime=$(uptime_s)"
exit $rc
