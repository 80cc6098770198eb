# The system container on real cgroup v2 (sourced by /init, the daemon up): Debian's
# systemd as PID 1 through runc + ecifs-runc, user-namespaced, no added capability.
# Its bundle is /system (rootfs from tests/engines/image.py's systemd image, config.json
# from tests/vm/system_bundle.py). Checks that systemd boots, reaches running or
# degraded, runs services in cgroups below the container's own, keeps its journal and
# cannot lift its memory limit; then that deleting the container leaves no cgroup.
BOOT_WAIT=${BOOT_WAIT:-180}
SYS=/system
# The units README.md's "System containers" explains (vm-test.sh copied the list).
SYSTEM_FAILS_EXPLAINED=$(cat $SYS/explained 2>/dev/null)
RUNC="ecifs-runc --root /run/runc"
in_sys() { timeout 60 runc --root /run/runc exec system sh -c "$1"; }

# The image's files belong to the container's root, host uid 100000 (cpio made them 0).
chown -hR 100000:100000 $SYS/rootfs
mkdir -p /run/runc
# --no-pivot: pivot_root(2) cannot move the guest's root, the initramfs (EINVAL); runc
# moves the rootfs over / and chroots instead. A host never needs it.
if t $RUNC run -d --no-pivot -b $SYS system > /tmp/system.out 2>&1; then ok "ecifs-runc run -d: systemd container started"
else bad "ecifs-runc run -d system: $(cat /tmp/system.out)"; return 0; fi

i=0; state=""
while [ $i -lt $BOOT_WAIT ]; do
    state=$(in_sys "systemctl is-system-running" 2>/dev/null)
    case "$state" in running|degraded) break ;; esac
    sleep 1; i=$((i + 1))
done
case "$state" in
    running) ok "systemd is-system-running = running after ~${i}s" ;;
    degraded) ok "systemd is-system-running = degraded after ~${i}s"
              in_sys "systemctl --failed --no-pager --plain --no-legend" | while read -r unit rest; do
                  case " $SYSTEM_FAILS_EXPLAINED " in
                      *" $unit "*) info "failed, explained in README.md: $unit" ;;
                      *) bad "unit failed, not explained in README.md: $unit" ;;
                  esac
              done ;;
    *) bad "systemd is-system-running = '$state' after ${BOOT_WAIT}s"
       in_sys "systemctl list-jobs --no-pager; journalctl -b --no-pager | tail -n 30" ;;
esac

eq "the container's /sys/fs/cgroup" "$(in_sys 'stat -f -c %T /sys/fs/cgroup')" cgroup2fs
# A cgroup namespace rooted at the container's cgroup, where systemd moved itself.
eq "the container's /proc/1/cgroup" "$(in_sys 'cat /proc/1/cgroup')" "0::/init.scope"
[ -d $CG/system/init.scope ] && ok "systemd made init.scope below the container's cgroup" \
    || bad "no $CG/system/init.scope"
in_sys "systemctl start systemd-hostnamed && systemctl is-active systemd-hostnamed" >/dev/null \
    && ok "systemctl start systemd-hostnamed" || bad "systemctl start systemd-hostnamed"
in_sys "systemd-run --unit=ecifs-probe sleep 600" >/dev/null 2>&1
[ -d $CG/system/system.slice/ecifs-probe.service ] && ok "a transient service's cgroup below the container's" \
    || bad "no $CG/system/system.slice/ecifs-probe.service"
in_sys "systemctl stop ecifs-probe"
eq "ecifs-probe after systemctl stop" "$(in_sys 'systemctl is-active ecifs-probe')" inactive
in_sys "journalctl -b --no-pager" | grep -q "Reached target" && ok "journalctl -b shows the boot" \
    || bad "journalctl -b shows no 'Reached target'"
in_sys "echo max > /sys/fs/cgroup/memory.max" 2>/dev/null && bad "the container lifted its memory.max" \
    || ok "the container cannot write its own memory.max"
eq "its memory.max, seen by the host" "$(cat $CG/system/memory.max)" 268435456
eq "MemTotal in the container" "$(in_sys "awk '/^MemTotal:/ {print \$2}' /proc/meminfo")" 262144

t $RUNC delete -f system > /tmp/system.out 2>&1 && ok "ecifs-runc delete -f system" \
    || bad "ecifs-runc delete -f system: $(cat /tmp/system.out)"
[ -e $CG/system ] && bad "the container's cgroup is left: $(find $CG/system -type d | head -n 5)" \
    || ok "no cgroup left after delete"
