# Shared by the guest scripts (busybox ash): check reporting and view lookup.
# Every CHECK line also goes to $RESULTS, from which /init computes RESULT.
RESULTS=/tmp/results

ok()   { echo "CHECK ok   $*"; echo "ok $*" >> $RESULTS; }
bad()  { echo "CHECK FAIL $*"; echo "FAIL $*" >> $RESULTS; }
skip() { echo "CHECK SKIP $*"; echo "SKIP $*" >> $RESULTS; }
info() { echo "    $*"; }

# eq NAME GOT WANT: ok if equal.
eq() { if [ "$2" = "$3" ]; then ok "$1 = $2"; else bad "$1 = '$2', want '$3'"; fi; }

# t CMD...: run a command with a deadline, so that a hung FUSE request cannot hang the guest.
t() { timeout 30 "$@"; }

# views_from_json FILE: "destination source" lines from `ecifsctl prepare`'s JSON reply
# (one record per "}": each view object holds one destination and one source; pretty or
# compact JSON alike; the paths hold no quotes).
views_from_json() {
    awk 'function val(key,   v) {
             if (!match($0, "\"" key "\": *\"[^\"]*\"")) return ""
             v = substr($0, RSTART, RLENGTH); sub(/^"[a-z]+": *"/, "", v); sub(/"$/, "", v); return v
         }
         BEGIN { RS = "}" }
         { d = val("destination"); s = val("source"); if (d != "" && s != "") print d, s }' "$1"
}

# has_view PATH: is PATH, or a directory above it, covered by a view of this container?
# ($VIEWS is the views file of the container being checked.)
has_view() {
    local d s
    while read -r d s; do
        case "$1" in "$d"|"$d"/*) return 0 ;; esac
    done < "$VIEWS"
    return 1
}

# cond_view PATH NAME: true if PATH is virtualized; else print a SKIP line for NAME.
cond_view() {
    has_view "$1" && return 0
    skip "$2 (no view of $1 in the prepare reply yet)"
    return 1
}

# num_ok VALUE MAX: VALUE is a non-negative decimal number not above MAX (awk compares).
num_ok() {
    echo "$1" | grep -Eq '^[0-9]+(\.[0-9]+)?$' || return 1
    awk -v v="$1" -v m="$2" 'BEGIN { exit !(v + 0 <= m + 0) }'
}
