// The sysctl table: lookups, the rows the design asks for, rows consistent with
// themselves, with this host's kernel and with docs/sysctl.md.
#include <fmt/core.h>
#include <gtest/gtest.h>

#include <fcntl.h>
#include <sched.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "sysctl/table.hpp"
#include "sysctl/value.hpp"

using namespace ecifs::sysctl;

namespace {

std::optional<Policy> policy_of(std::string_view path) {
    const Rule* rule = find_rule(path);
    return rule ? std::optional(rule->policy) : std::nullopt;
}

std::optional<std::string> read_host(std::string_view path) {
    std::ifstream file("/proc/sys/" + std::string(path));
    if (!file) return std::nullopt;
    std::stringstream text;
    text << file.rdbuf();
    return text.str();
}

bool is_exact(const Rule& rule) { return rule.pattern.find('*') == std::string_view::npos; }

}  // namespace

TEST(SysctlTable, ExactRowsBeatPatternsAndLongerPatternsShorterOnes) {
    EXPECT_EQ(policy_of("net/ipv4/ip_forward"), Policy::namespaced);
    EXPECT_EQ(policy_of("net/ipv4/conf/all/forwarding"), Policy::namespaced);
    EXPECT_EQ(policy_of("net/core/somaxconn"), Policy::namespaced);
    EXPECT_EQ(policy_of("net/core/rmem_max"), Policy::emulated);
    EXPECT_EQ(policy_of("net/core/netdev_rss_key"), Policy::read_only);
    EXPECT_EQ(find_rule("kernel/shm_next_id")->pattern, "kernel/*_next_id");
    EXPECT_EQ(find_rule("kernel/shmmax")->pattern, "kernel/shm*");
    EXPECT_EQ(find_rule("net/netfilter/nf_conntrack_max")->pattern, "net/netfilter/nf_conntrack_max");
}

TEST(SysctlTable, PatternsStayWithinTheirComponents) {
    EXPECT_EQ(find_rule("net"), nullptr);
    EXPECT_EQ(find_rule("net/"), nullptr);
    EXPECT_EQ(find_rule("netfoo/x"), nullptr);
    EXPECT_EQ(find_rule("kernel/shmmax/x"), nullptr);
    EXPECT_EQ(find_rule("fs/mqueue"), nullptr);
    EXPECT_EQ(policy_of("fs/mqueue/msg_max"), Policy::namespaced);
    EXPECT_EQ(policy_of("user/max_user_namespaces"), Policy::namespaced);
    EXPECT_EQ(find_rule("kernel/tainted"), nullptr);  // no row: the host's
    EXPECT_EQ(find_rule("kernel/panicky"), nullptr);
}

TEST(SysctlTable, HoldsTheRowsTheDesignAsksFor) {
    for (const auto path : {"net/ipv4/ip_forward", "kernel/hostname", "kernel/domainname", "kernel/shmmax",
                            "kernel/shmall", "kernel/shmmni", "kernel/shm_rmid_forced", "kernel/msgmax",
                            "kernel/msgmnb", "kernel/msgmni", "kernel/sem", "kernel/sem_next_id",
                            "kernel/msg_next_id", "fs/mqueue/queues_max", "user/max_net_namespaces"})
        EXPECT_EQ(policy_of(path), Policy::namespaced) << path;
    for (const auto path : {"kernel/ns_last_pid", "vm/memfd_noexec"})
        EXPECT_EQ(policy_of(path), Policy::kernel_file) << path;
    const auto files = kernel_files();
    EXPECT_EQ(std::vector<std::string_view>(files.begin(), files.end()),
              (std::vector<std::string_view>{"proc/sys/kernel/ns_last_pid", "proc/sys/vm/memfd_noexec"}));
    for (const auto path :
         {"kernel/panic", "kernel/panic_on_oops", "kernel/panic_on_warn", "kernel/printk", "kernel/kptr_restrict",
          "kernel/dmesg_restrict", "kernel/sysrq", "kernel/pid_max", "kernel/threads-max",
          "kernel/perf_event_paranoid", "kernel/yama/ptrace_scope", "kernel/unprivileged_bpf_disabled",
          "kernel/core_pattern", "vm/overcommit_memory", "vm/overcommit_ratio", "vm/swappiness", "vm/max_map_count",
          "vm/mmap_min_addr", "vm/dirty_background_bytes", "vm/dirty_background_ratio", "vm/dirty_bytes",
          "vm/dirty_ratio", "vm/dirty_expire_centisecs", "vm/dirty_writeback_centisecs", "fs/file-max", "fs/nr_open",
          "fs/inotify/max_user_watches", "fs/inotify/max_user_instances", "fs/inotify/max_queued_events",
          "fs/protected_fifos", "fs/protected_hardlinks", "fs/protected_regular", "fs/protected_symlinks",
          "fs/suid_dumpable", "net/netfilter/nf_conntrack_max", "net/netfilter/nf_conntrack_buckets",
          "net/nf_conntrack_max", "net/core/rmem_max", "net/core/wmem_max", "net/core/rmem_default",
          "net/core/wmem_default", "net/core/netdev_max_backlog"})
        EXPECT_EQ(policy_of(path), Policy::emulated) << path;
    for (const auto path : {"kernel/cap_last_cap", "kernel/ngroups_max", "kernel/osrelease", "kernel/ostype",
                            "kernel/version"})
        EXPECT_EQ(policy_of(path), Policy::read_only) << path;
    EXPECT_EQ(policy_of("kernel/random/uuid"), Policy::synthesized);
    EXPECT_EQ(policy_of("kernel/random/boot_id"), Policy::synthesized);
    EXPECT_EQ(find_rule("kernel/printk")->count, 4);
    EXPECT_EQ(find_rule("kernel/core_pattern")->max_length, 128u);
}

