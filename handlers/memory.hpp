#pragma once
// The memory views: the container's memory figures, computed once from the host's
// /proc/meminfo and the container's cgroup, which /proc/meminfo, /proc/swaps and
// sysinfo(2) each format.
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

// The container's memory as its /proc/meminfo shows it, in bytes, each a whole number
// of kB (what the file can show, so every view of a figure agrees to the byte).
struct MemoryFigures {
    uint64_t total = 0, free = 0, available = 0, cached = 0;
    uint64_t swap_total = 0, swap_free = 0;
    uint64_t shmem = 0;
    uint64_t buffers = 0;  // the kernel's are block-device pages, which a cgroup does not count
};

// The figures from the host's meminfo and the cgroup's. Pure. Throws
// std::runtime_error when the host's meminfo has no MemTotal.
MemoryFigures memory_figures(std::string_view host_meminfo, const CgroupMemory& memory);

struct ContainerView;
// The started container's figures now. Throws std::runtime_error (see read_cgroup_memory).
MemoryFigures container_memory(const ContainerView& view);

// The container's /proc/meminfo: every line of `host_meminfo`, the memory figures
// replaced by the cgroup's. Pure: no file is read.
std::string render_meminfo(std::string_view host_meminfo, const CgroupMemory& memory);

}  // namespace ecifs::handlers
