#pragma once
// The mounts a container made through the trapper (a new proc/sysfs, a copy of a
// proc/sysfs or of a view, and the views and masks ecifs placed on them), so that it may
// move and unmount them as under plain runc, while the runtime's /proc, /sys and views
// (and their copies in a mount namespace the container made) stay locked.
//
// A mount is named by its id, kept per mount namespace. Mount ids are global and not
// reused while the mount exists, but they are reused soon after (the kernel hands out
// the lowest free one), and so are a mount namespace's inode numbers. So the namespace
// of each remembered id is held open: while we hold it, its inode is not reused, and the
// mounts in it are not freed, so no copy of /proc in a later namespace can take one of
// the ids. A namespace is let go once no thread of the container is in it any more (it
// is then nobody's to mount in); so are its ids. A mount the container unmounted through
// us is forgotten at once; one it lost otherwise (a lazy unmount of what it was on) may
// leave its id here, where only a mount the container makes in that namespace can
// take it again.
//
// A restart must not forget them (docs/restart.md): a Keeper, when set, hands each held
// namespace to something that outlives the daemon (the fd holder) and writes every
// change down before the container hears of it; the next daemon restores both.
#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <span>
#include <vector>

#include "seccomp/mounts.hpp"
#include "sys/fd.hpp"

namespace ecifs::seccomp {

class OwnMounts {
public:
    // Per namespace inode: mount id -> the mount it dresses (0 for a mount of its own).
    using Table = std::map<uint64_t, uint64_t>;
    using Snapshot = std::map<ino_t, Table>;

    // Called under the object's lock, so in the order of the changes.
    struct Keeper {
        std::function<void(ino_t, int mnt_ns)> pin;  // a namespace is held from now on
        std::function<void(ino_t)> unpin;            // ... no longer
        std::function<void(const Snapshot&)> save;   // every mount known, after a change
    };
    void keep_with(Keeper keeper);
    // What an earlier daemon knew of a namespace it held (its fd, as kept for us).
    void restore(sys::Fd mnt_ns, Table mounts);

    // Each takes a mount namespace as an open fd of it (/proc/TID/ns/mnt).
    // The container's mounts in that namespace.
    std::vector<seccomp::OwnMount> in(int mnt_ns) const;
    // `made` (and `dressing`, placed on it) are the container's; the fd is kept unless one
    // of that namespace is held already.
    void add(sys::Fd mnt_ns, uint64_t made, std::span<const uint64_t> dressing);
    // These are gone (a mount that goes takes what was placed on it along).
    void remove(int mnt_ns, std::span<const uint64_t> gone);
    void remove(ino_t mnt_ns, std::span<const uint64_t> gone);
    // Let go of the namespaces none of `threads` (the container's) is in.
    void prune(std::span<const pid_t> threads);
    std::size_t namespaces() const;
    std::vector<ino_t> held() const;

    static ino_t inode_of(int mnt_ns);

private:
    struct Namespace {
        sys::Fd pin;
        Table dressing_of;  // mount id -> the mount it dresses, 0 for a root
    };
    void changed_locked() const;

    mutable std::mutex mutex_;
    std::map<ino_t, Namespace> by_namespace_;
    Keeper keeper_;
};

}  // namespace ecifs::seccomp
