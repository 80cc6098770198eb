// The cgroup file parsers (cgroup/): every reading of the Cgroup class over a v1 or v2
// cgroup directory whose files hold the input (memory.*, cpu.*, cpuacct.*, cpuset.*,
// io.stat and blkio.throttle.*, PSI, tasks), the CPU list format, and the resolution
// of a process's cgroup from /proc/PID/cgroup and mountinfo (cgroup/resolve.cpp).
//
// The input is a list of files: "--- NAME" starts each ("../NAME": the parent cgroup's;
// "proc/cgroup" and "proc/mountinfo": the process's), the lines up to the next such
// line are its content. A first line "v1" makes it a v1 cgroup. Files are written to a
// directory of our own under $TMPDIR, removed again at exit.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

#include "cgroup/cgroup.hpp"
#include "cgroup/readers.hpp"

namespace cg = ecifs::cgroup;
namespace fs = std::filesystem;

namespace {

void check(bool ok) {
    if (!ok) std::abort();
}

constexpr std::string_view known_files[] = {
    "memory.max", "memory.current", "memory.stat", "memory.swap.max", "memory.swap.current",
    "memory.limit_in_bytes", "memory.usage_in_bytes", "memory.memsw.limit_in_bytes", "memory.memsw.usage_in_bytes",
    "cpu.max", "cpu.stat", "cpu.cfs_quota_us", "cpu.cfs_period_us",
    "cpuacct.usage", "cpuacct.usage_user", "cpuacct.usage_sys", "cpuacct.stat",
    "cpuset.cpus", "cpuset.cpus.effective", "cpuset.effective_cpus",
    "io.stat", "blkio.throttle.io_service_bytes", "blkio.throttle.io_serviced",
    "blkio.throttle.io_service_bytes_recursive", "blkio.throttle.io_serviced_recursive",
    "cpu.pressure", "memory.pressure", "io.pressure", "cgroup.threads", "tasks", "cgroup.controllers",
};

struct Tree {
    fs::path root;
    Tree() {
        const char* tmp = std::getenv("TMPDIR");
        std::error_code ec;
        const std::string base = fs::is_directory("/dev/shm", ec) ? "/dev/shm" : tmp && *tmp ? tmp : "/tmp";
        std::string pattern = base + "/ecifs-fuzz-cgroup.XXXXXX";
        check(::mkdtemp(pattern.data()) != nullptr);
        root = pattern;
    }
    ~Tree() {
        std::error_code ec;
        fs::remove_all(root, ec);
    }
    fs::path mount_root() const { return root / "cg"; }
    fs::path proc() const { return root / "proc"; }
};

Tree& tree() {
    static Tree t;  // destroyed at exit, which libFuzzer reaches after -max_total_time
    return t;
}

// Where the file NAME goes; empty for a name that is none of ours.
fs::path place_of(std::string_view name) {
    if (name == "proc/cgroup") return tree().proc() / "4242" / "cgroup";
    if (name == "proc/mountinfo") return tree().proc() / "self" / "mountinfo";
    const bool parent = name.starts_with("../");
    if (parent) name.remove_prefix(3);
    for (std::string_view known : known_files)
        if (name == known) return (parent ? tree().mount_root() : tree().mount_root() / "c") / name;
    return {};
}

void write_files(std::string_view text) {
    std::error_code ec;
    fs::remove_all(tree().mount_root(), ec);
    fs::remove_all(tree().proc(), ec);
    for (const auto& dir : {tree().mount_root() / "c", tree().proc() / "4242", tree().proc() / "self"})
        fs::create_directories(dir);
    fs::path current;
    while (!text.empty()) {
        const auto nl = text.find('\n');
        const std::string_view line = text.substr(0, nl == std::string_view::npos ? text.size() : nl + 1);
        text.remove_prefix(line.size());
        if (line.starts_with("--- ")) {
            std::string_view name = line.substr(4);
            if (name.ends_with('\n')) name.remove_suffix(1);
            current = place_of(name);
            if (!current.empty()) std::ofstream(current, std::ios::trunc);  // an empty file is a file
            continue;
        }
        if (!current.empty()) std::ofstream(current, std::ios::app) << line;
    }
}

template <class Fn>
void reading(Fn fn) {
    try {
        fn();
    } catch (const std::exception&) {  // the views turn a reading that throws into EIO
    }
}

void read_cgroup(cg::CgroupVersion version) {
    const cg::CgroupDir dir{version, tree().mount_root(), "/c"};
    cg::CgroupPaths paths{dir, dir, dir, dir, dir, dir, version == cg::CgroupVersion::v2 ? std::optional(dir) : std::nullopt};
    const cg::Cgroup cgroup(paths, cg::CgroupCaching{.ttl = std::chrono::seconds(0)});
    reading([&] { (void)cgroup.memory(); });
    reading([&] { (void)cgroup.cpu_quota(); });
    reading([&] { (void)cgroup.cpuset(); });
    reading([&] { (void)cgroup.cpu_usage_ns(); });
    reading([&] { (void)cgroup.cpu_times(); });
    reading([&] { (void)cgroup.memory_stat_entries(); });
    reading([&] { (void)cgroup.io_stats(); });
    reading([&] { (void)cgroup.pressure("memory"); });
    reading([&] { (void)cgroup.threads(); });
    reading([&] { (void)cg::detail::read_io_stats(dir, cg::detail::read_plain); });
}

void cpu_list(const fs::path& file) {
    const auto text = ecifs::sys::read_file_if_exists(file);
    if (!text) return;
    try {
        const cg::CpuList cpus = cg::parse_cpu_list(*text);
        check(cg::parse_cpu_list(cg::format_cpu_list(cpus)) == cpus);
    } catch (const std::invalid_argument&) {
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    write_files(text);
    read_cgroup(text.starts_with("v1\n") ? cg::CgroupVersion::v1 : cg::CgroupVersion::v2);
    cpu_list(tree().mount_root() / "c" / "cpuset.cpus");
    try {
        (void)cg::resolve_cgroup_paths(4242, tree().proc());
    } catch (const std::runtime_error&) {
    }
    return 0;
}
