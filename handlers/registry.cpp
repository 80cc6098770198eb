// The path table: every emulated file, one row each. Adding a view is one row here and
// one generator in its family's file.
#include "handlers/families.hpp"
#include "handlers/host_mirror.hpp"

namespace ecifs::handlers {

namespace {

constexpr FileEntry files[] = {
    {"proc/meminfo", 0444, show_meminfo},
    {"proc/uptime", 0444, show_uptime},
    // The container's own values: its root's to read (and write), unlike the kernel's.
    {"sys/module/nf_conntrack/parameters/hashsize", 0600, show_conntrack_hashsize, write_conntrack_hashsize,
     Owner::container_root},
    {"sys/devices/virtual/dmi/id/product_uuid", 0400, show_product_uuid, nullptr, Owner::container_root},
    {"proc/cpuinfo", 0444, show_cpuinfo},
    {"proc/stat", 0444, show_stat},
    {"proc/loadavg", 0444, show_loadavg},
    {"proc/swaps", 0444, show_swaps},
    {"proc/diskstats", 0444, show_diskstats},
    {"proc/vmstat", 0444, show_vmstat},
};

constexpr std::string_view mounts[] = {
    "proc/meminfo",
    "proc/uptime",
    "sys/module/nf_conntrack/parameters/hashsize",
    "sys/devices/virtual/dmi/id/product_uuid",
    "proc/sys",
    "sys/kernel",
    "proc/cpuinfo",
    "proc/stat",
    "proc/loadavg",
    "proc/swaps",
    "proc/diskstats",
    "proc/vmstat",
    "proc/pressure",  // placed only where the host has it (PSI)
    "sys/devices/system/cpu",
    "sys/devices/system/node",  // placed only where the host has NUMA nodes
    // Not /proc/slabinfo: the kernel's own is mode 0400, which a user-namespaced root
    // cannot open, and cgroups keep no per-cache figures to show instead.
};

// /sys/kernel: the host's, read-only; what would expose or control the host kernel
// (LSM state, debugfs, tracefs, configfs) shows as empty directories.
const HostMirror sys_kernel("/sys/kernel", {"security", "debug", "tracing", "config"});

const SubtreeEntry subtrees[] = {
    {"proc/sys", &proc_sys()},
    {"sys/kernel", &sys_kernel},
    {"proc/pressure", &proc_pressure()},
    {"sys/devices/system/cpu", &sys_cpu()},
    {"sys/devices/system/node", &sys_node()},
};

}  // namespace

std::span<const FileEntry> file_table() { return files; }
std::span<const SubtreeEntry> subtree_table() { return subtrees; }
std::span<const std::string_view> view_mounts() { return mounts; }

}  // namespace ecifs::handlers
