#pragma once
// Trapped calls taken and not yet answered, kept for the next daemon (docs/restart.md).
// The kernel delivers a notification once: if the daemon dies between taking it and
// answering it, only this journal lets the next daemon answer, and the caller waits for
// it meanwhile (the fd holder keeps the notify fd open). The calls are received straight
// into shared memory the fd holder keeps (seccomp/call_ring.hpp); a call that must say
// more has a small file, named after the notify fd's key in the holder and the
// notification's id, removed when it is answered. Without a ring (none could be made),
// every call gets a file, written before it is acted on.
//
// An unmount cannot be undone, so it is not made twice: the mount helper names the
// mount it is about to unmount and waits until that is written here (`unmounting`). A
// call taken up with that line was answered by nobody, but may have been carried out.
#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "seccomp/call_ring.hpp"
#include "seccomp/notify.hpp"

namespace ecifs::seccomp {

// A call an earlier daemon took, as it left it.
struct TakenCall {
    Notification notification;
    // The mount its helper was told to unmount, in the mount namespace of that inode; 0:
    // nothing was unmounted yet.
    uint64_t unmounting = 0;
    ino_t mount_ns = 0;
};

// Whether the unmount a taken call was making is done: its mount is gone from the
// caller's mount namespace (a caller blocked in its call cannot change namespace, and
// the mount ids there are pinned, seccomp/own_mounts.hpp).
bool unmount_carried_out(const TakenCall& call);

class PendingCalls {
public:
    // `dir` is made if need be; `key` names the notify fd (the fd holder's key).
    PendingCalls(std::filesystem::path dir, std::string key, std::shared_ptr<CallRing> ring = nullptr);

    // seccomp::receive, kept from the moment the kernel hands the call over.
    int receive(int notify_fd, Notification& out) const;
    // Kept (if receive did not), before it is acted on. Best effort: a call that cannot
    // be kept is still answered, it is only lost to a restart in between (logged).
    void taken(const Notification& n) const;
    // The call's helper may unmount `mount` now. False if that cannot be written down
    // (the unmount must not be made then).
    bool unmounting(const Notification& n, ino_t mount_ns, uint64_t mount) const;
    void answered(uint64_t id) const;
    // The calls an earlier daemon took on this fd and did not answer; their files go
    // (each is written again when it is taken up).
    std::vector<TakenCall> take_over() const;
    // Every file of this fd (when the fd goes).
    void clear() const;

private:
    std::filesystem::path file(uint64_t id) const;
    std::vector<std::filesystem::path> files() const;

    std::filesystem::path dir_;
    std::string key_;
    std::shared_ptr<CallRing> ring_;
};

}  // namespace ecifs::seccomp
