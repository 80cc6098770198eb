#pragma once
// The resource views' pure parts: each renders one file from the host's own text and
// the container's figures, reading nothing itself, so tests call them directly.
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cgroup/cgroup.hpp"
#include "emulation/loadavg.hpp"
#include "emulation/shown_counters.hpp"

namespace ecifs::handlers {

// /proc/cpuinfo: the host's blocks of the `visible` host CPUs, in that order, numbered
// 0..n-1. Per package (physical id): `siblings` counts its visible CPUs, `cpu cores` its
// distinct visible cores, and `core id` is renumbered 0.. in order of appearance.
// apicid and initial apicid stay the host's: they are what CPUID says inside too.
// Throws std::runtime_error when a visible CPU has no block.
std::string render_cpuinfo(std::string_view host_cpuinfo, const cgroup::CpuList& visible);

// What /proc/stat shows of a container.
struct StatFigures {
    cgroup::CpuTimes cpu;        // nanoseconds since the cgroup was created
    size_t cpus = 1;                // visible CPUs
    uint64_t elapsed_ticks = 0;     // the container's age, in USER_HZ
    uint64_t ticks_per_second = 100;  // USER_HZ
    uint64_t btime = 0;             // the host's boot, seconds since the epoch
    emulation::TaskCounts tasks;    // with last_pid
};
// One cpu line of /proc/stat: user, nice, system, idle, iowait, irq, softirq, steal,
// guest, guest_nice, in USER_HZ ticks.
using CpuLine = emulation::ShownCounters::Line;
// `now` with every counter raised to at least its value in `last`, the line's total kept
// at the larger of their totals: the rise is taken back from the counters that grew,
// the first ones first (busy time then waits for the elapsed time to catch up).
CpuLine never_below(CpuLine now, const CpuLine& last);
// One line per visible CPU: the container's times split evenly (the first CPUs take the
// remainder ticks), each line's busy time capped at the elapsed time and idle the rest
// of it; then each kept at or above its line in `last` (the lines shown before) when
// there are as many.
std::vector<CpuLine> stat_cpu_lines(const StatFigures& figures, std::span<const CpuLine> last = {});
// /proc/stat from the host's file: a `cpu` line, the sum of the `cpuN` lines `cpus`;
// intr, ctxt and softirq zero (the kernel counts them per machine only); btime the
// host's boot; processes, procs_running and procs_blocked the container's. Other lines, and the
// number of fields of each, are the host's.
std::string render_stat(std::string_view host_stat, const StatFigures& figures, std::span<const CpuLine> cpus);

// /proc/loadavg: "1.00 0.50 0.20 running/total last_pid".
std::string render_loadavg(const emulation::LoadAverage& load, const emulation::TaskCounts& tasks);

// /proc/swaps: the host's header, then (with swap) one line in the kernel's layout named
// and typed as the host's first swap area, with the container's size and use in kB.
std::string render_swaps(std::string_view host_swaps, uint64_t total_bytes, uint64_t used_bytes);

// /proc/diskstats: every line of the host's file, its counters replaced by the
// container's I/O on that device (reads, sectors read, writes, sectors written,
// discards, sectors discarded); every other counter, and every device the container
// never used (partitions included: the cgroup counts per disk), is 0.
std::string render_diskstats(std::string_view host_diskstats, const std::vector<cgroup::IoStat>& io);

// /proc/vmstat: the host's lines, those memory.stat also has replaced by the
// cgroup's (sizes in pages as vmstat has them; v1 from its hierarchical total_* keys),
// pgpgin/pgpgout from the cgroup's I/O when known.
struct VmstatFigures {
    cgroup::CgroupVersion version = cgroup::CgroupVersion::v2;
    std::vector<std::pair<std::string, uint64_t>> memory_stat;  // Cgroup::memory_stat_entries
    std::optional<std::vector<cgroup::IoStat>> io;
    uint64_t page_size = 4096;
};
std::string render_vmstat(std::string_view host_vmstat, const VmstatFigures& figures);

// The CPU ids of a kernel CPU list ("0,4") or mask ("11") of host CPUs, as the
// container numbers them: the visible ones renumbered, the others dropped.
std::string renumber_cpu_list(std::string_view host_list, const cgroup::CpuList& visible);
std::string renumber_cpu_mask(std::string_view host_mask, const cgroup::CpuList& visible);

}  // namespace ecifs::handlers
