// Writes to sysctls, validated as the kernel validates them. The expectations were
// taken from a real kernel (6.18) by writing the same bytes to namespaced files of the
// same handler in a throwaway `unshare -Urnu` namespace; SysctlKernel re-does that
// comparison live wherever a user and network namespace can be made.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <sstream>

#include "sysctl/table.hpp"
#include "sysctl/value.hpp"

using namespace ecifs::sysctl;

namespace {

struct Result {
    int error = 0;
    std::string stored;
    std::size_t consumed = 0;
};

Result write(const Rule& rule, std::string_view input, std::string_view current) {
    Result result;
    result.stored = "(unchanged)";
    result.error = validate_write(rule, input, current, result.stored, &result.consumed);
    return result;
}

Result write(std::string_view path, std::string_view input, std::string_view current) {
    const Rule* rule = find_rule(path);
    if (!rule) throw std::logic_error("no row for " + std::string(path));
    return write(*rule, input, current);
}

void expect_stored(const Result& result, std::string_view stored) {
    EXPECT_EQ(result.error, 0);
    EXPECT_EQ(result.stored, stored);
}

void expect_error(const Result& result, int error) {
    EXPECT_EQ(result.error, error);
    EXPECT_EQ(result.stored, "(unchanged)");
}

// The kernel's handlers, as rules (the namespaced files probed on the real kernel).
const Rule any_int{.pattern = "net/unix/max_dgram_qlen", .policy = Policy::emulated};              // proc_dointvec
const Rule int_vector{.pattern = "net/ipv4/tcp_rmem", .policy = Policy::emulated, .count = 3, .min = 1};
const Rule any_ulong{.pattern = "net/ipv4/tcp_comp_sack_delay_ns", .policy = Policy::emulated,
                     .kind = Kind::ulongs, .max = bound::ulong_max};
const Rule any_uint{.pattern = "net/ipv4/tcp_notsent_lowat", .policy = Policy::emulated, .kind = Kind::uints};
const Rule uts_string{.pattern = "kernel/hostname", .policy = Policy::emulated, .kind = Kind::string,
                      .max_length = 65};

}  // namespace

TEST(SysctlValue, IntegersAcceptWhatTheKernelAccepts) {
    expect_stored(write(any_int, "5", "512\n"), "5\n");
    expect_stored(write(any_int, "5\n", "512\n"), "5\n");
    expect_stored(write(any_int, "  7\n", "512\n"), "7\n");
    expect_stored(write(any_int, " \t\n 9 \n", "512\n"), "9\n");
    expect_stored(write(any_int, "\r5", "512\n"), "5\n");     // leading \r \v \f are blanks ...
    expect_stored(write(any_int, "\v5", "512\n"), "5\n");
    expect_stored(write(any_int, "\xa0" "5", "512\n"), "5\n");  // ... and so is 0xa0
    expect_stored(write(any_int, "-5", "512\n"), "-5\n");
    expect_stored(write(any_int, "-0", "512\n"), "0\n");
    expect_stored(write(any_int, "0x10", "512\n"), "16\n");  // base 0: hex ...
    expect_stored(write(any_int, "0X1f", "512\n"), "31\n");
    expect_stored(write(any_int, "010", "512\n"), "8\n");    // ... and octal
    expect_stored(write(any_int, "2147483647", "512\n"), "2147483647\n");
    expect_stored(write(any_int, "-2147483648", "512\n"), "-2147483648\n");
    expect_stored(write(any_int, "00000000000000000064", "512\n"), "52\n");  // 20 characters
}

TEST(SysctlValue, IntegersRefuseWhatTheKernelRefuses) {
    for (const std::string_view input :
         {"abc", "+5", "09", "08", "0x", "0xg", "1e2", "5abc", "5\r", "5\f", "5\xa0", "-", "--5", "- 5",
          "2147483648", "-2147483649", "18446744073709551616", "000000000000000000064", "-00000000000000000064",
          "\n", "  "}) {
        SCOPED_TRACE(testing::PrintToString(std::string(input)));
        expect_error(write(any_int, input, "512\n"), EINVAL);
    }
    expect_error(write(any_int, std::string_view("5\0", 2), "512\n"), EINVAL);
    expect_error(write(any_int, std::string_view("\0" "5", 2), "512\n"), EINVAL);
}

