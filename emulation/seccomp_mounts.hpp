#pragma once
// What the trapper decides about mount(2) and umount2(2), as pure functions over the
// call's flags and the caller's /proc/PID/mountinfo (the helper that acts on them is
// emulation/mount_helper.hpp).
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ecifs::emulation::seccomp {

// ---- mount(2) ----------------------------------------------------------------------

// How the kernel reads a mount(2) call (fs/namespace.c path_mount), as far as the
// trapper cares.
enum class MountKind {
    kernel,   // remount, recursive bind, propagation change: the kernel decides alone
    new_fs,   // a new filesystem (its type decides whether views go on it)
    bind,     // a non-recursive bind: may copy a proc or sysfs without the views on it
    move,     // MS_MOVE: may move a view away
};
MountKind mount_kind(uint64_t flags);
// Flags without the old MS_MGC_VAL magic in the upper half, as the kernel drops it.
uint64_t strip_magic(uint64_t flags);

// The filesystems that carry views: "proc" and "sysfs".
bool carries_views_type(std::string_view fstype);
// The views of one such filesystem: for every entry of `view_paths` (registry paths such
// as "proc/meminfo") under its top directory, the path below the mount ("meminfo").
std::vector<std::string> views_below(std::string_view fstype, std::span<const std::string_view> view_paths);

// A new mount(2) as fsopen/fsconfig/fsmount calls: the filesystem options of `data`
// (comma-separated "key=value" or "flag", as the kernel's generic_parse_monolithic splits
// them), the superblock flags as fsconfig flag names, and the MOUNT_ATTR_* of the mount.
struct NewMount {
    std::vector<std::pair<std::string, std::optional<std::string>>> options;
    std::vector<std::string> sb_flags;  // "ro", "sync", "dirsync", "lazytime", "mand"
    uint64_t attributes = 0;            // MOUNT_ATTR_*
    bool read_only = false;
};
NewMount translate_new_mount(uint64_t flags, std::string_view data);

// ---- mountinfo ---------------------------------------------------------------------

struct MountEntry {
    uint64_t id = 0, parent = 0;
    std::string root;         // the mount's root inside its filesystem
    std::string mount_point;  // relative to the reader's root
    std::string fstype, source;
};
// /proc/PID/mountinfo, octal escapes (\040) undone; malformed lines are skipped.
std::vector<MountEntry> parse_mountinfo(std::string_view text);

// An ecifs view: a bind of the daemon's FUSE filesystem.
bool is_view(const MountEntry& entry);

// What a call on a path must get, given the mount `mount_id` the path resolved to.
enum class Verdict { kernel_decides, busy, locked };

// umount2: a view, or a proc/sysfs with a view anywhere below it, is busy (EBUSY);
// anything else the kernel decides. Only a mount's root can be unmounted: elsewhere the
// kernel's own EINVAL comes anyway.
Verdict classify_umount(std::span<const MountEntry> mounts, uint64_t mount_id, bool is_mount_root);
// MS_MOVE of the same: refused as the kernel refuses a locked mount (EINVAL).
Verdict classify_move(std::span<const MountEntry> mounts, uint64_t mount_id, bool is_mount_root);
// A non-recursive bind of a path inside a proc/sysfs mount with a view at or below that
// path (`path` relative to the same root as the mount points) would copy the filesystem
// without its views: refused as the kernel refuses a bind of a tree with locked mounts
// below it (EINVAL). Recursive binds copy the views along and are the kernel's.
Verdict classify_bind(std::span<const MountEntry> mounts, uint64_t mount_id, std::string_view path);

}  // namespace ecifs::emulation::seccomp
