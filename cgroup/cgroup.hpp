#pragma once
// The container's cgroup, read the same way on cgroup v1 and v2.
//
// Every limit is the tightest of the container's cgroup and all its ancestors up to
// the hierarchy's root; a missing file or "max" means no limit at that level.
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sys/files.hpp"

namespace ecifs::cgroup {

enum class CgroupVersion { v1, v2 };

// Where one controller's files for one cgroup live.
struct CgroupDir {
    CgroupVersion version = CgroupVersion::v2;
    std::filesystem::path mount_root;  // where the hierarchy is mounted, e.g. /sys/fs/cgroup/memory
    std::filesystem::path relative;    // the cgroup inside it, e.g. /docker/abc ("/" for the root)

    std::filesystem::path dir() const;  // mount_root + relative
    // dir() and every ancestor up to and including mount_root, leaf first.
    std::vector<std::filesystem::path> self_and_ancestors() const;
};

// One directory per controller the views need. On a pure v2 host all are the same
// directory; on a hybrid host each v1 controller has its own hierarchy.
struct CgroupPaths {
    std::optional<CgroupDir> memory, cpu, cpuacct, cpuset, blkio, pids;
    // The process's cgroup in the unified (v2) hierarchy, also on a hybrid host whose
    // controllers are all v1: its core files (PSI, cgroup.threads) are still kept.
    std::optional<CgroupDir> unified = std::nullopt;
};

// Resolve a process's cgroup directories from <proc_root>/<pid>/cgroup and the
// mount table <proc_root>/self/mountinfo. Throws std::runtime_error with a clear
// message if the process is gone or no hierarchy can be found.
CgroupPaths resolve_cgroup_paths(pid_t pid, const std::filesystem::path& proc_root = "/proc");
// The text of <proc_root>/PID/cgroup; throws std::runtime_error if the process is gone.
std::string read_proc_cgroup(pid_t pid, const std::filesystem::path& proc_root = "/proc");
// The same from a /proc/PID/cgroup text read earlier: a container's cgroup is where its
// init was at its start, also after the init moved below it (systemd's init.scope), so
// the daemon keeps that text for a restart (daemon/saved_state.hpp).
CgroupPaths resolve_cgroup_paths(std::string_view proc_cgroup, const std::filesystem::path& proc_root = "/proc");
// The process's cgroup in every mounted hierarchy /proc/PID/cgroup names (each v1
// hierarchy, named controllers like name=systemd too, and v2), unmounted ones left out.
std::vector<CgroupDir> hierarchy_dirs(pid_t pid, const std::filesystem::path& proc_root = "/proc");

// A sorted set of CPU numbers, parsed from and printed as the kernel's list format ("0-3,6").
// parse_cpu_list ignores surrounding whitespace and throws std::invalid_argument on junk.
using CpuList = std::vector<int>;
CpuList parse_cpu_list(std::string_view text);
std::string format_cpu_list(const CpuList& cpus);

// Memory figures normalised across v1 (total_* keys of memory.stat) and v2.
struct MemoryStat {
    uint64_t anon = 0, file = 0;
    uint64_t active_anon = 0, inactive_anon = 0, active_file = 0, inactive_file = 0;
    uint64_t unevictable = 0, shmem = 0, file_mapped = 0, file_dirty = 0, file_writeback = 0;
    uint64_t slab_reclaimable = 0, slab_unreclaimable = 0;
};

// CPU time of a cgroup, nanoseconds. user includes nice, as both cgroup versions count it.
struct CpuTimes {
    uint64_t usage = 0, user = 0, system = 0, nice = 0;
};

// One device's I/O of a cgroup, hierarchical: bytes and completed requests.
struct IoStat {
    unsigned major = 0, minor = 0;
    uint64_t rbytes = 0, wbytes = 0, dbytes = 0, rios = 0, wios = 0, dios = 0;
};

// Everything the memory views need, each file read once.
struct MemoryReading {
    std::optional<uint64_t> limit;  // as Cgroup::memory_limit()
    std::optional<uint64_t> usage;  // as Cgroup::memory_usage(); nullopt: cannot be read
    std::optional<uint64_t> swap_limit, swap_usage;
    MemoryStat stat;
};

// What a Cgroup keeps between reads, and for how long.
struct CgroupCaching {
    // The ancestors' limits (memory, swap, CPU bandwidth, cpuset) are read again after
    // this long, and the cgroup's own files found missing are looked for again. The
    // cgroup's own limits (what `runc update` changes) are read on every call.
    std::chrono::steady_clock::duration ttl = std::chrono::seconds(1);
    sys::SteadyClock now = std::chrono::steady_clock::now;
};

// The cgroup's own files are kept open (KeptFiles) and read with one pread each; the
// ancestors' limit files are read, the plain way, once per CgroupCaching::ttl. Copies
// share what is kept. Thread-safe.
class Cgroup {
public:
    Cgroup() : Cgroup(CgroupPaths{}) {}
    explicit Cgroup(CgroupPaths paths, CgroupCaching caching = {});