TEST(SysctlValue, AnEmptyWriteChangesNothing) {
    const auto result = write(any_int, "", "512\n");
    expect_stored(result, "512\n");
    EXPECT_EQ(result.consumed, 0u);
}

TEST(SysctlValue, ExtraValuesAreLeftUnreadAsTheKernelDoes) {
    // The kernel takes one value and reports only what it read: "5 " of "5 abc".
    auto result = write(any_int, "5 abc", "512\n");
    expect_stored(result, "5\n");
    EXPECT_EQ(result.consumed, 2u);
    result = write(any_int, "6\n7", "512\n");
    expect_stored(result, "6\n");
    EXPECT_EQ(result.consumed, 2u);
    result = write(any_int, "5\n\n\nxyz", "512\n");
    expect_stored(result, "5\n");
    EXPECT_EQ(result.consumed, 4u);
    result = write(any_int, "5\n", "512\n");
    EXPECT_EQ(result.consumed, 2u);
}

TEST(SysctlValue, OnlyTheFirst4095BytesOfANumericWriteCount) {
    expect_error(write(any_int, std::string(4095, ' ') + "5", "512\n"), EINVAL);
    const auto result = write(any_int, std::string(4094, ' ') + "5" + std::string(10, ' '), "512\n");
    expect_stored(result, "5\n");
    EXPECT_EQ(result.consumed, 4105u);
}

TEST(SysctlValue, BoundsAreTheRowsMinAndMax) {
    const Rule somaxconn{.pattern = "net/core/somaxconn", .policy = Policy::emulated, .min = 0};
    expect_error(write(somaxconn, "-1", "4096\n"), EINVAL);
    expect_stored(write(somaxconn, "0", "4096\n"), "0\n");
    expect_stored(write(somaxconn, "2147483647", "4096\n"), "2147483647\n");
}

TEST(SysctlValue, VectorsTakeUpToCountValuesAndKeepTheRest) {
    const std::string_view current = "4096\t131072\t33554432\n";
    auto result = write(int_vector, "100", current);
    expect_stored(result, "100\t131072\t33554432\n");
    EXPECT_EQ(result.consumed, 3u);
    expect_stored(write(int_vector, "100 200", current), "100\t200\t33554432\n");
    expect_stored(write(int_vector, "  100\t200\n300\n", current), "100\t200\t300\n");
    result = write(int_vector, "100 200 300 400", current);
    expect_stored(result, "100\t200\t300\n");
    EXPECT_EQ(result.consumed, 12u);
    result = write(int_vector, "100 200 300\n\n", current);
    EXPECT_EQ(result.consumed, 13u);
    expect_error(write(int_vector, "0 200", current), EINVAL);
}

TEST(SysctlValue, AFailedVectorWriteChangesNothing) {
    // The kernel would keep the 100 it stored before meeting "abc" or the 0; we do not.
    expect_error(write(int_vector, "100 abc", "4096\t131072\t33554432\n"), EINVAL);
    expect_error(write(int_vector, "100 0 300", "4096\t131072\t33554432\n"), EINVAL);
}

TEST(SysctlValue, APartialVectorWriteNeedsTheCurrentValues) {
    expect_error(write(int_vector, "100", ""), EIO);
    expect_error(write(int_vector, "100", "4096\tgarbage\t1\n"), EIO);
    expect_stored(write(int_vector, "1 2 3", ""), "1\t2\t3\n");
}

TEST(SysctlValue, UnsignedLongs) {
    expect_stored(write(any_ulong, "5", "1000000\n"), "5\n");
    expect_stored(write(any_ulong, "18446744073709551615", "1000000\n"), "18446744073709551615\n");
    expect_stored(write(any_ulong, "9223372036854775808", "1000000\n"), "9223372036854775808\n");
    expect_stored(write(any_ulong, "0x10", "1000000\n"), "16\n");
    for (const std::string_view input : {"-5", "-0", "18446744073709551616", "5abc", "\n", "5\r"}) {
        SCOPED_TRACE(testing::PrintToString(std::string(input)));
        expect_error(write(any_ulong, input, "1000000\n"), EINVAL);
    }
    const auto result = write(any_ulong, "6 7", "1000000\n");
    expect_stored(result, "6\n");
    EXPECT_EQ(result.consumed, 2u);
}

