#include "seccomp/mounts.hpp"

#include <sys/mount.h>

#include <algorithm>
#include <climits>

#include "sysctl/table.hpp"
#include "sys/mountinfo.hpp"
#include "sys/text.hpp"

namespace ecifs::seccomp {

namespace {

const MountEntry* find(std::span<const MountEntry> mounts, uint64_t id) {
    for (const auto& m : mounts)
        if (m.id == id) return &m;
    return nullptr;
}

// Whether `ancestor` is `id` or one of its parents (mount ids; a cycle cannot loop forever).
bool descends_from(std::span<const MountEntry> mounts, uint64_t id, uint64_t ancestor) {
    for (std::size_t steps = 0; steps <= mounts.size(); ++steps) {
        const MountEntry* m = find(mounts, id);
        if (!m) return false;
        if (m->parent == ancestor) return true;
        if (m->parent == m->id) return false;
        id = m->parent;
    }
    return false;
}

// Only an absolute path is below "/": relative() cuts the '/' off (a relative or empty
// path, which no kernel table holds, is below nothing; found by fuzz/mountinfo.cpp).
bool at_or_below(std::string_view path, std::string_view base) {
    if (base == "/") return path.starts_with('/');
    return path == base || (path.starts_with(base) && path.size() > base.size() && path[base.size()] == '/');
}

bool has_view_below(std::span<const MountEntry> mounts, uint64_t id, std::string_view path = "/") {
    return std::any_of(mounts.begin(), mounts.end(), [&](const MountEntry& m) {
        return is_view(m) && descends_from(mounts, m.id, id) && at_or_below(m.mount_point, path);
    });
}

}  // namespace

uint64_t strip_magic(uint64_t flags) {
    if ((flags & MS_MGC_MSK) == MS_MGC_VAL) flags &= ~static_cast<uint64_t>(MS_MGC_MSK);
    return flags;
}

MountKind mount_kind(uint64_t flags) {
    flags = strip_magic(flags);
    if (flags & MS_REMOUNT) return MountKind::kernel;
    if (flags & MS_BIND) return MountKind::bind;
    if (flags & (MS_SHARED | MS_PRIVATE | MS_SLAVE | MS_UNBINDABLE)) return MountKind::kernel;
    if (flags & MS_MOVE) return MountKind::move;
    return MountKind::new_fs;
}

bool carries_views_type(std::string_view fstype) { return fstype == "proc" || fstype == "sysfs"; }

std::optional<int> caller_fd_named(std::string_view path) {
    for (std::string_view prefix : {"/proc/self/fd/", "/proc/thread-self/fd/"}) {
        if (!path.starts_with(prefix)) continue;
        const auto fd = sys::whole_number<unsigned>(path.substr(prefix.size()));
        if (!fd || *fd > INT_MAX) return std::nullopt;
        return static_cast<int>(*fd);
    }
    return std::nullopt;
}

std::vector<std::string> views_below(std::string_view fstype, std::span<const std::string_view> view_paths) {
    std::string_view top = fstype == "proc" ? "proc/" : fstype == "sysfs" ? "sys/" : "";
    std::vector<std::string> out;
    if (top.empty()) return out;
    for (std::string_view p : view_paths)
        if (p.starts_with(top) && p.size() > top.size()) out.emplace_back(p.substr(top.size()));
    return out;
}

std::vector<Mask> runtime_masks(std::span<const std::string> masked, std::span<const std::string> read_only,
                                std::span<const std::string_view> view_paths) {
    auto is_view_destination = [&](std::string_view path) {
        return std::any_of(view_paths.begin(), view_paths.end(), [&](std::string_view view) {
            return path.size() == view.size() + 1 && path.front() == '/' && path.ends_with(view);
        });
    };
    std::vector<Mask> out;
    for (const std::string& p : read_only)
        if (!is_view_destination(p)) out.push_back({p, true});
    for (const std::string& p : masked) out.push_back({p, false});
    return out;
}

std::vector<Mask> masks_below(std::span<const Mask> masks, std::string_view fstype, std::string_view fs_path) {
    const std::string_view top = fstype == "proc" ? "/proc" : fstype == "sysfs" ? "/sys" : "";
    std::vector<Mask> out;
    if (top.empty()) return out;
    // The copy's root as a path in the container: /proc plus its root inside the procfs.
    const std::string root = fs_path == "/" ? std::string(top) : std::string(top) + std::string(fs_path);
    for (const Mask& m : masks)
        if (at_or_below(m.path, root) && m.path != root) out.push_back({m.path.substr(root.size() + 1), m.read_only_path});
    return out;
}

NewMount translate_new_mount(uint64_t flags, std::string_view data) {
    NewMount m;
    flags = strip_magic(flags);
    for (std::string_view option : sys::split_on(data, ',')) {
        if (option.empty()) continue;
        std::size_t eq = option.find('=');
        if (eq == std::string_view::npos)
            m.options.emplace_back(std::string(option), std::nullopt);
        else
            m.options.emplace_back(std::string(option.substr(0, eq)), std::string(option.substr(eq + 1)));
    }
    // The superblock flags mount(2) passes on (fs/namespace.c: SB_RDONLY | SB_SYNCHRONOUS
    // | SB_MANDLOCK | SB_DIRSYNC | SB_SILENT | SB_POSIXACL | SB_LAZYTIME | SB_I_VERSION);
    // SB_SILENT only quiets printk, the others fsconfig cannot set.
    if (flags & MS_RDONLY) m.sb_flags.emplace_back("ro");
    if (flags & MS_SYNCHRONOUS) m.sb_flags.emplace_back("sync");
    if (flags & MS_DIRSYNC) m.sb_flags.emplace_back("dirsync");
    if (flags & MS_LAZYTIME) m.sb_flags.emplace_back("lazytime");
    if (flags & MS_MANDLOCK) m.sb_flags.emplace_back("mand");
    m.read_only = flags & MS_RDONLY;
    // The per-mount flags; relatime unless noatime or strictatime, as mount(2).
    if (flags & MS_RDONLY) m.attributes |= MOUNT_ATTR_RDONLY;
    if (flags & MS_NOSUID) m.attributes |= MOUNT_ATTR_NOSUID;
    if (flags & MS_NODEV) m.attributes |= MOUNT_ATTR_NODEV;
    if (flags & MS_NOEXEC) m.attributes |= MOUNT_ATTR_NOEXEC;
    if (flags & MS_NODIRATIME) m.attributes |= MOUNT_ATTR_NODIRATIME;
    if (flags & MS_NOSYMFOLLOW) m.attributes |= MOUNT_ATTR_NOSYMFOLLOW;
    if (flags & MS_STRICTATIME)
        m.attributes |= MOUNT_ATTR_STRICTATIME;
    else if (flags & MS_NOATIME)
        m.attributes |= MOUNT_ATTR_NOATIME;
    return m;
}

std::vector<MountEntry> parse_mountinfo(std::string_view text) {
    std::vector<MountEntry> out;
    for (auto& m : sys::parse_mountinfo(text))
        out.push_back({.id = m.mount_id,
                       .parent = m.parent_id,
                       .root = std::move(m.root),
                       .mount_point = std::move(m.mount_point),
                       .fstype = std::move(m.fstype),
                       .source = std::move(m.source)});
    return out;
}

bool is_view(const MountEntry& entry) { return entry.fstype == "fuse.ecifs"; }

namespace {

// One of the kernel's own files bound back over a view (sysctl::kernel_files()): as
// much the runtime's as the view it is on.
bool is_kernel_file_on_view(std::span<const MountEntry> mounts, const MountEntry& m) {
    const MountEntry* parent = find(mounts, m.parent);
    if (m.fstype != "proc" || !parent || !is_view(*parent)) return false;
    const auto files = sysctl::kernel_files();
    return std::any_of(files.begin(), files.end(), [&](std::string_view file) {
        return file.starts_with("proc/") && file.substr(4) == m.root;
    });
}

// A view, a kernel file on one, or a proc/sysfs with a view below it.
bool protected_mount(std::span<const MountEntry> mounts, const MountEntry& m) {
    return is_view(m) || is_kernel_file_on_view(mounts, m) || (carries_views_type(m.fstype) && has_view_below(mounts, m.id));
}

const OwnMount* own_entry(std::span<const OwnMount> own, uint64_t id) {
    for (const OwnMount& o : own)
        if (o.id == id) return &o;
    return nullptr;
}

// Made by the container: the mount itself or one it is below (a copy of /proc in an
// rbind of / the container made, say).
bool container_made(std::span<const MountEntry> mounts, uint64_t id, std::span<const OwnMount> own) {
    for (std::size_t steps = 0; steps <= mounts.size(); ++steps) {
        if (own_entry(own, id)) return true;
        const MountEntry* m = find(mounts, id);
        if (!m || m->parent == m->id) return false;
        id = m->parent;
    }
    return false;
}

Verdict classify(std::span<const MountEntry> mounts, uint64_t mount_id, bool is_mount_root,
                 std::span<const OwnMount> own, Verdict refusal) {
    const MountEntry* m = find(mounts, mount_id);
    if (!is_mount_root || !m || !protected_mount(mounts, *m)) return Verdict::kernel_decides;
    return container_made(mounts, mount_id, own) ? Verdict::container_made : refusal;
}

std::string_view relative(std::string_view path, std::string_view base) {
    if (base == "/") return path.substr(1);
    return path.size() == base.size() ? std::string_view() : path.substr(base.size() + 1);
}

std::string joined(std::string_view base, std::string_view rest) {
    if (rest.empty()) return std::string(base);
    return base == "/" ? "/" + std::string(rest) : std::string(base) + "/" + std::string(rest);
}

}  // namespace

Verdict classify_umount(std::span<const MountEntry> mounts, uint64_t mount_id, bool is_mount_root,
                        std::span<const OwnMount> own) {
    return classify(mounts, mount_id, is_mount_root, own, Verdict::busy);
}

Verdict classify_move(std::span<const MountEntry> mounts, uint64_t mount_id, bool is_mount_root,
                      std::span<const OwnMount> own) {
    return classify(mounts, mount_id, is_mount_root, own, Verdict::locked);
}

BindPlan plan_bind(std::span<const MountEntry> mounts, uint64_t mount_id, std::string_view path, bool recursive) {
    BindPlan plan;
    const MountEntry* m = find(mounts, mount_id);
    if (!m) return plan;
    plan.fstype = m->fstype;
    plan.fs_path = at_or_below(path, m->mount_point) ? joined(m->root, relative(path, m->mount_point)) : m->root;
    if (is_view(*m)) {
        plan.kernel = false;  // a copy of a view: the kernel's, but the container's to unmount
        return plan;
    }
    if (recursive) {
        plan.kernel = !has_view_below(mounts, m->id, path);  // the views are copied along
        return plan;
    }
    if (!carries_views_type(m->fstype)) return plan;
    for (const MountEntry& child : mounts)
        if (child.parent == m->id && child.id != m->id && is_view(child) && at_or_below(child.mount_point, path))
            plan.views.push_back({child.mount_point, std::string(relative(child.mount_point, path))});
    plan.kernel = plan.views.empty();
    plan.dress = !plan.kernel;
    return plan;
}

Undressing plan_undressing(std::span<const MountEntry> mounts, uint64_t mount_id, std::span<const OwnMount> own) {
    Undressing out;
    // Breadth first from the mount: each level's mounts are below the previous one's.
    std::vector<uint64_t> parents{mount_id};
    std::vector<const MountEntry*> order;
    while (!parents.empty()) {
        std::vector<uint64_t> next;
        for (const MountEntry& child : mounts) {
            if (child.id == child.parent || std::find(parents.begin(), parents.end(), child.parent) == parents.end())
                continue;
            const OwnMount* o = own_entry(own, child.id);
            if (!o || o->dressing_of != mount_id) {
                out.busy = true;
                return out;
            }
            order.push_back(&child);
            next.push_back(child.id);
        }
        parents = std::move(next);
        if (order.size() > mounts.size()) break;  // a cycle in a malformed table
    }
    out.deepest_first.assign(order.rbegin(), order.rend());
    return out;
}

}  // namespace ecifs::seccomp
