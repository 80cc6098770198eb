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

namespace ecifs::handlers {

namespace {

// Seconds to hundredths. Both inputs come in whole hundredths (/proc/uptime's two
// decimals, clock ticks of 1/100 s), so rounding only removes binary fraction noise.
uint64_t centiseconds(double seconds) { return seconds > 0 ? static_cast<uint64_t>(std::llround(seconds * 100)) : 0; }

std::string format_centiseconds(uint64_t cs) { return fmt::format("{}.{:02}", cs / 100, cs % 100); }

}  // namespace

int show_uptime(const ContainerView& view, std::string& out) {
    const auto up = saturating_sub(centiseconds(view.host.uptime_seconds()), centiseconds(view.init.start_seconds));
    // Idle: the time the container's CPUs could have run, less what its cgroup used.
    // Without a CPU accounting figure the whole of it counts as idle.
    const auto cpus = visible_cpus(view.cgroup, view.host).size();
    const auto used = view.cgroup.cpu_usage_ns().value_or(0) / 10'000'000;
    const auto idle = saturating_sub(up * cpus, used);
    out = format_centiseconds(up) + " " + format_centiseconds(idle) + "\n";
    return 0;
}

}  // namespace ecifs::handlers
