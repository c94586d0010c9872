# hold: run the workload, print /proc/meminfo, signal readiness and wait for the host
# (QMP dump-guest-memory, then quit). Args: kdumprs.anon_mb=30 kdumprs.huge=N (hugetlb pages to map).
workload "$(karg kdumprs.anon_mb 30)" "$(karg kdumprs.huge 0)"
meminfo
echo "KDUMPRS-READY uptime=$(uptime_s)"
while true; do sleep 3600; done
