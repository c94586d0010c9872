# kexec-capture: runs in the capture kernel loaded by kexec-panic. Checks /proc/vmcore (ELF
# core, VMCOREINFO symbols) and filters it with makedumpfile -d 31 to a pipe.
[ -e /proc/vmcore ] || { mark "no /proc/vmcore: not a capture kernel"; exit 1; }
echo "KDUMPRS-CAPTURE uptime=$(uptime_s)"
result vmcore_size "$(stat -c %s /proc/vmcore)"
result vmcore_ident "$(head -c 20 /proc/vmcore | od -An -tx1 | tr -d ' \n')"
head -c 1048576 /proc/vmcore | strings > /tmp/notes.txt
result vmcore_osrelease "$(sed -n 's/^OSRELEASE=//p' /tmp/notes.txt | head -1)"
result vmcore_kerneloffset "$(sed -n "s/^KERNELOFFSET=//p" /tmp/notes.txt | head -1)"
for s in init_uts_ns _stext init_top_pgt; do
    result "vmcore_sym_$s" "$(sed -n "s/^SYMBOL($s)=//p" /tmp/notes.txt | head -1)"
done
t0=$(uptime_s)
(makedumpfile -F -d 31 -c /proc/vmcore 2>/tmp/mdf.err; echo $? > /tmp/mdf.rc) | wc -c > /tmp/mdf.size
rc=$(cat /tmp/mdf.rc)
tail -3 /tmp/mdf.err
result mdf_rc "$rc"
result mdf_flat_bytes "$(cat /tmp/mdf.size)"
result mdf_seconds "$t0-$(uptime_s)"
exit $rc
