// The load average of kernel/sched/loadavg.c, one per container, and the task counts
// it is fed with.
#include "emulation/loadavg.hpp"

#include <algorithm>
#include <functional>
#include <optional>
#include <system_error>
#include <vector>

#include <fmt/format.h>

#include "emulation/container.hpp"
#include "sys/files.hpp"
#include "sys/text.hpp"

namespace ecifs::emulation {

using sys::read_file_if_exists;

namespace {

using Clock = LoadAverage::Clock;
constexpr auto fshift = LoadAverage::fshift;
constexpr auto fixed_1 = LoadAverage::fixed_1;

// kernel/sched/loadavg.c's calc_load: a_1 = a_0 * e + a * (1 - e), rounded up while rising.
uint64_t calc_load(uint64_t load, uint64_t exp, uint64_t active) {
    uint64_t newload = load * exp + active * (fixed_1 - exp);
    if (active >= load) newload += fixed_1 - 1;
    return newload / fixed_1;
}

// x^n in fixed point, by squaring (the kernel's fixed_power_int).
uint64_t fixed_power(uint64_t x, uint64_t n) {
    uint64_t result = fixed_1;
    while (n) {
        if (n & 1) result = (result * x + (fixed_1 >> 1)) >> fshift;
        n >>= 1;
        if (n) x = (x * x + (fixed_1 >> 1)) >> fshift;
    }
    return result;
}

// calc_load_n: n periods at once, for the ones no sample saw.
uint64_t calc_load_n(uint64_t load, uint64_t exp, uint64_t active, uint64_t n) {
    return calc_load(load, fixed_power(exp, n), active);
}

// The numbers of /proc/PID/status's NSpid ("NSpid:\t6694\t1"), outermost namespace first;
// none when the line is missing, up to the first that is not a number.
std::vector<pid_t> ns_pids(std::string_view status) {
    std::vector<pid_t> pids;
    const auto value = sys::value_of(status, "NSpid", ':');
    if (!value) return pids;
    for (const auto field : sys::split_fields(*value)) {
        const auto pid = sys::whole_number<pid_t>(field);
        if (!pid) break;
        pids.push_back(*pid);
    }
    return pids;
}

// The state letter of /proc/TID/stat: the first field after the last ')' of comm.
char stat_state(std::string_view stat) {
    const auto paren = stat.rfind(')');
    return paren == std::string_view::npos || paren + 2 >= stat.size() ? '?' : stat[paren + 2];
}

// The state letter of /proc/TID/status ("State:\tR (running)").
char status_state(std::string_view status) {
    const auto value = sys::value_of(status, "State", ':');
    return !value || value->empty() ? '?' : value->front();
}

}  // namespace

void LoadAverage::start(Clock::time_point start) {
    std::lock_guard lock(mutex_);
    if (!next_fold_) next_fold_ = start + period;
}

LoadAverage::Saved LoadAverage::saved() const {
    std::lock_guard lock(mutex_);
    Saved out{avenrun_, 0};
    if (next_fold_) out.next_fold_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                                           next_fold_->time_since_epoch()).count();
    return out;
}

void LoadAverage::on_fold(std::function<void(const Saved&)> saver) {
    std::lock_guard lock(mutex_);
    saver_ = std::move(saver);
}

void LoadAverage::restore(const Saved& saved) {
    std::lock_guard lock(mutex_);
    avenrun_ = saved.avenrun;
    if (saved.next_fold_ns > 0)
        next_fold_ = Clock::time_point(std::chrono::duration_cast<Clock::duration>(std::chrono::nanoseconds(saved.next_fold_ns)));
}

bool LoadAverage::started() const {
    std::lock_guard lock(mutex_);
    return next_fold_.has_value();
}

bool LoadAverage::due(Clock::time_point now) const {
    std::lock_guard lock(mutex_);
    return !next_fold_ || now >= *next_fold_;
}

