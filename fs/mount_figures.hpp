#pragma once
// A mount's request figures by the path the container sees ("/proc/meminfo",
// "/proc/sys/kernel/panic"), for `ecifsctl stats`.
#include <string>
#include <vector>

#include "fs/operations.hpp"
#include "fs/request_stats.hpp"

namespace ecifs::fs {

struct ViewFigures {
    std::string path;  // "(inode N)": a run-time inode forgotten since; "(other files)": past the cap
    RequestKind kind;
    RequestFigures figures;
};

std::vector<ViewFigures> view_figures(const MountState& state);

}  // namespace ecifs::fs
