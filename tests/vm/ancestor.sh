# ancestor.sh MEM_BYTES: checks inside container "kid" (cgroup /par/kid: memory.max 300M
# under par's 200M): the views show the tighter ancestor's limit.
. /vm/lib.sh
MEM=$1
eq "/proc/meminfo MemTotal (kB), ancestor par's 200M" "$(awk '/^MemTotal:/ {print $2}' /proc/meminfo)" $((MEM / 1024))
eq "free -b total (procps), ancestor par's 200M" "$(t /usr/bin/free -b | awk '/^Mem:/ {print $2}')" $MEM
eq "top -bn1 'MiB Mem' total" "$(t /usr/bin/top -bn1 | awk '/^MiB Mem/ {print $4}')" 200.0
