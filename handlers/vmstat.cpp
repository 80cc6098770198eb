// /proc/vmstat: the host's counters, the ones the container's memory cgroup also keeps
// replaced by the cgroup's (mm/vmstat.c's vmstat_show: "name value" lines).
//
// An event counter (pgfault, pgmajfault, pgscan_*, pgsteal_*, workingset_*, thp_*,
// ...) that memory.stat has under the same name is taken from it (v1: its hierarchical
// total_<name>), so counters a newer kernel adds to both are scoped with no change here.
// Sizes, which memory.stat keeps in bytes under other names, are listed below. The rest
// (free pages, zone and NUMA counters, allocation counts) stays the host's.
#include <unistd.h>

#include <cerrno>
#include <iterator>
#include <optional>
#include <stdexcept>

#include <fmt/format.h>

#include "emulation/container.hpp"
#include "handlers/families.hpp"
#include "handlers/format.hpp"
#include "handlers/resources.hpp"
#include "sys/text.hpp"

namespace ecifs::handlers {

namespace {

enum class Unit { pages, kb, huge_pages, count };

struct SizeKey {
    std::string_view vmstat, v2, v1;  // v1 empty: v1 has no such figure
    Unit unit;
};

constexpr SizeKey size_keys[] = {
    {"nr_anon_pages", "anon", "total_rss", Unit::pages},
    {"nr_file_pages", "file", "total_cache", Unit::pages},
    {"nr_mapped", "file_mapped", "total_mapped_file", Unit::pages},
    {"nr_dirty", "file_dirty", "total_dirty", Unit::pages},
    {"nr_writeback", "file_writeback", "total_writeback", Unit::pages},
    {"nr_shmem", "shmem", "total_shmem", Unit::pages},
    {"nr_inactive_anon", "inactive_anon", "total_inactive_anon", Unit::pages},
    {"nr_active_anon", "active_anon", "total_active_anon", Unit::pages},
    {"nr_inactive_file", "inactive_file", "total_inactive_file", Unit::pages},
    {"nr_active_file", "active_file", "total_active_file", Unit::pages},
    {"nr_unevictable", "unevictable", "total_unevictable", Unit::pages},
    {"nr_zone_inactive_anon", "inactive_anon", "total_inactive_anon", Unit::pages},
    {"nr_zone_active_anon", "active_anon", "total_active_anon", Unit::pages},
    {"nr_zone_inactive_file", "inactive_file", "total_inactive_file", Unit::pages},
    {"nr_zone_active_file", "active_file", "total_active_file", Unit::pages},
    {"nr_zone_unevictable", "unevictable", "total_unevictable", Unit::pages},
    {"nr_slab_reclaimable", "slab_reclaimable", "", Unit::pages},
    {"nr_slab_unreclaimable", "slab_unreclaimable", "", Unit::pages},
    {"nr_page_table_pages", "pagetables", "", Unit::pages},
    {"nr_sec_page_table_pages", "sec_pagetables", "", Unit::pages},
    {"nr_swapcached", "swapcached", "total_swapcached", Unit::pages},
    {"nr_kernel_stack", "kernel_stack", "", Unit::kb},  // NR_KERNEL_STACK_KB
    {"nr_anon_transparent_hugepages", "anon_thp", "total_rss_huge", Unit::huge_pages},
    {"nr_file_hugepages", "file_thp", "", Unit::huge_pages},
    {"nr_shmem_hugepages", "shmem_thp", "", Unit::huge_pages},
    {"pswpin", "swpin", "", Unit::count},
    {"pswpout", "swpout", "", Unit::count},
};

// HPAGE_PMD_SIZE: a page table page's worth of pages (2 MiB with 4 KiB pages).
constexpr uint64_t huge_page(uint64_t page_size) { return page_size * (page_size / 8); }

std::optional<uint64_t> lookup(const VmstatFigures& f, std::string_view key) {
    for (const auto& [name, value] : f.memory_stat)
        if (name == key) return value;
    return std::nullopt;
}

std::optional<uint64_t> container_value(const VmstatFigures& f, std::string_view key) {
    const bool v1 = f.version == cgroup::CgroupVersion::v1;
    for (const auto& k : size_keys) {
        if (k.vmstat != key) continue;
        const auto value = lookup(f, v1 ? k.v1 : k.v2);
        if (!value || (v1 && k.v1.empty())) return std::nullopt;
        switch (k.unit) {
            case Unit::pages: return *value / f.page_size;
            case Unit::kb: return *value / 1024;
            case Unit::huge_pages: return *value / huge_page(f.page_size);
            case Unit::count: return *value;
        }
    }
    if (key == "nr_zone_write_pending") {  // NR_FILE_DIRTY + NR_WRITEBACK
        const auto dirty = lookup(f, v1 ? "total_dirty" : "file_dirty");
        const auto writeback = lookup(f, v1 ? "total_writeback" : "file_writeback");
        if (!dirty || !writeback) return std::nullopt;
        return (*dirty + *writeback) / f.page_size;
    }
    // pgpgin/pgpgout are kB of block I/O: from the cgroup's I/O figures, never from
    // memory.stat (v1's pgpgin there counts charged pages).
    if (key == "pgpgin" || key == "pgpgout") {
        if (!f.io) return std::nullopt;
        uint64_t bytes = 0;
        for (const auto& d : *f.io) bytes += key == "pgpgin" ? d.rbytes : d.wbytes;
        return bytes / 1024;
    }
    return lookup(f, v1 ? "total_" + std::string(key) : std::string(key));
}

}  // namespace

std::string render_vmstat(std::string_view host, const VmstatFigures& figures) {
    std::string out;
    sys::for_each_line(host, [&](std::string_view line) {
        const auto key = sys::first_field(line);
        if (const auto value = container_value(figures, key))
            fmt::format_to(std::back_inserter(out), "{} {}\n", key, *value);
        else
            fmt::format_to(std::back_inserter(out), "{}\n", line);
    });
    return out;
}

int show_vmstat(const ContainerView& view, std::string& out) {
    const auto& cgroup = view.cgroup;
    if (!cgroup.paths().memory) throw std::runtime_error("the container has no memory cgroup");
    VmstatFigures f;
    f.version = cgroup.paths().memory->version;
    f.memory_stat = cgroup.memory_stat_entries();
    if (f.memory_stat.empty()) throw std::runtime_error("the container's memory.stat is missing or empty");
    f.io = cgroup.io_stats();
    f.page_size = static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
    out = render_vmstat(view.host.read_proc("vmstat"), f);
    return 0;
}

}  // namespace ecifs::handlers
