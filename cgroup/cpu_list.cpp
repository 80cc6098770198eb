// The kernel's CPU list format ("0-3,6"), parsed and printed.
#include <algorithm>
#include <stdexcept>
#include <string>

#include <fmt/format.h>

#include "cgroup/cgroup.hpp"
#include "sys/text.hpp"

namespace ecifs::cgroup {

using sys::split_on;
using sys::trim;
using sys::whole_number;

CpuList parse_cpu_list(std::string_view text) {
    constexpr int max_cpu = 1 << 16;  // far above the kernel's NR_CPUS; guards "0-999999999"
    CpuList cpus;
    const auto list = trim(text);
    if (list.empty()) return cpus;
    for (const auto item : split_on(list, ',')) {
        const auto dash = item.find('-');
        const auto first = whole_number<int>(item.substr(0, dash));
        const auto last = dash == std::string_view::npos ? first : whole_number<int>(item.substr(dash + 1));
        if (!first || !last || *first < 0 || *first > *last || *last >= max_cpu)
            throw std::invalid_argument(fmt::format("bad CPU list '{}'", list));
        for (int cpu = *first; cpu <= *last; ++cpu) cpus.push_back(cpu);
    }
    std::sort(cpus.begin(), cpus.end());
    cpus.erase(std::unique(cpus.begin(), cpus.end()), cpus.end());
    return cpus;
}

std::string format_cpu_list(const CpuList& cpus) {
    std::string out;
    for (size_t i = 0; i < cpus.size();) {
        size_t end = i + 1;
        while (end < cpus.size() && cpus[end] == cpus[end - 1] + 1) ++end;
        if (!out.empty()) out += ',';
        out += std::to_string(cpus[i]);
        if (end - i > 1) out += fmt::format("-{}", cpus[end - 1]);
        i = end;
    }
    return out;
}

}  // namespace ecifs::cgroup
