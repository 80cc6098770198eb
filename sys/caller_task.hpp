#pragma once
// How the daemon reaches the thread that asked: its namespaces, root, working directory
// and credentials, from the thread id a FUSE request or a seccomp notification carries.
//
// Both carry the id of the calling *thread*. pidfd_open takes only a thread-group leader
// (PIDFD_THREAD exists only since Linux 6.9), and a leader that has called pthread_exit
// while its other threads run has no namespaces, root or cwd left (/proc/TGID/ns/* is
// gone). /proc/TID is there for every thread, and each thread has its own namespaces,
// fs and credentials anyway (unshare(2) and setns(2) act on one thread). So a caller is
// reached through an O_PATH fd of /proc/TID: the kernel ties that fd to the thread (to
// its struct pid, not to the number), so once the thread exits every lookup below it
// fails, and a thread that later gets the same id is never reached through it. As with
// a pidfd, an fd opened while the caller is known to be alive (a seccomp notification
// still valid after the open) refers to the caller for good.
#include <sys/types.h>

#include <array>
#include <span>

#include "sys/fd.hpp"

namespace ecifs::sys {

// /proc/TID of any thread (a leader or not), O_PATH | O_DIRECTORY. Invalid (errno set)
// if there is no such thread.
Fd open_task_dir(pid_t tid);

// The namespaces a helper may join.
enum class Ns { user, mnt, pid, net, uts, ipc };

// Open namespace fds of one thread (its /proc/TID/ns/*, as setns(2) takes them).
class Namespaces {
public:
    // Those of `kinds` below `task_dir` (an invalid fd: none, error() ESRCH); check ok().
    Namespaces(int task_dir, std::span<const Ns> kinds);
    // Adopt fds already open (a helper's inherited ones), -1 where absent.
    explicit Namespaces(std::array<int, 6> fds);

    bool ok() const { return error_ == 0; }
    int error() const { return error_; }  // why the fds could not be opened
    int fd(Ns kind) const { return fds_[index(kind)].get(); }
    // The namespace's inode (its identity, as /proc/PID/ns/* links show it); 0 if absent.
    ino_t inode(Ns kind) const;
    // Join every namespace held (as the daemon's root), the user namespace last and only
    // if it is not ours already (setns refuses to re-enter one's own user namespace).
    // Last, because joining it drops every capability outside it, and the others may be
    // owned by an ancestor of it (a container without its own uts namespace shares the
    // host's): setns(pidfd, flags) checks them all with the joiner's original
    // credentials too. 0 or an errno.
    int join() const;
    void close();

private:
    static std::size_t index(Ns kind) { return static_cast<std::size_t>(kind); }
    std::array<Fd, 6> fds_;
    int error_ = 0;
};

// The inode of this process's own namespace of that kind.
ino_t own_namespace(Ns kind);

}  // namespace ecifs::sys
