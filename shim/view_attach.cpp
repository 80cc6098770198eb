#include "shim/view_attach.hpp"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/core.h>

#include "sysctl/table.hpp"

namespace ecifs::shim {

namespace {

std::string error_text(int err) { return std::strerror(err); }

// Whether `path` shows the filesystem (the same device) that `tree` is a copy of.
bool shows_same_filesystem(const std::filesystem::path& path, int tree) {
    struct stat at_path{}, of_tree{};
    if (::fstat(tree, &of_tree) != 0)
        throw AttachError(fmt::format("the daemon's mount copy: fstat: {}", error_text(errno)));
    if (::stat(path.c_str(), &at_path) != 0)
        throw AttachError(fmt::format("the ecifs mount directory {} is not reachable from this mount namespace: {}",
                                      path.string(), error_text(errno)));
    return at_path.st_dev == of_tree.st_dev;
}

}  // namespace

Attach attach_views(const std::filesystem::path& mount_dir, int tree) {
    if (shows_same_filesystem(mount_dir, tree)) return Attach::already_visible;
    // Called through syscall(2): glibc before 2.36 has no wrapper.
    if (::syscall(SYS_move_mount, tree, "", AT_FDCWD, mount_dir.c_str(), MOVE_MOUNT_F_EMPTY_PATH) != 0)
        throw AttachError(fmt::format("cannot attach the container's views at {} in this mount namespace: "
                                      "move_mount: {}",
                                      mount_dir.string(), error_text(errno)));
    if (!shows_same_filesystem(mount_dir, tree))
        throw AttachError(fmt::format("attached the container's views at {}, but the path does not show them",
                                      mount_dir.string()));
    return Attach::attached;
}

KernelFiles::KernelFiles(const std::filesystem::path& rootfs, const std::string& view_destination) {
    const std::string below = std::filesystem::path(view_destination).lexically_normal().string() + "/";
    for (std::string_view file : sysctl::kernel_files()) {
        const std::string destination = "/" + std::string(file);
        if (!destination.starts_with(below)) continue;
        std::filesystem::path target = rootfs / std::filesystem::path(destination).relative_path();
        sys::Fd tree(::open_tree(AT_FDCWD, target.c_str(), OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC));
        if (!tree && errno == ENOENT) continue;
        if (!tree) throw AttachError(fmt::format("copying the kernel's {}: {}", target.string(), error_text(errno)));
        kept_.push_back({std::move(tree), std::move(target)});
    }
}

void KernelFiles::put_back() {
    for (Kept& k : kept_)
        if (::syscall(SYS_move_mount, k.tree.get(), "", AT_FDCWD, k.target.c_str(), MOVE_MOUNT_F_EMPTY_PATH) != 0)
            throw AttachError(fmt::format("binding the kernel's {} over the view: {}", k.target.string(),
                                          error_text(errno)));
    kept_.clear();
}

}  // namespace ecifs::shim