void LoadAverage::sample(Clock::time_point now, uint64_t active) {
    std::lock_guard lock(mutex_);
    if (!next_fold_) {
        next_fold_ = now + period;
        return;
    }
    if (now < *next_fold_) return;
    // The period that ended, as calc_global_load, then the ones missed since, in bulk,
    // as calc_global_nohz.
    const auto missed = static_cast<uint64_t>((now - *next_fold_) / period);
    for (size_t i = 0; i < avenrun_.size(); ++i) {
        avenrun_[i] = calc_load(avenrun_[i], exp[i], active * fixed_1);
        if (missed) avenrun_[i] = calc_load_n(avenrun_[i], exp[i], active * fixed_1, missed);
    }
    *next_fold_ += period * static_cast<Clock::rep>(missed + 1);
    // Under the lock: two folds racing are kept in their order.
    if (saver_)
        saver_({avenrun_, std::chrono::duration_cast<std::chrono::nanoseconds>(next_fold_->time_since_epoch()).count()});
}

std::array<uint64_t, 3> LoadAverage::averages() const {
    std::lock_guard lock(mutex_);
    return avenrun_;
}

void LoadAverage::note_states(const TaskCounts& counts) {
    std::lock_guard lock(mutex_);
    last_states_ = counts;
}

TaskCounts LoadAverage::last_states() const {
    std::lock_guard lock(mutex_);
    return last_states_;
}

void LoadAverage::note_newest(const Newest& newest) {
    std::lock_guard lock(mutex_);
    newest_ = newest;
}

std::optional<pid_t> LoadAverage::newest(uint64_t total, size_t ns_level, Clock::time_point now) const {
    std::lock_guard lock(mutex_);
    if (!newest_ || newest_->total != total || newest_->ns_level != ns_level) return std::nullopt;
    if (now < newest_->at || now - newest_->at >= newest_ttl) return std::nullopt;
    return newest_->last_pid;
}

std::string LoadAverage::format() const {
    std::string out;
    for (auto load : averages()) {
        load += fixed_1 / 200;  // get_avenrun(avnrun, FIXED_1/200, 0): round to 2 decimals
        const auto frac = ((load & (fixed_1 - 1)) * 100) >> fshift;
        fmt::format_to(std::back_inserter(out), "{}{}.{:02}", out.empty() ? "" : " ", load >> fshift, frac);
    }
    return out;
}

std::array<unsigned long, 3> LoadAverage::sysinfo_loads() const {
    constexpr unsigned si_load_shift = 16;
    std::array<unsigned long, 3> loads{};
    const auto avenrun = averages();
    for (size_t i = 0; i < loads.size(); ++i) loads[i] = static_cast<unsigned long>(avenrun[i] << (si_load_shift - fshift));
    return loads;
}

TaskCounts count_tasks(const Host& host, std::span<const pid_t> tids, pid_t caller, std::optional<size_t> ns_level) {
    TaskCounts counts;
    for (const pid_t tid : tids) {
        std::optional<std::string> text;
        try {
            text = read_file_if_exists(host.proc_root / std::to_string(tid) / (ns_level ? "status" : "stat"));
        } catch (const std::system_error&) {  // exited between open and read (ESRCH)
        }
        if (!text) continue;
        const char state = ns_level ? status_state(*text) : stat_state(*text);
        ++counts.total;
        if (tid == caller || state == 'R') ++counts.running;
        else if (state == 'D') ++counts.uninterruptible;
        if (ns_level) {
            const auto ids = ns_pids(*text);
            if (!ids.empty()) counts.last_pid = std::max(counts.last_pid, ids[std::min(*ns_level, ids.size() - 1)]);
        }
    }
    return counts;
}

