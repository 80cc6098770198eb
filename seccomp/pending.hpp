#pragma once
// Trapped calls taken and not yet answered, on disk (docs/restart.md). The kernel
// delivers a notification once: if the daemon dies between taking it and answering it,
// only this journal lets the next daemon answer, and the caller waits for it meanwhile
// (the fd holder keeps the notify fd open). One small file per call, named after the
// notify fd's key in the holder and the notification's id, written before the call is
// acted on and removed when it is answered.
//
// An unmount cannot be undone, so it is not made twice: the mount helper names the
// mount it is about to unmount and waits until that is written here (`unmounting`). A
// call taken up with that line was answered by nobody, but may have been carried out.
#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

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
    PendingCalls(std::filesystem::path dir, std::string key);

    // Best effort: a call that cannot be written is still answered, it is only lost to a
    // restart in between (logged).
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
};

}  // namespace ecifs::seccomp
