// The registry: every view, one row each. Adding a view is one row here and one show
// function in its family's file. The row's path is the file's (or subtree's) place in
// the mount, where the container gets it and the name its errors are logged under; the
// file, subtree and mount tables are derived from the rows, in their order.
#include <optional>
#include <vector>

#include "handlers/families.hpp"
#include "handlers/host_mirror.hpp"

namespace ecifs::handlers {

namespace {

// A file of the kernel's, rendered from the started container's view.
ViewRow file(std::string_view path, mode_t mode, Show show) { return {path, {path, mode, show}}; }

// The container's own value: its root's to read (and write), unlike the kernel's files.
ViewRow own_file(std::string_view path, mode_t mode, Generator generate, Writer write = nullptr) {
    return {path, {path, mode, nullptr, generate, write, Owner::container_root}};
}

ViewRow subtree(std::string_view path, const Subtree& tree) { return {path, {path, 0}, &tree}; }

// /sys/kernel: the host's, read-only; what would expose or control the host kernel
// (LSM state, debugfs, tracefs, configfs) shows as empty directories.
const HostMirror sys_kernel("/sys/kernel", {"security", "debug", "tracing", "config"});

const ViewRow views[] = {
    file("proc/meminfo", 0444, show_meminfo),
    file("proc/uptime", 0444, show_uptime),
    own_file("sys/module/nf_conntrack/parameters/hashsize", 0600, show_conntrack_hashsize, write_conntrack_hashsize),
    own_file("sys/devices/virtual/dmi/id/product_uuid", 0400, show_product_uuid),
    subtree("proc/sys", proc_sys()),
    subtree("sys/kernel", sys_kernel),
    file("proc/cpuinfo", 0444, show_cpuinfo),
    file("proc/stat", 0444, show_stat),
    file("proc/loadavg", 0444, show_loadavg),
    file("proc/swaps", 0444, show_swaps),
    file("proc/diskstats", 0444, show_diskstats),
    file("proc/vmstat", 0444, show_vmstat),
    subtree("proc/pressure", proc_pressure()),  // placed only where the host has it (PSI)
    subtree("sys/devices/system/cpu", sys_cpu()),
    subtree("sys/devices/system/node", sys_node()),  // placed only where the host has NUMA nodes
    // Not /proc/slabinfo: the kernel's own is mode 0400, which a user-namespaced root
    // cannot open, and cgroups keep no per-cache figures to show instead.
};

template <typename T, typename Pick>
std::vector<T> derived(Pick pick) {
    std::vector<T> out;
    for (const auto& row : views)
        if (auto item = pick(row)) out.push_back(*item);
    return out;
}

}  // namespace

std::span<const ViewRow> view_table() { return views; }

std::span<const FileEntry> file_table() {
    static const auto files = derived<FileEntry>(
        [](const ViewRow& row) { return row.subtree ? nullptr : &row.file; });
    return files;
}

std::span<const SubtreeEntry> subtree_table() {
    static const auto subtrees = derived<SubtreeEntry>(
        [](const ViewRow& row) { return row.subtree ? std::optional<SubtreeEntry>({row.path, row.subtree}) : std::nullopt; });
    return subtrees;
}

std::span<const std::string_view> view_mounts() {
    static const auto mounts = derived<std::string_view>([](const ViewRow& row) { return &row.path; });
    return mounts;
}

}  // namespace ecifs::handlers
