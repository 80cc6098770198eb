#pragma once
// What the trapper decides about mount(2) and umount2(2), as pure functions over the
// call's flags and the caller's /proc/PID/mountinfo (the helper that acts on them is
// seccomp/mount_helper.hpp).
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ecifs::seccomp {

// ---- mount(2) ----------------------------------------------------------------------

// How the kernel reads a mount(2) call (fs/namespace.c path_mount), as far as the
// trapper cares.
enum class MountKind {
    kernel,   // remount, propagation change: the kernel decides alone
    new_fs,   // a new filesystem (its type decides whether views go on it)
    bind,     // a bind, recursive or not: may copy a proc/sysfs or a view
    move,     // MS_MOVE: may move a view away
};
MountKind mount_kind(uint64_t flags);
// Flags without the old MS_MGC_VAL magic in the upper half, as the kernel drops it.
uint64_t strip_magic(uint64_t flags);

// The filesystems that carry views: "proc" and "sysfs".
bool carries_views_type(std::string_view fstype);

// N of a path that names one of the caller's descriptors through its own procfs,
// /proc/self/fd/N or /proc/thread-self/fd/N: runc mounts a procfs on the target it opened
// that way, systemd binds onto one. nullopt for any other path, also one that goes on
// past the descriptor: the helper follows that one magic link as host root, before it
// becomes the caller, and must look up nothing of the container's beyond it.
std::optional<int> caller_fd_named(std::string_view path);
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

// ---- the runtime's masks -------------------------------------------------------------

// One of the OCI config's linux.maskedPaths (a file gets /dev/null bound over it, a
// directory a read-only tmpfs) or linux.readonlyPaths (bound read-only onto itself).
struct Mask {
    std::string path;  // absolute in the container ("/proc/kcore"); relative to a mount's root in masks_below
    bool read_only_path = false;  // readonlyPaths; else maskedPaths
    bool operator==(const Mask&) const = default;
};
// The rows runc applies, in its order (readonlyPaths, then maskedPaths), without the
// readonlyPaths that are a view's destination: the shim drops those from config.json,
// so the view stays writable (oci_config.hpp).
std::vector<Mask> runtime_masks(std::span<const std::string> masked, std::span<const std::string> read_only,
                                std::span<const std::string_view> view_paths);
// The masks on a proc or sysfs mount whose root is `fs_path` inside that filesystem ("/"
// for a whole procfs, "/bus" for a bind of /proc/bus), relative to its root, in order.
std::vector<Mask> masks_below(std::span<const Mask> masks, std::string_view fstype, std::string_view fs_path);

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

// A mount the container made through the trapper, in the mount namespace in question:
// the root of a new proc/sysfs or copy (`dressing_of` 0), or a view or mask ecifs placed
// on such a root (`dressing_of` its id). Mount ids are global and not reused while the
// mount exists; the daemon keeps the namespace alive while it remembers ids in it
// (seccomp/own_mounts.hpp).
struct OwnMount {
    uint64_t id = 0;
    uint64_t dressing_of = 0;
    bool operator==(const OwnMount&) const = default;
};

// What a call on a path must get, given the mount `mount_id` the path resolved to.
enum class Verdict {
    kernel_decides,
    busy,            // EBUSY: a view, or a proc/sysfs carrying views, the container did not make
    locked,          // EINVAL, as the kernel refuses a locked mount
    container_made,  // the container made it (or a mount it is below): the helper acts for it
};

// umount2: a view, or a proc/sysfs with a view anywhere below it, is busy (EBUSY) unless
// the container made it; anything else the kernel decides. Only a mount's root can be
// unmounted: elsewhere the kernel's own EINVAL comes anyway.
Verdict classify_umount(std::span<const MountEntry> mounts, uint64_t mount_id, bool is_mount_root,
                        std::span<const OwnMount> own);
// MS_MOVE of the same: refused as the kernel refuses a locked mount (EINVAL), unless the
// container made it.
Verdict classify_move(std::span<const MountEntry> mounts, uint64_t mount_id, bool is_mount_root,
                      std::span<const OwnMount> own);

// A bind of `path` (relative to the same root as the mount points), which resolved into
// mount `mount_id`.
struct BindPlan {
    // Nothing of ecifs is concerned: the kernel binds. Otherwise the helper makes the
    // copy itself (so the daemon knows the container made it) and, for a non-recursive
    // bind of a proc/sysfs, places clones of the views below `path` on it, and the masks.
    bool kernel = true;
    struct Placement {
        std::string mount_point;  // the view's, to clone it from
        std::string below;        // where it goes below the copy's root
    };
    std::vector<Placement> views;
    std::string fstype;   // the source mount's
    std::string fs_path;  // the copy's root inside its filesystem (for masks_below)
    bool dress = false;   // place views and masks (a non-recursive bind of a proc/sysfs)
};
BindPlan plan_bind(std::span<const MountEntry> mounts, uint64_t mount_id, std::string_view path, bool recursive);

// What unmounting a mount the container made takes: the mounts ecifs placed on it
// (views, masks: its dressing, with what ecifs placed on those), deepest first. Empty
// with `busy` set when something else is mounted on it or on its dressing (the kernel's
// EBUSY, unless the unmount is lazy).
struct Undressing {
    std::vector<const MountEntry*> deepest_first;
    bool busy = false;
};
Undressing plan_undressing(std::span<const MountEntry> mounts, uint64_t mount_id, std::span<const OwnMount> own);

}  // namespace ecifs::seccomp