    const CgroupPaths& paths() const { return paths_; }

    // The memory figures of the meminfo view: memory_limit(), memory_usage(),
    // swap_limit(), swap_usage() and memory_stat(), reading each file once.
    MemoryReading memory() const;

    // Bytes; nullopt when neither the cgroup nor any ancestor sets a limit.
    std::optional<uint64_t> memory_limit() const;
    std::optional<uint64_t> memory_usage() const;  // v2 memory.current, v1 usage_in_bytes
    MemoryStat memory_stat() const;
    // Swap: v2 memory.swap.max/current; v1 memsw minus memory. nullopt = no limit / unknown.
    std::optional<uint64_t> swap_limit() const;
    std::optional<uint64_t> swap_usage() const;

    // CPU bandwidth in CPUs (quota / period), tightest of all levels; nullopt = unlimited.
    std::optional<double> cpu_quota() const;
    // The effective cpuset; nullopt when the cpuset controller is not available.
    std::optional<CpuList> cpuset() const;
    // Total CPU time consumed, nanoseconds (v2 cpu.stat usage_usec, v1 cpuacct.usage).
    std::optional<uint64_t> cpu_usage_ns() const;
    // User/system split of it (v2 cpu.stat user_usec/system_usec/nice_usec; v1
    // cpuacct.usage_user/usage_sys, or cpuacct.stat in USER_HZ). nullopt: not accounted.
    std::optional<CpuTimes> cpu_times() const;

    // Every key of memory.stat as the kernel prints it (v1 with its total_* keys), in order.
    std::vector<std::pair<std::string, uint64_t>> memory_stat_entries() const;
    // I/O per device (v2 io.stat; v1 blkio.throttle.io_service_bytes and io_serviced,
    // their _recursive forms when the kernel has them). nullopt: no I/O controller.
    std::optional<std::vector<IoStat>> io_stats() const;
    // The text of the v2 PSI file "<resource>.pressure" (cpu, memory, io) of the
    // process's unified cgroup; nullopt when there is none (pure v1, kernel without PSI).
    std::optional<std::string> pressure(std::string_view resource) const;
    // Registers a PSI trigger (its text as the kernel reads it: "some 150000 2000000") on
    // that file. Returns the new descriptor, which polls POLLPRI each time the trigger
    // fires and whose close ends the trigger, or -errno (the kernel's, for a trigger it
    // refuses; ENOENT without such a file).
    int open_pressure_trigger(std::string_view resource, std::string_view trigger) const;
    // The ids of every thread in the cgroup and its descendants (v1 tasks, v2
    // cgroup.threads), read from one hierarchy the process belongs to, in at most
    // `max_cgroups` cgroups, the shallowest first. A container owns its cgroup's subtree
    // (shim/cgroup_delegation.hpp) and may make any number of cgroups in it: without a
    // bound, 20,000 empty ones stalled a read of /proc/loadavg for 0.53 s every 5 s
    // (1024 of them: 0.05 s; a booted Debian 12 systemd container has 9).
    static constexpr size_t max_cgroups_walked = 1024;
    std::vector<pid_t> threads(size_t max_cgroups = max_cgroups_walked) const;
    // How many there are, from the pids controller's counter (pids.current): one small
    // read however many; nullopt without that controller (then count threads()).
    std::optional<uint64_t> thread_count() const;
    // The hierarchy threads() reads; nullopt when the process is in none.
    std::optional<CgroupDir> tasks_dir() const;

private:
    struct State;
    // A file of the cgroup itself, through the kept descriptors; nullopt when missing.
    std::optional<std::string> read_own(const std::filesystem::path& file) const;
    std::function<std::optional<std::string>(const std::filesystem::path&)> own_reader() const;
    std::optional<uint64_t> own_memory_limit(std::string_view name) const;
    // The tightest limit of file `name` over the ancestors (not the cgroup itself), cached.
    std::optional<uint64_t> ancestors_memory_limit(std::string_view name) const;
    std::optional<uint64_t> memory_limit_file(std::string_view name) const;  // own and ancestors'

    CgroupPaths paths_;
    std::shared_ptr<State> state_;
};

}  // namespace ecifs::cgroup
