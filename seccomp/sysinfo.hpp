#pragma once
// sysinfo(2) for a container: the memory figures its /proc/meminfo shows
// (handlers/memory.hpp), the uptime its /proc/uptime shows, the load averages of its /proc/loadavg
// (emulation/loadavg.hpp) and its threads, laid out as the caller's struct sysinfo.
#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "emulation/container.hpp"
#include "handlers/memory.hpp"

namespace ecifs::seccomp {

struct SysinfoFigures {
    int64_t uptime = 0;                 // seconds
    std::array<uint64_t, 3> loads{};    // 1, 5, 15 minutes, scaled by 1 << SI_LOAD_SHIFT (65536)
    uint64_t totalram = 0, freeram = 0, sharedram = 0, bufferram = 0;  // bytes
    uint64_t totalswap = 0, freeswap = 0;
    uint64_t procs = 0;                 // tasks (threads), as the kernel counts nr_threads
};

// From the container's memory figures (its meminfo's MemTotal, MemFree, Shmem, Buffers,
// SwapTotal, SwapFree, as the kernel's si_meminfo/si_swapinfo fill sysinfo) and the
// other figures. Uptime rounds up, as the kernel's does.
SysinfoFigures sysinfo_figures(const handlers::MemoryFigures& memory, double uptime_seconds,
                               std::array<uint64_t, 3> loads, uint64_t tasks);

// The container's figures now, for `caller` (a thread of the container, blocked in the
// call). Throws std::runtime_error (not started, cgroup unreadable).
SysinfoFigures container_sysinfo(const emulation::Container& container, pid_t caller = 0);

// struct sysinfo as a 64-bit process sees it (mem_unit 1, values in bytes).
std::vector<std::byte> encode_native(const SysinfoFigures& figures);
// struct compat_sysinfo of a 32-bit process: 32-bit fields; when memory or swap does not
// fit, mem_unit grows to the page size, as the kernel's compat_sys_sysinfo does.
std::vector<std::byte> encode_compat(const SysinfoFigures& figures);

}  // namespace ecifs::seccomp