TEST(SysctlValue, UnsignedIntsReportTheWholeWrite) {
    auto result = write(any_uint, "5 abc", "4294967295\n");
    expect_stored(result, "5\n");
    EXPECT_EQ(result.consumed, 5u);
    result = write(any_uint, "6 7", "4294967295\n");
    expect_stored(result, "6\n");
    EXPECT_EQ(result.consumed, 3u);
    expect_stored(write(any_uint, "4294967295", "0\n"), "4294967295\n");
    for (const std::string_view input : {"-5", "-0", "4294967296", "5abc", "\n", "5\r"}) {
        SCOPED_TRACE(testing::PrintToString(std::string(input)));
        expect_error(write(any_uint, input, "4294967295\n"), EINVAL);
    }
}

TEST(SysctlValue, StringsKeepTheFirstLineUpToMaxlenMinusOne) {
    expect_stored(write(uts_string, "abc", "vm\n"), "abc\n");
    expect_stored(write(uts_string, "abc\n", "vm\n"), "abc\n");
    expect_stored(write(uts_string, "abc\ndef", "vm\n"), "abc\n");
    expect_stored(write(uts_string, "  abc  ", "vm\n"), "  abc  \n");
    expect_stored(write(uts_string, "\tx\t", "vm\n"), "\tx\t\n");
    expect_stored(write(uts_string, "\n", "vm\n"), "\n");
    expect_stored(write(uts_string, std::string_view("a\0b", 3), "vm\n"), "a\n");
    expect_stored(write(uts_string, std::string(70, 'a'), "vm\n"), std::string(64, 'a') + "\n");
    expect_stored(write(uts_string, "", "vm\n"), "vm\n");
    EXPECT_EQ(write(uts_string, "abc\ndef", "vm\n").consumed, 7u);
}

TEST(SysctlValue, KernelTableRows) {
    expect_error(write("kernel/panic", "abc", "0\n"), EINVAL);
    expect_stored(write("kernel/panic", "7\n", "0\n"), "7\n");
    expect_error(write("kernel/panic_on_warn", "2", "0\n"), EINVAL);
    expect_error(write("kernel/pid_max", "300", "32768\n"), EINVAL);
    expect_stored(write("kernel/pid_max", "301", "32768\n"), "301\n");
    expect_stored(write("kernel/pid_max", "4194304", "32768\n"), "4194304\n");
    expect_error(write("kernel/pid_max", "4194305", "32768\n"), EINVAL);
    expect_error(write("kernel/threads-max", "0", "1000\n"), EINVAL);
    expect_stored(write("kernel/threads-max", "1073741823", "1000\n"), "1073741823\n");
    expect_error(write("kernel/threads-max", "1073741824", "1000\n"), EINVAL);
    expect_stored(write("kernel/perf_event_paranoid", "-1", "2\n"), "-1\n");
    expect_error(write("kernel/kptr_restrict", "3", "0\n"), EINVAL);
    expect_error(write("kernel/dmesg_restrict", "2", "0\n"), EINVAL);
}

TEST(SysctlValue, PrintkIsAVectorOfFour) {
    expect_stored(write("kernel/printk", "3", "4\t4\t1\t7\n"), "3\t4\t1\t7\n");
    expect_stored(write("kernel/printk", "1 2 3 4 5", "4\t4\t1\t7\n"), "1\t2\t3\t4\n");
    EXPECT_EQ(write("kernel/printk", "1 2 3 4 5", "4\t4\t1\t7\n").consumed, 8u);
}

TEST(SysctlValue, PtraceScopeThreeIsForever) {
    expect_stored(write("kernel/yama/ptrace_scope", "3", "1\n"), "3\n");
    expect_error(write("kernel/yama/ptrace_scope", "4", "1\n"), EINVAL);
    expect_error(write("kernel/yama/ptrace_scope", "1", "3\n"), EINVAL);
    expect_stored(write("kernel/yama/ptrace_scope", "3", "3\n"), "3\n");
}

