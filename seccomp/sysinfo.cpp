#include "seccomp/sysinfo.hpp"

#include <sys/sysinfo.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>

#include "emulation/loadavg.hpp"
#include "handlers/memory.hpp"
#include "handlers/uptime.hpp"
#include "handlers/view.hpp"

namespace ecifs::seccomp {

namespace {

template <typename T>
void put(std::vector<std::byte>& out, std::size_t offset, T value) {
    std::memcpy(out.data() + offset, &value, sizeof value);
}

}  // namespace

SysinfoFigures sysinfo_figures(const handlers::MemoryFigures& memory, double uptime_seconds,
                               std::array<uint64_t, 3> loads, uint64_t tasks) {
    SysinfoFigures f;
    f.totalram = memory.total;
    f.freeram = memory.free;
    f.sharedram = memory.shmem;
    f.bufferram = memory.buffers;
    f.totalswap = memory.swap_total;
    f.freeswap = memory.swap_free;
    // kernel/sys.c do_sysinfo: tv_sec, plus one if any nanoseconds.
    f.uptime = uptime_seconds > 0 ? static_cast<int64_t>(std::ceil(uptime_seconds)) : 0;
    f.loads = loads;
    f.procs = tasks;
    return f;
}

SysinfoFigures container_sysinfo(const emulation::Container& container, pid_t caller) {
    const auto init = container.init();
    if (!init) throw std::runtime_error("the container has not started");
    const handlers::ContainerView view{container, *init, init->cgroup, container.host(), caller};
    // Centiseconds, as /proc/uptime shows them, so both agree.
    const double up = static_cast<double>(handlers::container_uptime(view)) / 100;
    // The container's load average, as its /proc/loadavg shows it: a period the sampler
    // has not folded yet is folded now (the caller, blocked in this call, left out).
    emulation::refresh_load(container, emulation::LoadAverage::Clock::now(), caller);
    const auto loads = container.load().sysinfo_loads();
    // procs: the threads of the container's cgroup and its descendants, as the kernel
    // counts every thread (nr_threads): its task counter, or its task list without one.
    const auto counted = init->cgroup.thread_count();
    const uint64_t procs = counted ? *counted : init->cgroup.threads().size();
    return sysinfo_figures(handlers::container_memory(view), up, {loads[0], loads[1], loads[2]}, procs);
}

std::vector<std::byte> encode_native(const SysinfoFigures& f) {
    struct sysinfo s;
    std::memset(&s, 0, sizeof s);
    s.uptime = static_cast<long>(f.uptime);
    for (int i = 0; i < 3; ++i) s.loads[i] = static_cast<unsigned long>(f.loads[static_cast<std::size_t>(i)]);
    s.totalram = f.totalram;
    s.freeram = f.freeram;
    s.sharedram = f.sharedram;
    s.bufferram = f.bufferram;
    s.totalswap = f.totalswap;
    s.freeswap = f.freeswap;
    s.procs = static_cast<unsigned short>(std::min<uint64_t>(f.procs, 0xffff));
    s.mem_unit = 1;
    std::vector<std::byte> out(sizeof s);
    std::memcpy(out.data(), &s, sizeof s);
    return out;
}

std::vector<std::byte> encode_compat(const SysinfoFigures& f) {
    // include/linux/compat.h struct compat_sysinfo: s32 uptime; u32 loads[3]; u32 totalram,
    // freeram, sharedram, bufferram, totalswap, freeswap; u16 procs, pad; u32 totalhigh,
    // freehigh, mem_unit; char _f[8]: 64 bytes.
    uint64_t mem[6] = {f.totalram, f.freeram, f.sharedram, f.bufferram, f.totalswap, f.freeswap};
    uint32_t mem_unit = 1;
    if ((f.totalram >> 32) || (f.totalswap >> 32)) {
        int bits = 0;
        while (mem_unit < 4096) mem_unit <<= 1, ++bits;
        for (auto& v : mem) v >>= bits;
    }
    std::vector<std::byte> out(64);
    put<int32_t>(out, 0, static_cast<int32_t>(std::min<int64_t>(f.uptime, INT32_MAX)));
    for (std::size_t i = 0; i < 3; ++i) put<uint32_t>(out, 4 + 4 * i, static_cast<uint32_t>(f.loads[i]));
    for (std::size_t i = 0; i < 6; ++i) put<uint32_t>(out, 16 + 4 * i, static_cast<uint32_t>(mem[i]));
    put<uint16_t>(out, 40, static_cast<uint16_t>(std::min<uint64_t>(f.procs, 0xffff)));
    put<uint32_t>(out, 52, mem_unit);
    return out;
}

}  // namespace ecifs::seccomp
