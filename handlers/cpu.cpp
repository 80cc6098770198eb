// /sys/devices/system/cpu/online: the container's CPUs, renumbered from 0.
#include "handlers/cpu.hpp"

#include <cerrno>
#include <cmath>
#include <numeric>
#include <stdexcept>

#include "emulation/container.hpp"
#include "handlers/families.hpp"
#include "handlers/format.hpp"

namespace ecifs::handlers {

cgroup::CpuList visible_cpus(const cgroup::Cgroup& cgroup, const emulation::Host& host) {
    auto cpus = cgroup.cpuset().value_or(cgroup::CpuList{});
    if (cpus.empty()) cpus = host.online_cpus();
    if (cpus.empty()) throw std::runtime_error("the host has no online CPU");
    if (const auto quota = cgroup.cpu_quota()) {
        // 1.5 CPUs of bandwidth keep 2 CPUs busy at most; the tolerance absorbs
        // quota/period rounding (300000/100000 must stay 3).
        const auto n = static_cast<size_t>(std::max(1.0, std::ceil(*quota - 1e-9)));
        if (n < cpus.size()) cpus.resize(n);
    }
    return cpus;
}

int show_cpu_online(const ContainerView& view, std::string& out) {
    cgroup::CpuList renumbered(visible_cpus(view.cgroup, view.host).size());
    std::iota(renumbered.begin(), renumbered.end(), 0);
    out = cgroup::format_cpu_list(renumbered) + "\n";
    return 0;
}

}  // namespace ecifs::handlers
