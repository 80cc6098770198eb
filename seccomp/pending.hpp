#pragma once
// Trapped calls taken and not yet answered, on disk (docs/restart.md). The kernel
// delivers a notification once: if the daemon dies between taking it and answering it,
// only this journal lets the next daemon answer, and the caller waits for it meanwhile
// (the fd holder keeps the notify fd open). One small file per call, named after the
// notify fd's key in the holder and the notification's id, written before the call is
// acted on and removed when it is answered.
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "seccomp/notify.hpp"

namespace ecifs::seccomp {

class PendingCalls {
public:
    // `dir` is made if need be; `key` names the notify fd (the fd holder's key).
    PendingCalls(std::filesystem::path dir, std::string key);

    // Best effort: a call that cannot be written is still answered, it is only lost to a
    // restart in between (logged).
    void taken(const Notification& n) const;
    void answered(uint64_t id) const;
    // The calls an earlier daemon took on this fd and did not answer; their files go
    // (each is written again when it is taken up).
    std::vector<Notification> take_over() const;
    // Every file of this fd (when the fd goes).
    void clear() const;

private:
    std::filesystem::path file(uint64_t id) const;
    std::vector<std::filesystem::path> files() const;

    std::filesystem::path dir_;
    std::string key_;
};

}  // namespace ecifs::seccomp
