// /proc/meminfo: the host's file with the memory figures of the container's cgroup
// (fs/proc/meminfo.c's meminfo_proc_show, one cgroup deep).
#include <algorithm>
#include <cerrno>
#include <stdexcept>

#include "emulation/container.hpp"
#include "handlers/families.hpp"
#include "handlers/format.hpp"
#include "handlers/memory.hpp"

namespace ecifs::handlers {

CgroupMemory read_cgroup_memory(const cgroup::Cgroup& cgroup) {
    if (!cgroup.paths().memory) throw std::runtime_error("the container has no memory cgroup");
    auto m = cgroup.memory();  // each file once
    if (!m.usage) throw std::runtime_error("cannot read the memory usage of " + cgroup.paths().memory->dir().string());
    return {m.limit, *m.usage, m.swap_limit, m.swap_usage, m.stat};
}

namespace {

// What a meminfo line can show of `bytes`.
constexpr uint64_t whole_kb(uint64_t bytes) { return bytes / 1024 * 1024; }

}  // namespace

MemoryFigures memory_figures(std::string_view host, const CgroupMemory& m) {
    const auto host_total = kb_field_bytes(host, "MemTotal");
    if (!host_total) throw std::runtime_error("the host's meminfo has no MemTotal");
    const auto host_swap_total = kb_field_bytes(host, "SwapTotal").value_or(0);
    const auto& s = m.stat;

    const auto total = std::min(*host_total, m.limit.value_or(*host_total));
    const auto free = saturating_sub(total, m.usage);
    // Available: the free part of the limit plus the cgroup's page cache (both file LRUs),
    // which reclaim gives back before the cgroup hits its limit; at most the total, so
    // `free` (used = total - available) never shows a negative "used".
    const auto available = std::min(total, free + s.active_file + s.inactive_file);
    // Cached: all file pages, tmpfs/shmem included, as the kernel's own Cached counts
    // Shmem; capped at what is in use so the older `free` (used = total - free - cached
    // - buffers) never goes negative either.
    const auto cached = std::min(s.file, total - free);
    const auto swap_total = std::min(host_swap_total, m.swap_limit.value_or(host_swap_total));
    // Without swap accounting in the cgroup, the host's free swap is the best we know.
    const auto swap_free = m.swap_usage ? saturating_sub(swap_total, *m.swap_usage)
                                        : std::min(swap_total, kb_field_bytes(host, "SwapFree").value_or(0));
    return {whole_kb(total),      whole_kb(free),      whole_kb(available), whole_kb(cached),
            whole_kb(swap_total), whole_kb(swap_free), whole_kb(s.shmem),   0};
}

MemoryFigures container_memory(const ContainerView& view) {
    return memory_figures(view.host.read_proc("meminfo"), read_cgroup_memory(view.cgroup));
}

std::string render_meminfo(std::string_view host, const CgroupMemory& m) {
    const auto f = memory_figures(host, m);
    const auto& s = m.stat;
    const auto slab = s.slab_reclaimable + s.slab_unreclaimable;

    const KbField fields[] = {
        {"MemTotal", f.total},
        {"MemFree", f.free},
        {"MemAvailable", f.available},
        {"Buffers", f.buffers},
        {"Cached", f.cached},
        {"SwapCached", 0},
        {"Active", s.active_anon + s.active_file},
        {"Inactive", s.inactive_anon + s.inactive_file},
        {"Active(anon)", s.active_anon},
        {"Inactive(anon)", s.inactive_anon},
        {"Active(file)", s.active_file},
        {"Inactive(file)", s.inactive_file},
        {"Unevictable", s.unevictable},
        {"SwapTotal", f.swap_total},
        {"SwapFree", f.swap_free},
        {"Dirty", s.file_dirty},
        {"Writeback", s.file_writeback},
        {"AnonPages", s.anon},
        {"Mapped", s.file_mapped},
        {"Shmem", f.shmem},
        {"KReclaimable", s.slab_reclaimable},
        {"Slab", slab},
        {"SReclaimable", s.slab_reclaimable},
        {"SUnreclaim", s.slab_unreclaimable},
    };
    std::string out;
    rewrite_kb_fields(out, host, fields);
    return out;
}

int show_meminfo(const ContainerView& view, std::string& out) {
    out = render_meminfo(view.host.read_proc("meminfo"), read_cgroup_memory(view.cgroup));
    return 0;
}

}  // namespace ecifs::handlers