TEST(SysctlTable, RowsAreConsistent) {
    std::set<std::string_view> seen;
    for (const auto& rule : rules()) {
        SCOPED_TRACE(std::string(rule.pattern));
        EXPECT_TRUE(seen.insert(rule.pattern).second) << "duplicate row";
        EXPECT_FALSE(rule.pattern.starts_with('/') || rule.pattern.ends_with('/'));
        if (is_exact(rule)) {
            EXPECT_EQ(find_rule(rule.pattern), &rule);
        }
        EXPECT_GE(rule.count, 1);
        if (rule.policy != Policy::emulated) {
            // Only emulated files are validated here; the others have no bounds or checks.
            EXPECT_TRUE(rule.min == INT64_MIN && rule.max == INT64_MAX && !rule.extra_check && !rule.string_check &&
                        !rule.adjust && rule.zeroes.empty());
            continue;
        }
        EXPECT_TRUE(is_exact(rule)) << "an emulated row is one file";
        switch (rule.kind) {
        case Kind::ints:
            if (rule.min != INT64_MIN) {
                EXPECT_GE(rule.min, INT32_MIN);
            }
            if (rule.max != INT64_MAX) {
                EXPECT_LE(rule.max, INT32_MAX);
            }
            EXPECT_LE(rule.min, rule.max);
            break;
        case Kind::uints:
            EXPECT_EQ(rule.count, 1) << "the kernel has no unsigned int vectors";
            if (rule.max != INT64_MAX) {
                EXPECT_LE(rule.max, int64_t{UINT32_MAX});
            }
            EXPECT_LE(rule.min, rule.max);
            break;
        case Kind::ulongs:
            EXPECT_LE(static_cast<uint64_t>(std::max<int64_t>(rule.min, 0)), static_cast<uint64_t>(rule.max));
            break;
        case Kind::string:
            EXPECT_EQ(rule.count, 1);
            EXPECT_GT(rule.max_length, 1u);
            break;
        }
        if (!rule.zeroes.empty()) {
            const Rule* sibling = find_rule(rule.zeroes);
            ASSERT_NE(sibling, nullptr);
            EXPECT_EQ(sibling->policy, Policy::emulated);
            EXPECT_EQ(sibling->zeroes, rule.pattern) << "siblings zero each other";
        }
    }
}

TEST(SysctlTable, NamesArePrintable) {
    EXPECT_EQ(policy_name(Policy::host), "host");
    EXPECT_EQ(policy_name(Policy::namespaced), "namespaced");
    EXPECT_EQ(policy_name(Policy::emulated), "emulated");
    EXPECT_EQ(policy_name(Policy::read_only), "read-only");
    EXPECT_EQ(policy_name(Policy::synthesized), "synthesized");
    EXPECT_EQ(policy_name(Policy::kernel_file), "kernel-file");
    EXPECT_EQ(kind_name(Kind::ulongs), "ulongs");
}

// The host's own values are valid writes (so the bounds are not narrower than the
// kernel's), and the host shows read-only rows as 0444 and emulated rows as writable.
TEST(SysctlTable, AgreesWithThisHostsKernel) {
    int checked = 0;
    for (const auto& rule : rules()) {
        if (!is_exact(rule)) continue;
        const auto path = "/proc/sys/" + std::string(rule.pattern);
        struct stat info {};
        if (stat(path.c_str(), &info) != 0) continue;  // not built into this kernel
        SCOPED_TRACE(std::string(rule.pattern));
        ++checked;
        if (rule.policy == Policy::read_only) {
            EXPECT_EQ(info.st_mode & 0777, 0444u);
        }
        if (rule.policy != Policy::emulated) continue;
        EXPECT_TRUE(info.st_mode & S_IWUSR);
        const auto host = read_host(rule.pattern);
        ASSERT_TRUE(host);
        std::string stored;
        if (first_value(*host) == 0 && rule.min > 0) {
            // The kernel's own default is below its minimum: vm.dirty_bytes=0 cannot be written back.
            EXPECT_EQ(validate_write(rule, *host, *host, stored), EINVAL);
            continue;
        }
        EXPECT_EQ(validate_write(rule, *host, *host, stored), 0) << *host;
        EXPECT_EQ(stored, *host);
    }
    EXPECT_GT(checked, 50);
}

