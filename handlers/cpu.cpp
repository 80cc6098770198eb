// The host CPUs a container sees (handlers/cpu.hpp).
#include "handlers/cpu.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

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

}  // namespace ecifs::handlers