TEST(SysctlValue, UnprivilegedBpfDisabledOneIsForever) {
    expect_stored(write("kernel/unprivileged_bpf_disabled", "0", "2\n"), "0\n");
    expect_stored(write("kernel/unprivileged_bpf_disabled", "1", "2\n"), "1\n");
    expect_error(write("kernel/unprivileged_bpf_disabled", "0", "1\n"), EPERM);
    expect_error(write("kernel/unprivileged_bpf_disabled", "2", "1\n"), EPERM);
    expect_error(write("kernel/unprivileged_bpf_disabled", "3", "1\n"), EINVAL);  // the range is checked first
    expect_stored(write("kernel/unprivileged_bpf_disabled", "1", "1\n"), "1\n");
}

TEST(SysctlValue, CorePattern) {
    expect_stored(write("kernel/core_pattern", "|/usr/lib/systemd/systemd-coredump %P %u %g\n", "core\n"),
                  "|/usr/lib/systemd/systemd-coredump %P %u %g\n");
    expect_stored(write("kernel/core_pattern", "core\nmore", "x\n"), "core\n");
    expect_stored(write("kernel/core_pattern", "\n", "core\n"), "\n");
    expect_stored(write("kernel/core_pattern", std::string(200, 'c'), "core\n"), std::string(127, 'c') + "\n");
    expect_stored(write("kernel/core_pattern", "@/run/systemd/coredump", "core\n"), "@/run/systemd/coredump\n");
    expect_stored(write("kernel/core_pattern", "@@/run/systemd/coredump", "core\n"), "@@/run/systemd/coredump\n");
    expect_error(write("kernel/core_pattern", "@run/coredump", "core\n"), EINVAL);
    expect_error(write("kernel/core_pattern", "@/run/../coredump", "core\n"), EINVAL);
    expect_error(write("kernel/core_pattern", "@/" + std::string(107, 's'), "core\n"), EINVAL);
    expect_stored(write("kernel/core_pattern", "@/" + std::string(106, 's'), "core\n"),
                  "@/" + std::string(106, 's') + "\n");
}

TEST(SysctlValue, VmRows) {
    expect_error(write("vm/swappiness", "201", "60\n"), EINVAL);
    expect_stored(write("vm/swappiness", "200", "60\n"), "200\n");
    expect_error(write("vm/overcommit_memory", "3", "0\n"), EINVAL);
    expect_stored(write("vm/overcommit_ratio", "-7", "50\n"), "-7\n");
    expect_error(write("vm/max_map_count", "-1", "65530\n"), EINVAL);
    expect_stored(write("vm/mmap_min_addr", "18446744073709551615", "4096\n"), "18446744073709551615\n");
    expect_error(write("vm/dirty_ratio", "101", "20\n"), EINVAL);
    expect_error(write("vm/dirty_background_bytes", "0", "0\n"), EINVAL);
    const auto page = page_size();
    expect_error(write("vm/dirty_bytes", std::to_string(2 * page - 1), "0\n"), EINVAL);
    expect_stored(write("vm/dirty_bytes", std::to_string(2 * page), "0\n"), std::to_string(2 * page) + "\n");
    const auto most = uint64_t{UINT32_MAX} * static_cast<uint64_t>(page);
    expect_stored(write("vm/dirty_bytes", std::to_string(most), "0\n"), std::to_string(most) + "\n");
    expect_error(write("vm/dirty_bytes", std::to_string(most + 1), "0\n"), ERANGE);
}

TEST(SysctlValue, RatiosAndBytesZeroEachOther) {
    const auto* ratio = find_rule("vm/dirty_ratio");
    EXPECT_EQ(sibling_to_zero(*ratio, "20\n", "10\n"), "vm/dirty_bytes");
    EXPECT_EQ(sibling_to_zero(*ratio, "20\n", "20\n"), std::nullopt);  // only when it changes
    const auto* background = find_rule("vm/dirty_background_ratio");
    EXPECT_EQ(sibling_to_zero(*background, "10\n", "10\n"), "vm/dirty_background_bytes");  // always
    EXPECT_EQ(sibling_to_zero(*find_rule("vm/overcommit_kbytes"), "0\n", "0\n"), "vm/overcommit_ratio");
    EXPECT_EQ(sibling_to_zero(*find_rule("kernel/panic"), "0\n", "1\n"), std::nullopt);
}

