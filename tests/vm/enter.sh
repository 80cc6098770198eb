# enter.sh ID CGROUP CMD...: become a process of container ID — move into its cgroup,
# bind its views (from its prepare reply) over /proc and /sys in this (private, unshare -m)
# mount namespace — then exec CMD.
. /vm/lib.sh
ID=$1 CGDIR=$2
shift 2
echo $$ > "$CGDIR/cgroup.procs" || { bad "$ID: move into $CGDIR"; exit 1; }
export VIEWS=/tmp/views-$ID CONTAINER=$ID
while read -r dst src; do
    mount --bind "$src" "$dst" || bad "$ID: mount --bind $src $dst"
done < "$VIEWS"
exec "$@"
