// /proc/stat: the container's CPU times, tasks and start, in the layout of the host's
// file (fs/proc/stat.c's show_stat).
//
// Choices, where the kernel keeps no per-cgroup figure:
// - cpuN: cgroup v2 has no per-CPU times and v1's are per host CPU, also ones a quota
//   hides, so the container's user/nice/system time is split evenly across its visible
//   CPUs; `cpu` is the sum of the cpuN lines, and each line adds up to the elapsed time.
// - intr, ctxt, softirq: 0 (same number of fields as the host's). Interrupts belong to
//   the machine, and a sum over the container's live tasks would go backwards when a
//   task exits, making vmstat's in/cs deltas wrap; 0 is honest and monotonic.
// - processes: the highest pid in the container's pid namespace, which allocates pids
//   from 1: the forks since the container started, for as long as pids do not wrap.
// - No counter ever goes backwards, as none of the kernel's does. The lines are
//   computed, not counted: busy times come from the cgroup, idle is the elapsed time
//   minus them, each read at its own instant and rounded to ticks, so between two reads
//   busy time may grow a tick more than the elapsed time and idle would step back.
//   procps takes a decrease for a CPU brought back online and zeroes every delta of
//   that line (libproc2's stat_derive_unique): vmstat showed a busy second as 100% idle.
//   So each line is kept at or above what the container was last shown, the rise taken
//   back from the counters that grew (the kernel's cputime_adjust keeps prev_cputime
//   for the same reason).
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <iterator>
#include <stdexcept>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "emulation/container.hpp"
#include "handlers/cpu.hpp"
#include "handlers/families.hpp"
#include "handlers/format.hpp"
#include "handlers/resources.hpp"
#include "handlers/uptime.hpp"
#include "sys/text.hpp"

namespace ecifs::handlers {

namespace {

// `total` split across `n` CPUs: CPU k's share, the remainder going to the first ones.
uint64_t share(uint64_t total, size_t k, size_t n) { return total / n + (k < total % n ? 1 : 0); }

uint64_t host_btime(std::string_view host_stat) {
    const auto value = sys::KeyValues(host_stat).text_of("btime");
    if (!value) throw std::runtime_error("the host's /proc/stat has no btime");
    const auto btime = sys::whole_number<uint64_t>(*value);
    if (!btime) throw std::runtime_error("the host's /proc/stat has a malformed btime");
    return *btime;
}

// CPU k's line: its share of each time, busy time capped at the elapsed time.
CpuLine cpu_line(const StatFigures& f, size_t k) {
    const uint64_t tick_ns = 1'000'000'000 / std::max<uint64_t>(f.ticks_per_second, 1);
    const uint64_t elapsed = f.elapsed_ticks;
    const uint64_t user = std::min(share(saturating_sub(f.cpu.user, f.cpu.nice) / tick_ns, k, f.cpus), elapsed);
    const uint64_t nice = std::min(share(f.cpu.nice / tick_ns, k, f.cpus), elapsed - user);
    const uint64_t system = std::min(share(f.cpu.system / tick_ns, k, f.cpus), elapsed - user - nice);
    return {user, nice, system, elapsed - user - nice - system, 0, 0, 0, 0, 0, 0};
}

uint64_t total(const CpuLine& line) {
    uint64_t sum = 0;
    for (const auto counter : line) sum += counter;
    return sum;
}

void put_cpu_line(std::string& out, std::string_view label, const CpuLine& line, size_t fields) {
    out += label;
    for (size_t i = 0; i < fields; ++i) fmt::format_to(std::back_inserter(out), " {}", i < line.size() ? line[i] : 0);
    out += '\n';
}

void put_zeros(std::string& out, std::string_view key, size_t fields) {
    out += key;
    for (size_t i = 0; i < fields; ++i) out += " 0";
    out += '\n';
}

}  // namespace

CpuLine never_below(CpuLine now, const CpuLine& last) {
    const uint64_t line_total = std::max(total(now), total(last));
    for (size_t i = 0; i < now.size(); ++i) now[i] = std::max(now[i], last[i]);
    uint64_t excess = total(now) - line_total;
    for (size_t i = 0; i < now.size() && excess > 0; ++i) {
        const uint64_t take = std::min(excess, now[i] - last[i]);
        now[i] -= take;
        excess -= take;
    }
    return now;
}

std::vector<CpuLine> stat_cpu_lines(const StatFigures& f, std::span<const CpuLine> last) {
    std::vector<CpuLine> cpus;
    for (size_t k = 0; k < std::max<size_t>(f.cpus, 1); ++k) cpus.push_back(cpu_line(f, k));
    // With another number of CPUs the lines are new ones (as after a CPU hotplug).
    if (last.size() == cpus.size())
        for (size_t k = 0; k < cpus.size(); ++k) cpus[k] = never_below(cpus[k], last[k]);
    return cpus;
}

std::string render_stat(std::string_view host_stat, const StatFigures& f, std::span<const CpuLine> cpus) {
    CpuLine sum{};
    for (const auto& line : cpus)
        for (size_t i = 0; i < sum.size(); ++i) sum[i] += line[i];
    std::string out;
    bool cpus_done = false;
    sys::for_each_line(host_stat, [&](std::string_view line) {
        const auto key = sys::first_field(line);
        const auto fields = [&] { return std::max<size_t>(sys::count_fields(line), 1) - 1; };
        if (key == "cpu") {
            put_cpu_line(out, "cpu ", sum, fields());
        } else if (key.starts_with("cpu")) {
            if (std::exchange(cpus_done, true)) return;
            const auto n = fields();
            for (size_t k = 0; k < cpus.size(); ++k) put_cpu_line(out, fmt::format("cpu{}", k), cpus[k], n);
        } else if (key == "intr" || key == "ctxt" || key == "softirq") {
            put_zeros(out, key, fields());
        } else if (key == "btime") {
            fmt::format_to(std::back_inserter(out), "btime {}\n", f.btime);
        } else if (key == "processes") {
            fmt::format_to(std::back_inserter(out), "processes {}\n", f.tasks.last_pid);
        } else if (key == "procs_running") {
            fmt::format_to(std::back_inserter(out), "procs_running {}\n", f.tasks.running);
        } else if (key == "procs_blocked") {
            fmt::format_to(std::back_inserter(out), "procs_blocked {}\n", f.tasks.uninterruptible);
        } else {
            fmt::format_to(std::back_inserter(out), "{}\n", line);
        }
    });
    return out;
}

int show_stat(const ContainerView& view, std::string& out) {
    const auto& host = view.host;
    const auto host_stat = host.read_proc("stat");
    const auto times = view.cgroup.cpu_times();
    if (!times) throw std::runtime_error("the container's cgroup accounts no CPU time");
    StatFigures f;
    f.cpu = *times;
    f.cpus = visible_cpus(view.cgroup, host).size();
    f.ticks_per_second = static_cast<uint64_t>(sysconf(_SC_CLK_TCK));
    f.elapsed_ticks = container_uptime(view, f.ticks_per_second);
    // The host's boot: a process's start time is btime plus its /proc/PID/stat start,
    // which counts from the host's boot (ps's STIME, psutil's create_time).
    f.btime = host_btime(host_stat);
    f.tasks = emulation::current_tasks(view.container, view.cgroup, view.caller, emulation::pid_ns_level(host, view.init.pid));
    const auto cpus = view.container.shown_cpu_lines().advance(
        [&](std::span<const CpuLine> last) { return stat_cpu_lines(f, last); });
    out = render_stat(host_stat, f, cpus);
    return 0;
}

}  // namespace ecifs::handlers
