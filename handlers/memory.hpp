#pragma once
// The memory views: /proc/meminfo computed from the host's file and the container's cgroup.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "cgroup/cgroup.hpp"

namespace ecifs::handlers {

// What the memory views need from the cgroup, in bytes.
struct CgroupMemory {
    std::optional<uint64_t> limit;  // nullopt: no limit at any level
    uint64_t usage = 0;
    std::optional<uint64_t> swap_limit, swap_usage;  // nullopt: no limit / not accounted
    cgroup::MemoryStat stat;
};

// Reads the cgroup's memory figures. Throws std::runtime_error when the memory
// controller or its usage cannot be read (the view must then fail, not show the host's).
CgroupMemory read_cgroup_memory(const cgroup::Cgroup& cgroup);

// The container's /proc/meminfo: every line of `host_meminfo`, the memory figures
// replaced by the cgroup's. Pure: no file is read.
std::string render_meminfo(std::string_view host_meminfo, const CgroupMemory& memory);

}  // namespace ecifs::handlers