TEST(SysctlValue, FsRows) {
    expect_stored(write("fs/file-max", "9223372036854775807", "1\n"), "9223372036854775807\n");
    expect_error(write("fs/file-max", "9223372036854775808", "1\n"), EINVAL);
    expect_error(write("fs/file-max", "-1", "1\n"), EINVAL);
    expect_error(write("fs/nr_open", "63", "1048576\n"), EINVAL);
    expect_stored(write("fs/nr_open", "64", "1048576\n"), "64\n");
    expect_stored(write("fs/nr_open", "2147483584", "1048576\n"), "2147483584\n");
    expect_error(write("fs/nr_open", "2147483585", "1048576\n"), EINVAL);
    expect_error(write("fs/nr_open", "-0", "1048576\n"), EINVAL);
    expect_stored(write("fs/inotify/max_user_watches", "2147483647", "8192\n"), "2147483647\n");
    expect_error(write("fs/inotify/max_user_watches", "2147483648", "8192\n"), EINVAL);
    expect_error(write("fs/protected_regular", "3", "0\n"), EINVAL);
    expect_error(write("fs/protected_symlinks", "2", "0\n"), EINVAL);
    expect_error(write("fs/suid_dumpable", "3", "0\n"), EINVAL);
}

TEST(SysctlValue, NetRows) {
    expect_stored(write("net/netfilter/nf_conntrack_max", "131072\n", "262144\n"), "131072\n");
    expect_error(write("net/netfilter/nf_conntrack_max", "-1", "262144\n"), EINVAL);
    expect_error(write("net/netfilter/nf_conntrack_expect_max", "0", "4096\n"), EINVAL);
    expect_error(write("net/netfilter/nf_conntrack_buckets", "0", "262144\n"), EINVAL);
    expect_error(write("net/netfilter/nf_conntrack_buckets", "-1", "262144\n"), ENOMEM);
    const auto per_page = page_size() / 8;
    expect_stored(write("net/netfilter/nf_conntrack_buckets", std::to_string(per_page + 1), "262144\n"),
                  std::to_string(2 * per_page) + "\n");
    expect_error(write("net/core/rmem_max", "2303", "4194304\n"), EINVAL);
    expect_stored(write("net/core/rmem_max", "2304", "4194304\n"), "2304\n");
    expect_error(write("net/core/wmem_max", "4607", "4194304\n"), EINVAL);
    expect_stored(write("net/core/rps_sock_flow_entries", "1000", "0\n"), "1024\n");
    expect_stored(write("net/core/rps_sock_flow_entries", "0", "1024\n"), "0\n");
    expect_error(write("net/core/rps_sock_flow_entries", "536870913", "0\n"), EINVAL);
    expect_error(write("net/core/flow_limit_table_len", "1000", "4096\n"), EINVAL);
    expect_stored(write("net/core/flow_limit_table_len", "8192", "4096\n"), "8192\n");
    expect_stored(write("net/core/default_qdisc", "fq\n", "pfifo_fast\n"), "fq\n");
    expect_error(write("net/core/default_qdisc", "bogus", "pfifo_fast\n"), ENOENT);
    expect_error(write("net/core/netdev_unregister_timeout_secs", "3601", "10\n"), EINVAL);
}

TEST(SysctlValue, ReadOnlyAndSynthesizedFilesRefuseWrites) {
    expect_error(write("kernel/cap_last_cap", "40", "40\n"), EACCES);
    expect_error(write("kernel/random/uuid", "x", "x\n"), EACCES);
}

TEST(SysctlValue, FirstValue) {
    EXPECT_EQ(first_value("4\t4\t1\t7\n"), 4);
    EXPECT_EQ(first_value("  -3\n"), -3);
    EXPECT_EQ(first_value(""), std::nullopt);
    EXPECT_EQ(first_value("core\n"), std::nullopt);
}

// Live: the same bytes written to the real kernel, in namespaces made for the test.
namespace {

struct Probe {
    const Rule* rule;
    std::string reset;
    std::string input;
};

struct Observed {
    long result = 0;  // bytes written, or -errno
    std::string after;
};

std::string read_text(const std::string& path) {
    std::ifstream file(path);
    std::stringstream text;
    text << file.rdbuf();
    return text.str();
}

long write_file(const std::string& path, std::string_view bytes) {
    const int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) return -errno;
    const auto written = ::write(fd, bytes.data(), bytes.size());
    const long result = written < 0 ? -errno : written;
    close(fd);
    return result;
}