namespace {

// The highest host id among `tids` still there, as its id at `ns_level`: a few tries,
// each task may have exited meanwhile. 0 if none answers.
pid_t newest_task(const Host& host, std::vector<pid_t> tids, size_t ns_level) {
    const size_t tries = std::min<size_t>(tids.size(), 8);
    std::partial_sort(tids.begin(), tids.begin() + static_cast<std::ptrdiff_t>(tries), tids.end(), std::greater<>());
    for (size_t i = 0; i < tries; ++i) {
        std::optional<std::string> status;
        try {
            status = read_file_if_exists(host.proc_root / std::to_string(tids[i]) / "status");
        } catch (const std::system_error&) {  // exited between open and read (ESRCH)
        }
        if (!status) continue;
        const auto ids = ns_pids(*status);
        if (!ids.empty()) return ids[std::min(ns_level, ids.size() - 1)];
    }
    return 0;
}

// Whether the comma-separated controller lists `a` and `b` share a name.
bool share_a_controller(std::string_view a, std::string_view b) {
    for (const auto x : sys::split_on(a, ','))
        for (const auto y : sys::split_on(b, ','))
            if (!x.empty() && x == y) return true;
    return false;
}

// "ID:CONTROLLERS:PATH" of /proc/TID/cgroup: whether it is `dir`'s hierarchy and puts
// the thread in `dir` or below.
bool puts_in(std::string_view line, const cgroup::CgroupDir& dir) {
    const auto first = line.find(':');
    const auto second = first == std::string_view::npos ? first : line.find(':', first + 1);
    if (second == std::string_view::npos) return false;
    const auto controllers = line.substr(first + 1, second - first - 1);
    const bool ours = dir.version == cgroup::CgroupVersion::v2
                          ? controllers.empty()  // the unified hierarchy's line: "0::PATH"
                          : share_a_controller(controllers, dir.mount_root.filename().string());
    if (!ours) return false;
    const std::string relative = dir.relative.string();
    const auto path = line.substr(second + 1);
    return relative == "/" || path == relative ||
           (path.size() > relative.size() && path.starts_with(relative) && path[relative.size()] == '/');
}

}  // namespace

bool in_cgroup(const Host& host, pid_t tid, const cgroup::Cgroup& cgroup) {
    const auto dir = cgroup.tasks_dir();
    if (!dir || tid <= 0) return false;
    std::optional<std::string> text;
    try {
        text = read_file_if_exists(host.proc_root / std::to_string(tid) / "cgroup");
    } catch (const std::system_error&) {  // exited meanwhile
    }
    bool inside = false;
    if (text) sys::for_each_line(*text, [&](std::string_view line) { inside = inside || puts_in(line, *dir); });
    return inside;
}

TaskCounts current_tasks(const Container& container, const cgroup::Cgroup& cgroup, pid_t caller,
                         std::optional<size_t> ns_level, Clock::time_point now) {
    std::optional<std::vector<pid_t>> listed;
    auto list = [&]() -> const std::vector<pid_t>& {
        if (!listed) listed = cgroup.threads();
        return *listed;
    };
    const auto sampled = container.load().last_states();
    TaskCounts counts;
    const auto counted = cgroup.thread_count();
    counts.total = counted ? *counted : list().size();
    const bool reading = caller != 0 && in_cgroup(container.host(), caller, cgroup);
    counts.running = std::min<uint64_t>(sampled.running + (reading ? 1 : 0), counts.total);
    counts.uninterruptible = std::min<uint64_t>(sampled.uninterruptible, counts.total - counts.running);
    if (!ns_level) return counts;
    if (const auto kept = container.load().newest(counts.total, *ns_level, now)) {
        counts.last_pid = *kept;
        return counts;
    }
    counts.last_pid = newest_task(container.host(), list(), *ns_level);
    container.load().note_newest({counts.total, *ns_level, counts.last_pid, now});
    return counts;
}

size_t pid_ns_level(const Host& host, pid_t pid) {
    const auto status = host.read_proc(std::to_string(pid) + "/status");
    const auto ids = ns_pids(status);
    return ids.empty() ? 0 : ids.size() - 1;
}

size_t refresh_load(const Container& container, Clock::time_point now, pid_t reader) {
    const auto init = container.init();
    if (!init) return 0;
    auto& load = container.load();
    if (!load.started()) {
        const double age = std::max(0.0, container.host().uptime_seconds() - init->start_seconds);
        load.start(now - std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(age)));
    }
    if (!load.due(now)) return 0;
    auto tids = init->cgroup.threads();
    std::erase(tids, reader);
    const auto counts = count_tasks(container.host(), tids);
    load.note_states(counts);
    load.sample(now, counts.active());
    return tids.size();
}

}  // namespace ecifs::emulation
