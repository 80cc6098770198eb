// /proc/uptime: time since the container's init started, and the idle time of the
// container's CPUs ("%lu.%02lu %lu.%02lu\n", truncated like fs/proc/uptime.c).
#include <algorithm>
#include <cerrno>
#include <cmath>

#include <fmt/format.h>

#include "emulation/container.hpp"
#include "handlers/cpu.hpp"
#include "handlers/families.hpp"
#include "handlers/format.hpp"
#include "handlers/uptime.hpp"

namespace ecifs::handlers {

namespace {

// Seconds to units of 1/per_second s. The inputs come in whole hundredths (/proc/uptime's
// two decimals, clock ticks of 1/100 s), so rounding only removes binary fraction noise.
uint64_t units(double seconds, uint64_t per_second) {
    return seconds > 0 ? static_cast<uint64_t>(std::llround(seconds * static_cast<double>(per_second))) : 0;
}

std::string format_centiseconds(uint64_t cs) { return fmt::format("{}.{:02}", cs / 100, cs % 100); }

}  // namespace

uint64_t container_uptime(const ContainerView& view, uint64_t per_second) {
    return saturating_sub(units(view.host.uptime_seconds(), per_second), units(view.init.start_seconds, per_second));
}

int show_uptime(const ContainerView& view, std::string& out) {
    const auto up = container_uptime(view);  // centiseconds
    // Idle: the time the container's CPUs could have run, less what its cgroup used.
    // Without a CPU accounting figure the whole of it counts as idle.
    const auto cpus = visible_cpus(view.cgroup, view.host).size();
    const auto used = view.cgroup.cpu_usage_ns().value_or(0) / 10'000'000;
    const auto idle = saturating_sub(up * cpus, used);
    out = format_centiseconds(up) + " " + format_centiseconds(idle) + "\n";
    return 0;
}

}  // namespace ecifs::handlers