bool write_all(int fd, const std::string& bytes) {
    for (std::size_t done = 0; done < bytes.size();) {
        const auto n = ::write(fd, bytes.data() + done, bytes.size() - done);
        if (n <= 0) return false;
        done += static_cast<std::size_t>(n);
    }
    return true;
}

// In a child that has just made its own user, network and UTS namespaces (so nothing it
// writes can reach the host's settings), apply each probe; nullopt if the namespaces
// cannot be made here.
std::optional<std::vector<Observed>> run_in_fresh_namespaces(const std::vector<Probe>& probes) {
    int pipe_fds[2];
    if (pipe2(pipe_fds, O_CLOEXEC) != 0) return std::nullopt;
    const uid_t uid = geteuid();
    const gid_t gid = getegid();
    const pid_t child = fork();
    if (child == 0) {
        close(pipe_fds[0]);
        if (unshare(CLONE_NEWUSER | CLONE_NEWNET | CLONE_NEWUTS) != 0) _exit(3);
        write_file("/proc/self/setgroups", "deny");
        if (write_file("/proc/self/uid_map", "0 " + std::to_string(uid) + " 1") < 0) _exit(3);
        if (write_file("/proc/self/gid_map", "0 " + std::to_string(gid) + " 1") < 0) _exit(3);
        std::string out;
        for (const auto& probe : probes) {
            const std::string path = "/proc/sys/" + std::string(probe.rule->pattern);
            if (write_file(path, probe.reset) < 0) _exit(4);
            const long result = write_file(path, probe.input);
            const auto after = read_text(path);
            out += std::to_string(result) + " " + std::to_string(after.size()) + "\n" + after;
        }
        _exit(write_all(pipe_fds[1], out) ? 0 : 5);
    }
    close(pipe_fds[1]);
    std::string out;
    char buffer[4096];
    for (ssize_t n; (n = read(pipe_fds[0], buffer, sizeof buffer)) > 0;) out.append(buffer, static_cast<std::size_t>(n));
    close(pipe_fds[0]);
    int status = 0;
    waitpid(child, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) == 3) return std::nullopt;
    if (WEXITSTATUS(status) != 0) throw std::runtime_error("probe child failed: " + std::to_string(WEXITSTATUS(status)));
    std::vector<Observed> observed;
    std::istringstream stream(out);
    for (std::size_t i = 0; i < probes.size(); ++i) {
        Observed one;
        std::size_t size = 0;
        stream >> one.result >> size;
        stream.get();
        one.after.resize(size);
        stream.read(one.after.data(), static_cast<std::streamsize>(size));
        observed.push_back(std::move(one));
    }
    return observed;
}

std::vector<std::string> number_inputs() {
    std::vector<std::string> inputs = {
        "abc", "5", "5\n", "  7\n", " \t\n 9 \n", "+5", "-5", "-0", "0", "1", "0x10", "0X1f", "010", "09", "0x",
        "0xg", "08", "1e2", "5abc", "5 abc", "5\tabc", "6 7", "6\n7", "6 7 8", "", "\n", "  ", "\r5", "5\r", "\v5",
        "-", "--5", "- 5", "00000000000000000064", "000000000000000000064", "-0000000000000000064",
        "-00000000000000000064", "2147483647", "2147483648", "-2147483648", "-2147483649", "4294967295",
        "4294967296", "18446744073709551615", "18446744073709551616", "9223372036854775808", "\xa0" "5", "5\xa0",
        "\f5", "5\f", "5\n\n\nxyz", "100 200", "100 200 300", "100 200 300 400", "100 abc", "0 200", "100 0 300",
        std::string(4095, ' ') + "5", std::string(4094, ' ') + "5" + std::string(10, ' ')};
    inputs.emplace_back("5\0", 2);
    inputs.emplace_back("\0" "5", 2);
    return inputs;
}

}  // namespace

