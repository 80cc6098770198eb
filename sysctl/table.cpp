// The sysctl table. Each emulated row copies the kernel's own table entry: its
// generic handler (Kind), vector length, extra1/extra2 (min/max) and whatever its
// custom handler checks beyond that (extra_check, string_check, adjust, zeroes).
// Sources: kernel/panic.c, kernel/printk/sysctl.c, kernel/pid.c, kernel/fork.c,
// kernel/bpf/syscall.c, kernel/events/core.c, security/yama/yama_lsm.c,
// security/min_addr.c, fs/coredump.c, fs/exec.c, fs/file_table.c, fs/namei.c,
// fs/notify/inotify/inotify_user.c, fs/aio.c, mm/util.c, mm/vmscan.c, mm/mmap.c,
// mm/page-writeback.c, mm/oom_kill.c, net/core/sysctl_net_core.c,
// net/netfilter/nf_conntrack_standalone.c, net/netfilter/nf_log.c (Linux 6.18).
// Which net entries are global was read off this kernel: the ones a new network
// namespace does not show, or shows read-only, are the host's, so they are emulated.
#include "sysctl/table.hpp"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <mutex>
#include <string>
#include <unordered_map>

#include "sysctl/value.hpp"

namespace ecifs::sysctl {

namespace {

using namespace bound;

// kernel.pid_max as a new pid namespace reads it. Since Linux 6.14 each pid namespace
// has its own, a new one starting at PID_MAX_LIMIT (6.14 itself: its parent's); before,
// the one value is the host's. A child made in a new pid namespace reads it once.
int pid_max_of_a_new_pid_namespace(std::string& out) {
    static std::once_flag once;
    static int error = 0;
    static std::string value;
    std::call_once(once, [] {
        int pipe_fds[2];
        if (::pipe2(pipe_fds, O_CLOEXEC) != 0) return (void)(error = errno);
        // A raw clone: the daemon has threads, and the child only makes system calls.
        const pid_t child = static_cast<pid_t>(::syscall(SYS_clone, CLONE_NEWPID | SIGCHLD, 0, 0, 0, 0));
        if (child == 0) {
            char buf[32];
            const int fd = ::open("/proc/sys/kernel/pid_max", O_RDONLY | O_CLOEXEC);
            const ssize_t n = fd < 0 ? -1 : ::read(fd, buf, sizeof buf);
            if (n > 0 && ::write(pipe_fds[1], buf, static_cast<size_t>(n)) != n) ::_exit(1);
            ::_exit(n > 0 ? 0 : 1);
        }
        ::close(pipe_fds[1]);
        char buf[32];
        const ssize_t n = child > 0 ? ::read(pipe_fds[0], buf, sizeof buf) : -1;
        error = child < 0 ? errno : n > 0 ? 0 : EIO;
        if (n > 0) value.assign(buf, static_cast<size_t>(n));
        ::close(pipe_fds[0]);
        if (child > 0) ::waitpid(child, nullptr, 0);
    });
    if (error) return error;
    out = value;
    return 0;
}

// Bounds of single files, named as the kernel names them.
constexpr int64_t pid_max_min = 301;          // RESERVED_PIDS + 1
constexpr int64_t pid_max_max = 4 * 1024 * 1024;  // PID_MAX_LIMIT on 64-bit
constexpr int64_t max_threads = 0x3fffffff;   // FUTEX_TID_MASK
constexpr int64_t nr_open_min = 64;           // BITS_PER_LONG
constexpr int64_t nr_open_max = 0x7fffffc0;   // INT_MAX rounded down to BITS_PER_LONG
constexpr int64_t max_scope = 3;              // YAMA_SCOPE_NO_ATTACH
constexpr int64_t core_name_size = 128;       // CORENAME_MAX_SIZE
constexpr int64_t ifnamsiz = 16;              // IFNAMSIZ
constexpr int64_t sock_min_sndbuf = 4608;     // SOCK_MIN_SNDBUF on x86_64 (SO_SNDBUF 0 reads it back)
constexpr int64_t sock_min_rcvbuf = 2304;     // SOCK_MIN_RCVBUF on x86_64
constexpr int64_t max_skb_frags = 17;         // CONFIG_MAX_SKB_FRAGS default
constexpr int64_t int_3600 = 3600;
constexpr int64_t unix_path_max = 108;

// kernel.yama.ptrace_scope: once 3 the minimum becomes 3, so it can never go down.
int ptrace_scope_sticky(std::string_view current, const std::vector<int64_t>& values) {
    return first_value(current) == max_scope && values[0] != max_scope ? EINVAL : 0;
}

// kernel.unprivileged_bpf_disabled: 1 is permanent (2, the default-off, is not).
int bpf_disable_locked(std::string_view current, const std::vector<int64_t>& values) {
    return first_value(current) == 1 && values[0] != 1 ? EPERM : 0;
}

// vm.dirty_bytes, vm.dirty_background_bytes: the limit in pages must fit 32 bits.
int dirty_pages_fit(std::string_view, const std::vector<int64_t>& values) {
    const auto bytes = static_cast<uint64_t>(values[0]);
    const auto page = static_cast<uint64_t>(page_size());
    const uint64_t pages = bytes / page + (bytes % page != 0);
    return pages > UINT32_MAX ? ERANGE : 0;
}

// net.core.flow_limit_table_len (an unsigned int) must be a power of two.
int power_of_two(std::string_view, const std::vector<int64_t>& values) {
    const auto value = static_cast<uint32_t>(values[0]);
    return value != 0 && (value & (value - 1)) == 0 ? 0 : EINVAL;
}

// net.core.rps_sock_flow_entries (an unsigned int): at most 2^29 ...
int rps_flow_entries_fit(std::string_view, const std::vector<int64_t>& values) {
    return static_cast<uint32_t>(values[0]) > (uint32_t{1} << 29) ? EINVAL : 0;
}

// ... rounded up to a power of two.
void round_up_to_power_of_two(std::vector<int64_t>& values) {
    auto value = static_cast<uint32_t>(values[0]);
    if (value == 0) return;
    uint32_t power = 1;
    while (power < value) power <<= 1;
    values[0] = power;
}

// net.netfilter.nf_conntrack_buckets: a new hash table of that many (unsigned) buckets.
constexpr int64_t bucket_size = 8;  // sizeof(struct hlist_nulls_head)
int conntrack_buckets_fit(std::string_view, const std::vector<int64_t>& values) {
    const auto buckets = static_cast<uint32_t>(values[0]);
    if (buckets == 0) return EINVAL;
    return buckets > INT32_MAX / bucket_size ? ENOMEM : 0;
}

// The kernel allocates whole pages of buckets and shows the size it allocated.
void round_up_to_bucket_pages(std::vector<int64_t>& values) {
    const auto per_page = static_cast<uint32_t>(page_size() / bucket_size);
    const auto buckets = static_cast<uint32_t>(values[0]);
    values[0] = (buckets + per_page - 1) / per_page * per_page;
}

bool has_dotdot_component(std::string_view path) {
    while (!path.empty()) {
        const auto slash = path.find('/');
        if (path.substr(0, slash) == "..") return true;
        if (slash == std::string_view::npos) break;
        path.remove_prefix(slash + 1);
    }
    return false;
}

// kernel.core_pattern: a '@' pattern names a unix socket, "@/path" or "@@/path", which
// must be absolute, shorter than UNIX_PATH_MAX and free of "..". (The kernel also wants
// the writer in the initial mount namespace; ecifs answers as root in a VM would.)
int core_pattern_valid(std::string_view pattern) {
    if (!pattern.starts_with('@')) return 0;
    const auto path = pattern.substr(pattern.starts_with("@@") ? 2 : 1);
    if (!path.starts_with('/') || path.size() >= unix_path_max || has_dotdot_component(pattern)) return EINVAL;
    return 0;
}

// net.core.default_qdisc: the name of a queueing discipline the kernel has (or can
// load); anything else is ENOENT.
int known_qdisc(std::string_view name) {
    static constexpr auto qdiscs = std::to_array<std::string_view>(
        {"bfifo", "cake",  "cbs",     "choke", "clsact",     "codel",           "drr",  "dualpi2", "etf",
         "ets",   "fq",    "fq_codel", "fq_pie", "gred",     "hfsc",            "hhf",  "htb",     "ingress",
         "mq",    "mqprio", "multiq", "netem", "noqueue",    "pfifo",           "pfifo_fast", "pfifo_head_drop",
         "pie",   "plug",  "prio",    "qfq",   "red",        "sfb",             "sfq",  "skbprio", "taprio", "tbf"});
    return std::find(qdiscs.begin(), qdiscs.end(), name) != qdiscs.end() ? 0 : ENOENT;
}

// The table itself: one row per sysctl, long by nature.
std::span<const Rule> table() {  // NOLINT(readability-function-size)
    using enum Policy;
    using enum Kind;
    static const Rule rows[] = {
        // The kernel keeps these per namespace.
        {.pattern = "net/*", .policy = namespaced},
        {.pattern = "kernel/hostname", .policy = namespaced},
        {.pattern = "kernel/domainname", .policy = namespaced},
        {.pattern = "kernel/shm*", .policy = namespaced},
        {.pattern = "kernel/msg*", .policy = namespaced},
        {.pattern = "kernel/sem", .policy = namespaced},
        {.pattern = "kernel/*_next_id", .policy = namespaced},
        {.pattern = "kernel/auto_msgmni", .policy = namespaced},
        {.pattern = "fs/mqueue/*", .policy = namespaced},
        {.pattern = "user/*", .policy = namespaced},

        // The reader's pid namespace decides these: the kernel's own file is bound over
        // the view's entry, so the container's own read reaches the kernel.
        {.pattern = "kernel/ns_last_pid", .policy = kernel_file},
        {.pattern = "vm/memfd_noexec", .policy = kernel_file},

        // kernel.*
        {.pattern = "kernel/panic", .policy = emulated},
        {.pattern = "kernel/panic_on_oops", .policy = emulated},
        {.pattern = "kernel/panic_on_warn", .policy = emulated, .min = zero, .max = one},
        {.pattern = "kernel/printk", .policy = emulated, .count = 4},
        {.pattern = "kernel/kptr_restrict", .policy = emulated, .min = zero, .max = two},
        {.pattern = "kernel/dmesg_restrict", .policy = emulated, .min = zero, .max = one},
        {.pattern = "kernel/sysrq", .policy = emulated},
        {.pattern = "kernel/pid_max", .policy = emulated, .min = pid_max_min, .max = pid_max_max,
         .initial = pid_max_of_a_new_pid_namespace},
        {.pattern = "kernel/threads-max", .policy = emulated, .min = one, .max = max_threads},
        {.pattern = "kernel/perf_event_paranoid", .policy = emulated},
        {.pattern = "kernel/yama/ptrace_scope", .policy = emulated, .min = zero, .max = max_scope,
         .extra_check = ptrace_scope_sticky},
        {.pattern = "kernel/unprivileged_bpf_disabled", .policy = emulated, .min = zero, .max = two,
         .extra_check = bpf_disable_locked},
        {.pattern = "kernel/core_pattern", .policy = emulated, .kind = string, .max_length = core_name_size,
         .string_check = core_pattern_valid},
        {.pattern = "kernel/core_uses_pid", .policy = emulated},
        {.pattern = "kernel/randomize_va_space", .policy = emulated},

        // vm.*
        {.pattern = "vm/overcommit_memory", .policy = emulated, .min = zero, .max = two},
        {.pattern = "vm/overcommit_ratio", .policy = emulated, .zeroes = "vm/overcommit_kbytes"},
        {.pattern = "vm/overcommit_kbytes", .policy = emulated, .kind = ulongs, .max = ulong_max,
         .zeroes = "vm/overcommit_ratio"},
        {.pattern = "vm/swappiness", .policy = emulated, .min = zero, .max = two_hundred},
        {.pattern = "vm/max_map_count", .policy = emulated, .min = zero},
        {.pattern = "vm/mmap_min_addr", .policy = emulated, .kind = ulongs, .max = ulong_max},
        {.pattern = "vm/dirty_background_bytes", .policy = emulated, .kind = ulongs, .min = one, .max = ulong_max,
         .extra_check = dirty_pages_fit, .zeroes = "vm/dirty_background_ratio"},
        {.pattern = "vm/dirty_background_ratio", .policy = emulated, .min = zero, .max = one_hundred,
         .zeroes = "vm/dirty_background_bytes"},
        {.pattern = "vm/dirty_bytes", .policy = emulated, .kind = ulongs, .min = 2 * page_size(), .max = ulong_max,
         .extra_check = dirty_pages_fit, .zeroes = "vm/dirty_ratio", .zeroes_only_on_change = true},
        {.pattern = "vm/dirty_ratio", .policy = emulated, .min = zero, .max = one_hundred, .zeroes = "vm/dirty_bytes",
         .zeroes_only_on_change = true},
        {.pattern = "vm/dirty_expire_centisecs", .policy = emulated, .min = zero},
        {.pattern = "vm/dirty_writeback_centisecs", .policy = emulated},
        {.pattern = "vm/panic_on_oom", .policy = emulated, .min = zero, .max = two},

        // fs.*
        {.pattern = "fs/file-max", .policy = emulated, .kind = ulongs, .min = zero, .max = long_max},
        {.pattern = "fs/nr_open", .policy = emulated, .kind = uints, .min = nr_open_min, .max = nr_open_max},
        {.pattern = "fs/aio-max-nr", .policy = emulated, .kind = ulongs, .max = ulong_max},
        {.pattern = "fs/inotify/max_queued_events", .policy = emulated, .min = zero},
        {.pattern = "fs/inotify/max_user_instances", .policy = emulated, .kind = ulongs, .min = zero, .max = int_max},
        {.pattern = "fs/inotify/max_user_watches", .policy = emulated, .kind = ulongs, .min = zero, .max = int_max},
        {.pattern = "fs/protected_fifos", .policy = emulated, .min = zero, .max = two},
        {.pattern = "fs/protected_hardlinks", .policy = emulated, .min = zero, .max = one},
        {.pattern = "fs/protected_regular", .policy = emulated, .min = zero, .max = two},
        {.pattern = "fs/protected_symlinks", .policy = emulated, .min = zero, .max = one},
        {.pattern = "fs/suid_dumpable", .policy = emulated, .min = zero, .max = two},

        // Global netfilter settings: a new network namespace shows them read-only or not at all.
        {.pattern = "net/nf_conntrack_max", .policy = emulated, .min = zero, .max = int_max},
        {.pattern = "net/netfilter/nf_conntrack_max", .policy = emulated, .min = zero, .max = int_max},
        {.pattern = "net/netfilter/nf_conntrack_expect_max", .policy = emulated, .min = one, .max = int_max},
        {.pattern = "net/netfilter/nf_conntrack_buckets", .policy = emulated, .extra_check = conntrack_buckets_fit,
         .adjust = round_up_to_bucket_pages},
        {.pattern = "net/netfilter/nf_log_all_netns", .policy = emulated},

        // Global net.core settings (the per-namespace ones fall under net/*).
        {.pattern = "net/core/rmem_default", .policy = emulated, .min = sock_min_rcvbuf},
        {.pattern = "net/core/rmem_max", .policy = emulated, .min = sock_min_rcvbuf},
        {.pattern = "net/core/wmem_default", .policy = emulated, .min = sock_min_sndbuf},
        {.pattern = "net/core/wmem_max", .policy = emulated, .min = sock_min_sndbuf},
        {.pattern = "net/core/netdev_max_backlog", .policy = emulated},
        {.pattern = "net/core/netdev_budget", .policy = emulated},
        {.pattern = "net/core/dev_weight", .policy = emulated, .min = one},
        {.pattern = "net/core/dev_weight_rx_bias", .policy = emulated, .min = one},
        {.pattern = "net/core/dev_weight_tx_bias", .policy = emulated, .min = one},
        {.pattern = "net/core/netdev_tstamp_prequeue", .policy = emulated},
        {.pattern = "net/core/message_burst", .policy = emulated},
        {.pattern = "net/core/warnings", .policy = emulated},
        {.pattern = "net/core/busy_poll", .policy = emulated, .min = zero},
        {.pattern = "net/core/busy_read", .policy = emulated, .min = zero},
        {.pattern = "net/core/gro_normal_batch", .policy = emulated, .min = one},
        {.pattern = "net/core/netdev_unregister_timeout_secs", .policy = emulated, .min = one, .max = int_3600},
        {.pattern = "net/core/skb_defer_max", .policy = emulated, .min = zero},
        {.pattern = "net/core/max_skb_frags", .policy = emulated, .min = one, .max = max_skb_frags},
        {.pattern = "net/core/fb_tunnels_only_for_init_net", .policy = emulated, .min = zero, .max = two},
        {.pattern = "net/core/devconf_inherit_init_net", .policy = emulated, .min = zero, .max = three},
        {.pattern = "net/core/high_order_alloc_disable", .policy = emulated, .min = zero, .max = one},
        {.pattern = "net/core/mem_pcpu_rsv", .policy = emulated, .min = (int64_t{1} << 20) / page_size()},
        {.pattern = "net/core/flow_limit_table_len", .policy = emulated, .extra_check = power_of_two},
        {.pattern = "net/core/rps_sock_flow_entries", .policy = emulated, .extra_check = rps_flow_entries_fit,
         .adjust = round_up_to_power_of_two},
        {.pattern = "net/core/default_qdisc", .policy = emulated, .kind = string, .max_length = ifnamsiz,
         .string_check = known_qdisc},

        // Mode 0444 in the kernel.
        {.pattern = "kernel/arch", .policy = read_only},
        {.pattern = "kernel/bootloader_type", .policy = read_only},
        {.pattern = "kernel/bootloader_version", .policy = read_only},
        {.pattern = "kernel/cap_last_cap", .policy = read_only},
        {.pattern = "kernel/core_modes", .policy = read_only},
        {.pattern = "kernel/hung_task_detect_count", .policy = read_only},
        {.pattern = "kernel/ngroups_max", .policy = read_only},
        {.pattern = "kernel/osrelease", .policy = read_only},
        {.pattern = "kernel/ostype", .policy = read_only},
        {.pattern = "kernel/version", .policy = read_only},
        {.pattern = "kernel/random/entropy_avail", .policy = read_only},
        {.pattern = "kernel/random/poolsize", .policy = read_only},
        {.pattern = "fs/aio-nr", .policy = read_only},
        {.pattern = "fs/dentry-state", .policy = read_only},
        {.pattern = "fs/file-nr", .policy = read_only},
        {.pattern = "fs/inode-nr", .policy = read_only},
        {.pattern = "fs/inode-state", .policy = read_only},
        {.pattern = "net/core/netdev_rss_key", .policy = read_only},

        // Generated by ecifs.
        {.pattern = "kernel/random/uuid", .policy = synthesized, .kind = string, .max_length = 37},
        {.pattern = "kernel/random/boot_id", .policy = synthesized, .kind = string, .max_length = 37},
    };
    return rows;
}

bool is_pattern(std::string_view pattern) { return pattern.find('*') != std::string_view::npos; }

// A glob whose '*' matches any run of characters but '/'.
bool glob(std::string_view pattern, std::string_view text) {
    std::size_t p = 0, t = 0, star = std::string_view::npos, resume = 0;
    while (t < text.size()) {
        if (p < pattern.size() && pattern[p] == '*') {
            star = p++;
            resume = t;
        } else if (p < pattern.size() && pattern[p] == text[t]) {
            ++p;
            ++t;
        } else if (star != std::string_view::npos && text[resume] != '/') {
            p = star + 1;
            t = ++resume;
        } else {
            return false;
        }
    }
    while (p < pattern.size() && pattern[p] == '*') ++p;
    return p == pattern.size();
}

bool matches(std::string_view pattern, std::string_view path) {
    if (!pattern.ends_with("/*")) return glob(pattern, path);
    const auto head = pattern.substr(0, pattern.size() - 2);
    for (auto slash = path.find('/'); slash != std::string_view::npos; slash = path.find('/', slash + 1))
        if (slash + 1 < path.size() && glob(head, path.substr(0, slash))) return true;
    return false;
}

}  // namespace

std::span<const Rule> rules() { return table(); }

const Rule* find_rule(std::string_view path) {
    static const auto exact = [] {
        std::unordered_map<std::string_view, const Rule*> rows;
        for (const auto& rule : table())
            if (!is_pattern(rule.pattern)) rows.emplace(rule.pattern, &rule);
        return rows;
    }();
    if (const auto row = exact.find(path); row != exact.end()) return row->second;
    const Rule* best = nullptr;
    for (const auto& rule : table())
        if (is_pattern(rule.pattern) && matches(rule.pattern, path) &&
            (!best || rule.pattern.size() > best->pattern.size()))
            best = &rule;
    return best;
}

std::span<const std::string_view> kernel_files() {
    static const std::vector<std::string> paths = [] {
        std::vector<std::string> out;
        for (const Rule& rule : rules())
            if (rule.policy == Policy::kernel_file) out.push_back("proc/sys/" + std::string(rule.pattern));
        return out;
    }();
    static const std::vector<std::string_view> views(paths.begin(), paths.end());
    return views;
}

std::string_view policy_name(Policy policy) {
    switch (policy) {
    case Policy::host: return "host";
    case Policy::namespaced: return "namespaced";
    case Policy::emulated: return "emulated";
    case Policy::read_only: return "read-only";
    case Policy::synthesized: return "synthesized";
    case Policy::kernel_file: return "kernel-file";
    }
    return "unknown";
}

std::string_view kind_name(Kind kind) {
    switch (kind) {
    case Kind::ints: return "ints";
    case Kind::uints: return "uints";
    case Kind::ulongs: return "ulongs";
    case Kind::string: return "string";
    }
    return "unknown";
}

int64_t page_size() {
    static const int64_t size = [] {
        const long value = sysconf(_SC_PAGESIZE);
        return value > 0 ? int64_t{value} : int64_t{4096};
    }();
    return size;
}

}  // namespace ecifs::sysctl
