#pragma once
// The seccomp trapper: answers the syscalls of seccomp/table.hpp for the
// containers' processes. Each notify fd (one per seccomp filter: one for a container's
// init and its descendants, one per `runc exec`) is served on the daemon's one loop:
// readable -> SECCOMP_IOCTL_NOTIF_RECV -> answer -> SECCOMP_IOCTL_NOTIF_SEND. The fd is
// the identity: it belongs to the container the runtime named when it handed it over.
// It is released when its processes are gone (the fd hangs up) or the container is
// forgotten (its processes' trapped calls then fail with ENOSYS, as without ecifs).
//
//  - sysinfo: written into the caller's struct after an ID check; the only write into a
//    container process's memory.
//  - mount: a new proc or sysfs is made by a mount helper with the views and the
//    runtime's masks on it, and so is a non-recursive bind of a proc/sysfs carrying
//    views; a recursive bind of views, or a bind of a view, is made by the helper as the
//    kernel would (so the daemon knows the container made it); moving a view or a
//    proc/sysfs carrying views is refused (EINVAL, as for a locked mount) unless the
//    container made it; every other mount is the kernel's (CONTINUE).
//  - umount2: a view, or a proc/sysfs carrying views, is busy (EBUSY) unless the
//    container made it (then the helper unmounts it, views and all); others CONTINUE.
//
// Arguments are read with process_vm_readv, the notification checked valid after every
// read and before acting; only the copies are acted on. Path questions are answered by
// the mount helper in the caller's namespaces, never on a pool thread (a path may lead
// into one of our own FUSE mounts).
#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>

#include <boost/asio/io_context.hpp>

#include "emulation/container.hpp"
#include "seccomp/mounts.hpp"
#include "seccomp/own_mounts.hpp"
#include "seccomp/pending.hpp"

namespace ecifs::seccomp {

// What one notify fd serves.
struct TrapTarget {
    std::string id;
    std::shared_ptr<emulation::Container> container;
    std::filesystem::path views_root;  // the container's FUSE mount, STATE/containers/ID
    std::vector<seccomp::Mask> masks;  // the runtime's, for a proc/sysfs mounted inside
    // Called with a notify fd the runtime handed over, before it is served: the daemon
    // has the fd holder keep a copy (docs/restart.md), and sets `released` and `pending`
    // of the target the fd is served for. Unset: nothing to do.
    std::function<void(int notify_fd, TrapTarget& target)> keep;
    // Called when the fd's processes are gone (it hung up), not when it is forgotten.
    std::function<void()> released;
    // Where the calls taken and not yet answered are kept for a restart; null: nowhere.
    std::shared_ptr<const PendingCalls> pending;
    // The mounts the container made through us, shared by its fds (the daemon's, kept
    // for a restart); null: this fd's own.
    std::shared_ptr<OwnMounts> own_mounts;
};

class NotifyFd;

class SeccompTrapper {
public:
    explicit SeccompTrapper(boost::asio::io_context& io);
    ~SeccompTrapper();
    SeccompTrapper(const SeccompTrapper&) = delete;
    SeccompTrapper& operator=(const SeccompTrapper&) = delete;

    // Serve a seccomp notify fd (ownership taken) for `target`.
    void add(int notify_fd, TrapTarget target);
    // Stop serving the container's fds.
    void forget(const std::string& id);
    // Stop serving every fd.
    void stop();
    // Notify fds served for the container.
    std::size_t count(const std::string& id) const;

    struct Counters {
        std::atomic<uint64_t> answered{0};   // answered by ecifs (success or an errno of ours)
        std::atomic<uint64_t> continued{0};  // left to the kernel
        std::atomic<uint64_t> failed{0};     // internal errors (EIO to the caller, and a log line)
    };
    const Counters& counters() const { return counters_; }
    // The same for one container's fds, since the first was handed over (ecifsctl stats).
    struct Counts {
        uint64_t answered = 0, continued = 0, failed = 0;
    };
    Counts counts(const std::string& id) const;

    // Called by a NotifyFd that hung up.
    void release(const std::shared_ptr<NotifyFd>& fd);

private:
    boost::asio::io_context& io_;
    mutable std::mutex mutex_;
    std::map<std::string, std::set<std::shared_ptr<NotifyFd>>> fds_;
    bool stopped_ = false;
    Counters counters_;
    std::map<std::string, std::shared_ptr<Counters>> per_container_;
};

}  // namespace ecifs::seccomp
