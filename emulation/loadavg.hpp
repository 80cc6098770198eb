#pragma once
// A container's load average, computed as kernel/sched/loadavg.c computes the machine's:
// every LOAD_FREQ (5 s) the number of active tasks (runnable + uninterruptible) is folded
// into three exponentially decaying averages kept in fixed point with FSHIFT bits, and
// periods that passed without a fold are caught up in bulk (calc_load_n), so a late
// sample never skews the decay. /proc/loadavg and sysinfo(2) read the same numbers.
#include <sys/types.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <span>
#include <string>

#include "cgroup/cgroup.hpp"

namespace ecifs::emulation {

struct Host;
class Container;

// The tasks of a container, counted from the host's /proc/TID/stat (or status).
struct TaskCounts {
    uint64_t running = 0;          // state R
    uint64_t uninterruptible = 0;  // state D
    uint64_t total = 0;            // threads that still exist
    pid_t last_pid = 0;            // highest id in the container's pid namespace (0 unless asked)

    uint64_t active() const { return running + uninterruptible; }
};

class LoadAverage {
public:
    using Clock = std::chrono::steady_clock;
    static constexpr unsigned fshift = 11;  // FSHIFT
    static constexpr uint64_t fixed_1 = uint64_t{1} << fshift;
    static constexpr std::array<uint64_t, 3> exp = {1884, 2014, 2037};  // EXP_1, EXP_5, EXP_15
    static constexpr Clock::duration period = std::chrono::seconds(5);  // LOAD_FREQ

    // The averages start at 0 at `start` (the container's start), as the kernel's at boot.
    void start(Clock::time_point start);
    bool started() const;
    // Whether a period has ended since the last fold (a sample would change the averages).
    bool due(Clock::time_point now) const;
    // Folds `active` tasks into the averages once for every period ended by `now`;
    // nothing when none has. Starts the clock at `now` if start() was never called.
    void sample(Clock::time_point now, uint64_t active);

    // avenrun[]: fixed point with FSHIFT fractional bits.
    std::array<uint64_t, 3> averages() const;
    // "0.52 0.58 0.59": /proc/loadavg's first three fields (rounded as get_avenrun's
    // FIXED_1/200 offset does).
    std::string format() const;
    // The loads of struct sysinfo, with SI_LOAD_SHIFT (16) fractional bits.
    std::array<unsigned long, 3> sysinfo_loads() const;

    // The task states a sample counted (the sampler's last pass), kept so that a read
    // of /proc/stat or /proc/loadavg need not read every task's state again.
    void note_states(const TaskCounts& counts);
    TaskCounts last_states() const;

    // The newest task's id at a pid-namespace depth, as a read worked it out from the
    // cgroup's task list, with the task count it was worked out at (current_tasks).
    struct Newest {
        uint64_t total = 0;
        size_t ns_level = 0;
        pid_t last_pid = 0;
        Clock::time_point at{};
    };
    static constexpr Clock::duration newest_ttl = std::chrono::seconds(1);
    void note_newest(const Newest& newest);
    // The last noted id, if it was worked out at `total` tasks and `ns_level` less than
    // newest_ttl before `now`.
    std::optional<pid_t> newest(uint64_t total, size_t ns_level, Clock::time_point now) const;

    // What a restarted daemon needs to go on where this one stopped (docs/restart.md):
    // the averages and the end of the current period, on the monotonic clock, which is
    // the machine's and the same in every process. next_fold_ns 0: not started.
    struct Saved {
        std::array<uint64_t, 3> avenrun{};
        int64_t next_fold_ns = 0;
    };
    Saved saved() const;
    void restore(const Saved& saved);
    // Called after every fold, with what saved() then gives (under the averages' lock:
    // it must not call back into this object).
    void on_fold(std::function<void(const Saved&)> saver);

private:
    mutable std::mutex mutex_;
    std::optional<Clock::time_point> next_fold_;  // end of the current period
    std::array<uint64_t, 3> avenrun_{};
    std::function<void(const Saved&)> saver_;
    TaskCounts last_states_;
    std::optional<Newest> newest_;
};

// Counts `tids` by state. `caller`, a thread blocked in our FUSE request (state D),
// counts as running, as the kernel's reader is while it renders. With `ns_level` the
// ids are read from /proc/TID/status's NSpid at that depth (0 = the host's) and the
// highest becomes last_pid. Threads gone meanwhile are skipped.
TaskCounts count_tasks(const Host& host, std::span<const pid_t> tids, pid_t caller = 0,
                       std::optional<size_t> ns_level = std::nullopt);

// The counts a read of /proc/stat or /proc/loadavg shows, at a cost that does not grow
// with the number of tasks (issue 14):
//  - total: the cgroup's task counter (pids.current; the task list where there is none);
//  - running and blocked: the states the sampler last counted (at most a period old,
//    where the kernel's are of the moment), with `caller`, reading, as running if it is
//    one of the cgroup's tasks (it may be counted twice if it was running at the last
//    sample: capped at total);
//  - with `ns_level`, last_pid: the newest task's id at that depth, the newest being the
//    highest host id still there (ids are handed out rising in every namespace, until
//    they wrap). It is worked out from the task list, and reused while the count stays
//    the same, for at most LoadAverage::newest_ttl: a container whose tasks come and go
//    pays the list, one whose tasks stay (however many) does not.
TaskCounts current_tasks(const Container& container, const cgroup::Cgroup& cgroup, pid_t caller,
                         std::optional<size_t> ns_level, LoadAverage::Clock::time_point now = LoadAverage::Clock::now());

// Whether thread `tid` is in `cgroup` or one of its descendants, by its
// /proc/TID/cgroup line for the hierarchy the cgroup's tasks are counted in.
bool in_cgroup(const Host& host, pid_t tid, const cgroup::Cgroup& cgroup);

// The depth of a process's innermost pid namespace: fields of its NSpid line - 1.
size_t pid_ns_level(const Host& host, pid_t pid);

// Samples the container's load if a period has ended: counts its tasks and folds them.
// A container seen for the first time is started at its init's start, so the averages
// are right from the first read. Used by the daemon's sampler and by /proc/loadavg.
// `reader`, a thread of the container reading one of our files when this runs, is left
// out: the fold happens because it reads, so it would be counted at every such fold.
// Returns the number of threads counted (0 when no period had ended).
size_t refresh_load(const Container& container, LoadAverage::Clock::time_point now, pid_t reader = 0);

}  // namespace ecifs::emulation
