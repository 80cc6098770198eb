#pragma once
// A mount's request figures by the path the container sees ("/proc/meminfo",
// "/proc/sys/kernel/panic"), for `ecifsctl stats`.
#include <string>
#include <vector>

#include "fs/operations.hpp"
#include "fs/request_stats.hpp"

namespace ecifs::fs {

struct MountFigures {
    // "(other files)": the files past RequestStats::max_files, together.
    std::vector<std::pair<std::string, FileCounts>> files;
    std::array<LatencyHistogram, request_kinds> latency;  // by kind
};

MountFigures mount_figures(const MountState& state);

}  // namespace ecifs::fs
