// Reading a container's cgroup on v1, v2 and hybrid hosts.
#include "cgroup/cgroup.hpp"
#include "cgroup/readers.hpp"
#include "sys/files.hpp"
#include "sys/text.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <stdexcept>
#include <system_error>

#include <fmt/format.h>

namespace ecifs::cgroup {

using detail::read_plain;
using detail::Reader;
using sys::for_each_line;
using sys::KeptFiles;
using sys::KeyValues;
using sys::read_file_if_exists;
using sys::split_fields;
using sys::trim;
using sys::whole_number;

namespace fs = std::filesystem;

namespace {

[[noreturn]] void malformed(const fs::path& file, std::string_view text) {
    throw std::runtime_error(fmt::format("{}: unexpected content '{}'", file.string(), trim(text)));
}

template <class T>
T number_in(const fs::path& file, std::string_view text) {
    const auto value = whole_number<T>(trim(text));
    if (!value) malformed(file, text);
    return *value;
}

std::optional<uint64_t> read_u64(const fs::path& file, const Reader& read = read_plain) {
    const auto text = read(file);
    if (!text) return std::nullopt;
    return number_in<uint64_t>(file, *text);
}

// v1 shows "no limit" as LONG_MAX rounded down to a page (9223372036854771712 with 4 KiB
// pages); anything at or above it is no limit.
uint64_t unlimited_bytes() {
    static const uint64_t page = static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
    return static_cast<uint64_t>(LONG_MAX) / page * page;
}

// One level's memory limit file: nullopt when missing, "max" or v1's "unlimited".
std::optional<uint64_t> memory_limit_at(const fs::path& file, const Reader& read) {
    const auto text = read(file);
    if (!text || trim(*text) == "max") return std::nullopt;
    const auto bytes = number_in<uint64_t>(file, *text);
    if (bytes >= unlimited_bytes()) return std::nullopt;
    return bytes;
}

template <class T>
std::optional<T> tighter(std::optional<T> a, std::optional<T> b) {
    if (!a) return b;
    if (!b) return a;
    return std::min(*a, *b);
}

// The levels above the cgroup, nearest first.
std::vector<fs::path> ancestors(const CgroupDir& dir) {
    auto levels = dir.self_and_ancestors();
    levels.erase(levels.begin());
    return levels;
}

// One level's CPU bandwidth in CPUs; nullopt when unlimited or not set.
std::optional<double> cpu_quota_at(CgroupVersion version, const fs::path& level, const Reader& read) {
    int64_t quota = -1;
    uint64_t period = 0;
    if (version == CgroupVersion::v2) {  // cpu.max: "max 100000" or "150000 100000"
        const auto file = level / "cpu.max";
        const auto text = read(file);
        if (!text) return std::nullopt;
        const auto fields = split_fields(*text);
        if (fields.size() != 2) malformed(file, *text);
        if (fields[0] == "max") return std::nullopt;
        quota = number_in<int64_t>(file, fields[0]);
        period = number_in<uint64_t>(file, fields[1]);
    } else {  // cpu.cfs_quota_us (-1 = none) and cpu.cfs_period_us
        const auto quota_file = level / "cpu.cfs_quota_us";
        const auto text = read(quota_file);
        if (!text) return std::nullopt;
        quota = number_in<int64_t>(quota_file, *text);
        period = read_u64(level / "cpu.cfs_period_us", read).value_or(0);
    }
    if (quota < 0 || period == 0) return std::nullopt;
    return static_cast<double>(quota) / static_cast<double>(period);
}

// One level's effective cpuset; nullopt when the files are missing or empty.
std::optional<CpuList> cpuset_at(CgroupVersion version, const fs::path& level, const Reader& read) {
    const auto names = version == CgroupVersion::v2
                           ? std::vector<std::string_view>{"cpuset.cpus.effective"}
                           : std::vector<std::string_view>{"cpuset.effective_cpus", "cpuset.cpus"};
    for (const auto name : names) {
        const auto text = read(level / name);
        if (!text || trim(*text).empty()) continue;
        try {
            return parse_cpu_list(*text);
        } catch (const std::invalid_argument&) {
            malformed(level / name, *text);
        }
    }
    return std::nullopt;
}

// memory.stat keys: v2's own, v1's hierarchical total_* (empty: v1 has no such figure).
struct StatKey {
    std::string_view v2, v1;
    uint64_t MemoryStat::*field;
};
constexpr StatKey stat_keys[] = {
    {"anon", "total_rss", &MemoryStat::anon},
    {"file", "total_cache", &MemoryStat::file},
    {"active_anon", "total_active_anon", &MemoryStat::active_anon},
    {"inactive_anon", "total_inactive_anon", &MemoryStat::inactive_anon},
    {"active_file", "total_active_file", &MemoryStat::active_file},
    {"inactive_file", "total_inactive_file", &MemoryStat::inactive_file},
    {"unevictable", "total_unevictable", &MemoryStat::unevictable},
    {"shmem", "total_shmem", &MemoryStat::shmem},
    {"file_mapped", "total_mapped_file", &MemoryStat::file_mapped},
    {"file_dirty", "total_dirty", &MemoryStat::file_dirty},
    {"file_writeback", "total_writeback", &MemoryStat::file_writeback},
    {"slab_reclaimable", "", &MemoryStat::slab_reclaimable},
    {"slab_unreclaimable", "", &MemoryStat::slab_unreclaimable},
};

}  // namespace

// A value computed at most once per ttl.
template <class T>
struct Timed {
    T value{};
    std::optional<std::chrono::steady_clock::time_point> at;  // nullopt: never computed
};

struct Cgroup::State {
    explicit State(CgroupCaching caching) : caching(std::move(caching)), own_files(this->caching.ttl, this->caching.now) {}

