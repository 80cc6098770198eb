// /proc/swaps: the container's swap, the figures /proc/meminfo's SwapTotal and SwapFree show
// (mm/swapfile.c's swap_show).
#include <algorithm>
#include <cerrno>
#include <iterator>
#include <stdexcept>
#include <vector>

#include <fmt/format.h>

#include "emulation/container.hpp"
#include "handlers/families.hpp"
#include "handlers/format.hpp"
#include "handlers/memory.hpp"
#include "handlers/resources.hpp"
#include "sys/text.hpp"

namespace ecifs::handlers {

std::string render_swaps(std::string_view host_swaps, uint64_t total_bytes, uint64_t used_bytes) {
    std::vector<std::string_view> lines;
    sys::for_each_line(host_swaps, [&](std::string_view line) { lines.push_back(line); });
    std::string out(lines.empty() ? std::string_view{} : lines[0]);
    out += '\n';
    if (total_bytes < 1024) return out;
    // The host's first area lends its name, type and priority (if it lists none: "none").
    auto first = lines.size() > 1 ? sys::split_fields(lines[1]) : std::vector<std::string_view>{};
    if (first.size() < 5) first = {"none", "partition", "", "", "-1"};
    const uint64_t size = total_bytes / 1024, used = std::min(used_bytes, total_bytes) / 1024;
    const auto name = first[0];
    const int pad = name.size() < 40 ? 40 - static_cast<int>(name.size()) : 1;
    fmt::format_to(std::back_inserter(out), "{}{:>{}}{}\t{}\t{}{}\t{}{}\n", name, " ", pad,
                   first[1] == "partition" ? "partition" : "file\t", size, size < 10000000 ? "\t" : "", used,
                   used < 10000000 ? "\t" : "", first[4]);
    return out;
}

int show_swaps(const ContainerView& view, std::string& out) {
    // The figures of the container's /proc/meminfo, so the two files always agree.
    const auto memory = container_memory(view);
    out = render_swaps(view.host.read_proc("swaps"), memory.swap_total, saturating_sub(memory.swap_total, memory.swap_free));
    return 0;
}

}  // namespace ecifs::handlers