// The net rows that are emulated are global on this kernel: a new network namespace
// shows them read-only or not at all; the ones left to net/* are its own and writable.
TEST(SysctlTable, GlobalNetRowsAreGlobalOnThisKernel) {
    std::vector<std::string> paths;
    for (const auto& rule : rules())
        if (rule.policy == Policy::emulated && rule.pattern.starts_with("net/")) paths.emplace_back(rule.pattern);
    const std::vector<std::string> own = {"net/core/somaxconn", "net/core/optmem_max", "net/ipv4/ip_forward",
                                          "net/unix/max_dgram_qlen"};
    paths.insert(paths.end(), own.begin(), own.end());

    int pipe_fds[2];
    ASSERT_EQ(pipe2(pipe_fds, O_CLOEXEC), 0);
    const uid_t uid = geteuid();
    const gid_t gid = getegid();
    const pid_t child = fork();
    if (child == 0) {
        const auto put = [](const std::string& file, const std::string& text) {
            std::ofstream(file) << text;
        };
        if (unshare(CLONE_NEWUSER | CLONE_NEWNET) != 0) _exit(3);
        put("/proc/self/setgroups", "deny");
        put("/proc/self/uid_map", "0 " + std::to_string(uid) + " 1");
        put("/proc/self/gid_map", "0 " + std::to_string(gid) + " 1");
        std::string out;
        for (const auto& path : paths) {
            struct stat info {};
            const auto full = "/proc/sys/" + path;
            out += stat(full.c_str(), &info) == 0 ? std::to_string(info.st_mode & 0777) : "-1";
            out += '\n';
        }
        _exit(::write(pipe_fds[1], out.data(), out.size()) == static_cast<ssize_t>(out.size()) ? 0 : 5);
    }
    close(pipe_fds[1]);
    std::string out;
    char buffer[4096];
    for (ssize_t n; (n = read(pipe_fds[0], buffer, sizeof buffer)) > 0;) out.append(buffer, static_cast<std::size_t>(n));
    close(pipe_fds[0]);
    int status = 0;
    waitpid(child, &status, 0);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 3) GTEST_SKIP() << "cannot make a network namespace here";
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    std::istringstream modes(out);
    for (const auto& path : paths) {
        int mode = 0;
        modes >> mode;
        SCOPED_TRACE(path);
        const bool writable = mode >= 0 && (mode & 0200);
        const bool own_file = std::find(own.begin(), own.end(), path) != own.end();
        EXPECT_EQ(writable, own_file) << "mode " << mode;
    }
}

// docs/sysctl.md lists every row with its policy, so the docs cannot drift.
TEST(SysctlTable, DocsListEveryRow) {
    const auto docs = std::filesystem::path(ECIFS_FIXTURES_DIR) / "../../docs/sysctl.md";
    std::ifstream file(docs);
    ASSERT_TRUE(file) << docs;
    std::vector<std::string> lines;
    for (std::string line; std::getline(file, line);) lines.push_back(line);
    for (const auto& rule : rules()) {
        const auto name = fmt::format("`{}`", rule.pattern);
        const auto row = std::find_if(lines.begin(), lines.end(),
                                      [&](const std::string& line) { return line.starts_with("| " + name + " "); });
        ASSERT_NE(row, lines.end()) << name << " is not in " << docs;
        EXPECT_NE(row->find("| " + std::string(policy_name(rule.policy)) + " |"), std::string::npos) << *row;
    }
}

// kernel.pid_max starts where a new pid namespace starts (since Linux 6.14 every pid
// namespace has its own, 4194304 in a new one), compared with what the kernel shows one.
TEST(SysctlTable, PidMaxStartsAsANewPidNamespaceReadsIt) {
    const Rule* rule = find_rule("kernel/pid_max");
    ASSERT_NE(rule, nullptr);
    ASSERT_NE(rule->initial, nullptr);
    std::string initial;
    ASSERT_EQ(rule->initial(initial), 0);
    FILE* p = ::popen("unshare --pid --fork cat /proc/sys/kernel/pid_max", "r");
    ASSERT_NE(p, nullptr);
    char buf[64] = {};
    const size_t n = std::fread(buf, 1, sizeof buf - 1, p);
    ASSERT_EQ(::pclose(p), 0);
    EXPECT_EQ(initial, std::string(buf, n));
}