    // The cached value of `slot`, computed again by `compute` when older than the ttl.
    template <class T, class Compute>
    T cached(Timed<T>& slot, Compute compute) {
        std::lock_guard lock(mutex);
        const auto now = caching.now();
        if (!slot.at || now - *slot.at >= caching.ttl) {
            slot.value = compute();
            slot.at = now;
        }
        return slot.value;
    }

    const CgroupCaching caching;
    KeptFiles own_files;
    std::mutex mutex;  // guards what follows
    std::map<std::string, Timed<std::optional<uint64_t>>, std::less<>> ancestors_memory_limits;  // by file name
    Timed<std::optional<double>> ancestors_cpu_quota;
    Timed<std::optional<CpuList>> ancestors_cpuset;  // the nearest ancestor's
};

Cgroup::Cgroup(CgroupPaths paths, CgroupCaching caching)
    : paths_(std::move(paths)), state_(std::make_shared<State>(std::move(caching))) {}

std::optional<std::string> Cgroup::read_own(const fs::path& file) const {
    std::string text;
    const int err = state_->own_files.read(file.string(), text);
    if (err == ENOENT || err == ENOTDIR) return std::nullopt;
    if (err) throw std::system_error(err, std::generic_category(), file.string());
    return text;
}

std::function<std::optional<std::string>(const fs::path&)> Cgroup::own_reader() const {
    return [this](const fs::path& file) { return read_own(file); };
}

std::optional<uint64_t> Cgroup::own_memory_limit(std::string_view name) const {
    return memory_limit_at(paths_.memory->dir() / name, own_reader());
}

std::optional<uint64_t> Cgroup::ancestors_memory_limit(std::string_view name) const {
    std::unique_lock lock(state_->mutex);
    auto& slot = state_->ancestors_memory_limits[std::string(name)];
    lock.unlock();  // map nodes stay where they are; cached() locks again
    return state_->cached(slot, [&] {
        std::optional<uint64_t> limit;
        for (const auto& level : ancestors(*paths_.memory)) limit = tighter(limit, memory_limit_at(level / name, read_plain));
        return limit;
    });
}

std::optional<uint64_t> Cgroup::memory_limit_file(std::string_view name) const {
    return tighter(own_memory_limit(name), ancestors_memory_limit(name));
}

std::optional<uint64_t> Cgroup::memory_limit() const {
    if (!paths_.memory) return std::nullopt;
    const bool v2 = paths_.memory->version == CgroupVersion::v2;
    return memory_limit_file(v2 ? "memory.max" : "memory.limit_in_bytes");
}

std::optional<uint64_t> Cgroup::memory_usage() const {
    if (!paths_.memory) return std::nullopt;
    const bool v2 = paths_.memory->version == CgroupVersion::v2;
    return read_u64(paths_.memory->dir() / (v2 ? "memory.current" : "memory.usage_in_bytes"),
                    own_reader());
}

MemoryStat Cgroup::memory_stat() const {
    MemoryStat stat;
    if (!paths_.memory) return stat;
    const bool v2 = paths_.memory->version == CgroupVersion::v2;
    const auto text = read_own(paths_.memory->dir() / "memory.stat");
    if (!text) return stat;
    const KeyValues values(*text);  // split once for all the keys
    for (const auto& key : stat_keys) {
        const auto name = v2 ? key.v2 : key.v1;
        if (!name.empty()) stat.*key.field = values.number(name).value_or(0);
    }
    return stat;
}

namespace {

// v1 limits and counts memory+swap together; the swap share is what is beyond memory.
uint64_t beyond(uint64_t memsw, uint64_t memory) { return memsw > memory ? memsw - memory : 0; }

}  // namespace

std::optional<uint64_t> Cgroup::swap_limit() const {
    if (!paths_.memory) return std::nullopt;
    if (paths_.memory->version == CgroupVersion::v2) return memory_limit_file("memory.swap.max");
    const auto memsw = memory_limit_file("memory.memsw.limit_in_bytes");
    if (!memsw) return std::nullopt;
    return beyond(*memsw, memory_limit().value_or(0));
}

std::optional<uint64_t> Cgroup::swap_usage() const {
    if (!paths_.memory) return std::nullopt;
    const auto& dir = *paths_.memory;
    const auto own = own_reader();
    if (dir.version == CgroupVersion::v2) return read_u64(dir.dir() / "memory.swap.current", own);
    const auto memsw = read_u64(dir.dir() / "memory.memsw.usage_in_bytes", own);
    const auto memory = memory_usage();
    if (!memsw || !memory) return std::nullopt;
    return beyond(*memsw, *memory);
}

MemoryReading Cgroup::memory() const {
    MemoryReading m;
    if (!paths_.memory) return m;
    const auto& dir = *paths_.memory;
    const auto own = own_reader();
    m.limit = memory_limit();
    m.usage = memory_usage();
    m.stat = memory_stat();
    if (dir.version == CgroupVersion::v2) {
        m.swap_limit = memory_limit_file("memory.swap.max");
        m.swap_usage = read_u64(dir.dir() / "memory.swap.current", own);
        return m;
    }
    if (const auto memsw = memory_limit_file("memory.memsw.limit_in_bytes")) m.swap_limit = beyond(*memsw, m.limit.value_or(0));
    const auto memsw_usage = read_u64(dir.dir() / "memory.memsw.usage_in_bytes", own);
    if (memsw_usage && m.usage) m.swap_usage = beyond(*memsw_usage, *m.usage);
    return m;
}

std::optional<double> Cgroup::cpu_quota() const {
    if (!paths_.cpu) return std::nullopt;
    const auto& dir = *paths_.cpu;
    const auto own = cpu_quota_at(dir.version, dir.dir(), own_reader());
    const auto above = state_->cached(state_->ancestors_cpu_quota, [&] {
        std::optional<double> quota;
        for (const auto& level : ancestors(dir)) quota = tighter(quota, cpu_quota_at(dir.version, level, read_plain));
        return quota;
    });
    return tighter(own, above);
}

std::optional<CpuList> Cgroup::cpuset() const {
    if (!paths_.cpuset) return std::nullopt;
    const auto& dir = *paths_.cpuset;
    // The leaf's files are missing when the controller is not enabled for it (v2) and
    // empty only for a cgroup that cannot hold tasks: the nearest ancestor's set applies.
    if (auto cpus = cpuset_at(dir.version, dir.dir(), own_reader())) return cpus;
    return state_->cached(state_->ancestors_cpuset, [&]() -> std::optional<CpuList> {
        for (const auto& level : ancestors(dir))
            if (auto cpus = cpuset_at(dir.version, level, read_plain)) return cpus;
        return std::nullopt;
    });
}

std::optional<uint64_t> Cgroup::cpu_usage_ns() const {
    if (!paths_.cpuacct) return std::nullopt;
    const auto dir = paths_.cpuacct->dir();
    if (paths_.cpuacct->version == CgroupVersion::v1)
        return read_u64(dir / "cpuacct.usage", own_reader());
    const auto file = dir / "cpu.stat";
    const auto text = read_own(file);
    if (!text) return std::nullopt;
    const auto usec = KeyValues(*text).number("usage_usec");
    if (!usec) malformed(file, *text);
    return *usec * 1000;
}

// ---- the resource views' readers ------------------------------------------------

namespace {

// The cgroup's directory in the unified hierarchy: the one resolved for it, or (for
// paths built by hand) any controller's directory that is v2.
std::optional<CgroupDir> unified_dir(const CgroupPaths& p) {
    if (p.unified) return p.unified;
    for (const auto* dir : {&p.cpuacct, &p.cpu, &p.memory, &p.pids, &p.blkio, &p.cpuset})
        if (*dir && (*dir)->version == CgroupVersion::v2) return *dir;
    return std::nullopt;
}

// Breadth first, so that a bound cuts off the deepest cgroups, not a whole branch.
void collect_threads(const fs::path& top, std::string_view file, std::vector<pid_t>& out, size_t max_cgroups) {
    std::deque<fs::path> pending{top};
    for (size_t walked = 0; !pending.empty() && walked < max_cgroups; ++walked) {
        const fs::path dir = std::move(pending.front());
        pending.pop_front();
        if (const auto text = read_file_if_exists(dir / file))
            for_each_line(*text, [&](std::string_view line) {
                if (const auto tid = whole_number<pid_t>(trim(line))) out.push_back(*tid);
            });
        std::error_code ec;  // a child cgroup removed meanwhile is simply skipped
        for (const auto& entry : fs::directory_iterator(dir, ec))
            if (entry.is_directory(ec) && !entry.is_symlink(ec) && pending.size() < max_cgroups)
                pending.push_back(entry.path());
    }
}

}  // namespace

std::optional<CpuTimes> Cgroup::cpu_times() const {
    if (!paths_.cpuacct) return std::nullopt;
    const auto dir = paths_.cpuacct->dir();
    const auto own = own_reader();
    if (paths_.cpuacct->version == CgroupVersion::v2) {
        const auto file = dir / "cpu.stat";
        const auto text = read_own(file);
        if (!text) return std::nullopt;
        const KeyValues stat(*text);
        const auto usage = stat.number("usage_usec");
        const auto user = stat.number("user_usec");
        const auto system = stat.number("system_usec");
        if (!usage || !user || !system) malformed(file, *text);
        return CpuTimes{*usage * 1000, *user * 1000, *system * 1000, stat.number("nice_usec").value_or(0) * 1000};
    }
    const auto usage = read_u64(dir / "cpuacct.usage", own);
    if (!usage) return std::nullopt;
    const auto user = read_u64(dir / "cpuacct.usage_user", own);
    const auto system = read_u64(dir / "cpuacct.usage_sys", own);
    if (user && system) return CpuTimes{*usage, *user, *system, 0};
    // Kernels before 4.7: cpuacct.stat only, in USER_HZ.
    const auto file = dir / "cpuacct.stat";
    const auto text = read_own(file);
    if (!text) return std::nullopt;
    const KeyValues stat(*text);
    const auto user_ticks = stat.number("user");
    const auto system_ticks = stat.number("system");
    if (!user_ticks || !system_ticks) malformed(file, *text);
    const uint64_t tick_ns = 1'000'000'000 / static_cast<uint64_t>(sysconf(_SC_CLK_TCK));
    return CpuTimes{*usage, *user_ticks * tick_ns, *system_ticks * tick_ns, 0};
}

std::vector<std::pair<std::string, uint64_t>> Cgroup::memory_stat_entries() const {
    std::vector<std::pair<std::string, uint64_t>> entries;
    if (!paths_.memory) return entries;
    const auto text = read_own(paths_.memory->dir() / "memory.stat");
    if (!text) return entries;
    const KeyValues stat(*text);
    for (const auto& [key, value_text] : stat.entries())
        if (const auto value = whole_number<uint64_t>(value_text)) entries.emplace_back(std::string(key), *value);
    return entries;
}

std::optional<std::vector<IoStat>> Cgroup::io_stats() const {
    if (!paths_.blkio) return std::nullopt;
    return detail::read_io_stats(*paths_.blkio, own_reader());
}

std::optional<std::string> Cgroup::pressure(std::string_view resource) const {
    const auto dir = unified_dir(paths_);
    if (!dir) return std::nullopt;
    return read_own(dir->dir() / (std::string(resource) + ".pressure"));
}

int Cgroup::open_pressure_trigger(std::string_view resource, std::string_view trigger) const {
    const auto dir = unified_dir(paths_);
    if (!dir) return -ENOENT;
    const auto file = dir->dir() / (std::string(resource) + ".pressure");
    const int fd = ::open(file.c_str(), O_RDWR | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return -errno;
    // cgroupfs takes the whole write as the trigger's text (no NUL needed, unlike /proc).
    if (::write(fd, trigger.data(), trigger.size()) < 0) {
        const int err = errno;
        ::close(fd);
        return -err;
    }
    return fd;
}

std::optional<CgroupDir> Cgroup::tasks_dir() const {
    const auto unified = unified_dir(paths_);
    for (const auto* dir : {&paths_.pids, &paths_.cpuacct, &paths_.cpu, &paths_.memory, &paths_.cpuset, &paths_.blkio, &unified})
        if (*dir) return *dir;
    return std::nullopt;
}

std::vector<pid_t> Cgroup::threads(size_t max_cgroups) const {
    std::vector<pid_t> tids;
    if (const auto dir = tasks_dir())
        collect_threads(dir->dir(), dir->version == CgroupVersion::v2 ? "cgroup.threads" : "tasks", tids, max_cgroups);
    return tids;
}

// pids.current counts the tasks of the cgroup and of every descendant (it is what
// pids.max limits), so it is the length of threads()' list without the list. On v2 it
// exists where the pids controller is enabled; a hybrid host's unified hierarchy has
// no controllers, and its v1 pids hierarchy has it.
std::optional<uint64_t> Cgroup::thread_count() const {
    const auto dir = paths_.pids ? paths_.pids : unified_dir(paths_);
    if (!dir || dir->relative == "/") return std::nullopt;  // the root has no counter
    return read_u64(dir->dir() / "pids.current", own_reader());
}

}  // namespace ecifs::cgroup
