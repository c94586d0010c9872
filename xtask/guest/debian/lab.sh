# lab.sh: helpers and the step dispatcher for scenarios on the installed Debian image.
# xtask/src/installed.rs writes /payload/run.sh as: SCENARIO=NAME, the scenario's step_N
# functions, then `. /payload/lab.sh`. lab-boot runs run.sh on every boot; the step to run is
# kept in /var/lib/lab-step on the guest's root (1 on the first boot), so a scenario is a
# small state machine across reboots and crashes:
#   step_1() { ...; next_boot 2; }       # reboot, continue with step_2
#   step_2() { ...; crash_into 3; }      # sysrq-c; the capture kernel saves and reboots
#   step_3() { ...; finish 0; }          # KDUMPRS-DONE, power off
# A step that returns ends the scenario with its exit status.

STATE=/var/lib/lab-step
export DEBIAN_FRONTEND=noninteractive

result() { echo "KDUMPRS-RESULT $1=$2"; }
mark() { echo "KDUMPRS: $*"; }
uptime_s() { cut -d' ' -f1 /proc/uptime; }

# block TAG cmd...: the command's output between KDUMPRS-TAG-BEGIN and -END; its status
block() {
	_t=$1
	shift
	echo "KDUMPRS-$_t-BEGIN"
	"$@" 2>&1
	_r=$?
	echo "KDUMPRS-$_t-END"
	return $_r
}

# check KEY cmd...: block KEY, and the status as result KEY_rc
check() {
	_k=$1
	shift
	block "$(echo "$_k" | tr 'a-z-' 'A-Z_')" "$@"
	_r=$?
	result "${_k}_rc" "$_r"
	return $_r
}

finish() {
	rm -f "$STATE"
	sync
	echo "KDUMPRS-DONE scenario=$SCENARIO rc=$1 uptime=$(uptime_s)"
	poweroff
	exit 0
}

fail() {
	mark "FAIL: $*"
	result failed "$*"
	finish 1
}

next_boot() {
	echo "$1" > "$STATE"
	sync
	mark "rebooting into step $1"
	reboot
	exit 0
}

crash_into() {
	echo "$1" > "$STATE"
	sync
	echo "KDUMPRS-CRASH step=$1 uptime=$(uptime_s)"
	echo c > /proc/sysrq-trigger
	sleep 60
	fail "still alive 60 s after sysrq-c"
}

# the init system has finished starting everything (bounded)
wait_system() {
	if [ -d /run/systemd/system ]; then
		_s=$(timeout 300 systemctl is-system-running --wait 2>&1)
		result "boot${STEP}_system" "$_s"
	fi
}

STEP=$(cat "$STATE" 2>/dev/null || echo 1)
echo "KDUMPRS-STEP scenario=$SCENARIO step=$STEP uptime=$(uptime_s)"
if ! type "step_$STEP" >/dev/null 2>&1; then
	fail "no step_$STEP in run.sh"
fi
"step_$STEP"
finish $?