TEST(SysctlKernel, ValidationMatchesTheKernelInAFreshNamespace) {
    const std::vector<std::pair<const Rule*, std::string>> files = {
        {&any_int, "512"}, {&int_vector, "4096 131072 6291456"}, {&any_ulong, "1000000"}, {&any_uint, "4294967295"}};
    std::vector<Probe> probes;
    for (const auto& [rule, reset] : files)
        for (const auto& input : number_inputs()) probes.push_back({rule, reset, input});
    for (const std::string& input : std::vector<std::string>{"abc", "abc\n", "abc\ndef", "  abc  ", "", "\n", "\tx\t", std::string(70, 'a'),
                                    std::string(64, 'a'), std::string(65, 'a'), std::string("a\0b", 3)})
        probes.push_back({&uts_string, "ecifs-probe", input});
    const auto observed = run_in_fresh_namespaces(probes);
    if (!observed) GTEST_SKIP() << "cannot make a user and network namespace here";
    for (std::size_t i = 0; i < probes.size(); ++i) {
        const auto& probe = probes[i];
        const auto& kernel = (*observed)[i];
        SCOPED_TRACE(std::string(probe.rule->pattern) + " ← " + testing::PrintToString(probe.input));
        // What the kernel shows after the reset, which the daemon would pass as current.
        const auto reset = write(*probe.rule, probe.reset, "");
        ASSERT_EQ(reset.error, 0);
        const auto& current = reset.stored;
        const auto ours = write(*probe.rule, probe.input, current);
        EXPECT_EQ(ours.error, kernel.result < 0 ? -kernel.result : 0);
        if (kernel.result >= 0) {
            EXPECT_EQ(ours.stored, kernel.after);
            EXPECT_EQ(static_cast<long>(ours.consumed), kernel.result);
        } else if (kernel.after != current) {
            // Only a vector: the kernel kept the values it stored before the bad one (we
            // change nothing; see AFailedVectorWriteChangesNothing).
            EXPECT_GT(probe.rule->count, 1);
        }
    }
}

// kstrtouint(s, 0, &v) as lib/kstrtox.c parses module parameters (nf_conntrack's hashsize).
namespace {

struct Parsed {
    int error;
    unsigned value;
};

Parsed kstrtouint(std::string_view text) {
    unsigned value = 7;  // left alone on failure
    const int error = parse_kstrtouint(text, value);
    return {error, value};
}

}  // namespace

TEST(SysctlValue, KstrtouintAcceptsWhatTheKernelAccepts) {
    EXPECT_EQ(kstrtouint("16384").value, 16384u);
    EXPECT_EQ(kstrtouint("16384\n").value, 16384u);  // one trailing newline
    EXPECT_EQ(kstrtouint("+5").value, 5u);
    EXPECT_EQ(kstrtouint("0x1F").value, 31u);
    EXPECT_EQ(kstrtouint("0X1f\n").value, 31u);
    EXPECT_EQ(kstrtouint("010").value, 8u);  // octal
    EXPECT_EQ(kstrtouint("0").value, 0u);
    EXPECT_EQ(kstrtouint("00").value, 0u);
    EXPECT_EQ(kstrtouint("4294967295").value, 4294967295u);
    EXPECT_EQ(kstrtouint("0xffffffff").error, 0);
}

TEST(SysctlValue, KstrtouintRefusesWhatTheKernelRefuses) {
    const std::string_view refused[] = {"",   "\n", "+",  "-1", " 5",  "5 ",  "5\n\n", "5\t",
                                        "abc", "1x", "08", "0x", "0xg", "++5", "5\n1", std::string_view("5\0", 2)};
    for (const auto bad : refused) {
        const auto parsed = kstrtouint(bad);
        EXPECT_EQ(parsed.error, EINVAL) << '"' << bad << '"';
        EXPECT_EQ(parsed.value, 7u) << '"' << bad << '"';
    }
}

TEST(SysctlValue, KstrtouintOutOfRangeIsErange) {
    EXPECT_EQ(kstrtouint("4294967296").error, ERANGE);
    EXPECT_EQ(kstrtouint("0x100000000\n").error, ERANGE);
    EXPECT_EQ(kstrtouint("18446744073709551616").error, ERANGE);  // past 64 bits
    // Overflowing 64 bits is ERANGE whatever follows; beyond 32 bits only once the rest is good.
    EXPECT_EQ(kstrtouint("18446744073709551616x").error, ERANGE);
    EXPECT_EQ(kstrtouint("4294967296x").error, EINVAL);
}
