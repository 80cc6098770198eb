#pragma once
// Making the daemon's mount of a container visible where the runtime runs.
//
// The daemon mounts a container's views in its own mount namespace. A runtime started
// in another one (Podman runs runc in a private mount namespace when the container has
// a user namespace) sees them only if the mount propagates there, which it does not
// on a host whose `/` is a private mount (no systemd). So the daemon hands the shim a
// detached copy of its mount (open_tree(OPEN_TREE_CLONE), over the control socket)
// and the shim attaches it at the same path in its own namespace, before it execs the
// runtime, when the path does not already show that filesystem.
//
// Nothing has to undo it: when the daemon forgets the container it unmounts its own
// mount and removes the directory, and the kernel then detaches every mount on that
// directory in every other mount namespace (rmdir(2) of a mount point of another
// namespace detaches it), so the copy goes with it.
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

#include "sys/fd.hpp"

namespace ecifs::shim {

struct AttachError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

enum class Attach {
    already_visible,  // the path shows the daemon's filesystem here: nothing done
    attached,         // the copy was attached at the path in this mount namespace
};

// `tree` is the detached copy of the filesystem mounted at `mount_dir` by the daemon.
// Throws AttachError with a message fit for the user.
Attach attach_views(const std::filesystem::path& mount_dir, int tree);

// The kernel's own files below a view's destination (sysctl::kernel_files(), such as
// /proc/sys/kernel/ns_last_pid, whose value is the reader's pid namespace's), taken from
// the container's procfs under `rootfs` before the view covers them, and bound back on
// top of the view once it is placed. A file this kernel lacks is skipped.
class KernelFiles {
public:
    // Throws AttachError.
    KernelFiles(const std::filesystem::path& rootfs, const std::string& view_destination);
    // Throws AttachError.
    void put_back();

private:
    struct Kept {
        sys::Fd tree;  // a detached copy of the kernel's file (open_tree OPEN_TREE_CLONE)
        std::filesystem::path target;
    };
    std::vector<Kept> kept_;
};

}  // namespace ecifs::shim
