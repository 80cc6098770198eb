#pragma once
// Trapped calls received and not yet answered, kept in shared memory that the fd holder
// holds (docs/restart.md). The kernel delivers a notification once, and
// SECCOMP_IOCTL_NOTIF_RECV copies it straight into a slot here: from the moment the
// ioctl returns, the call is kept, and a daemon killed at any later moment leaves it to
// the next one, which maps the same memory. No window between receiving and keeping,
// and no file written per call.
//
// A slot holds the kernel's struct seccomp_notif as it wrote it; an id of 0 marks a free
// slot (the kernel's ids start at a random 64-bit value and count up).
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <vector>

#include "seccomp/notify.hpp"
#include "sys/fd.hpp"

namespace ecifs::seccomp {

class CallRing {
public:
    static constexpr std::size_t slots = 64;
    static constexpr std::size_t slot_size = 128;  // the kernel's struct is 80 bytes

    // A new ring's memory (a memfd). Throws std::system_error.
    static sys::Fd create();
    // Maps a ring's memory, maybe one an earlier daemon used. Throws std::system_error
    // (and std::invalid_argument for a memfd of another size).
    explicit CallRing(int memfd);
    ~CallRing();
    CallRing(const CallRing&) = delete;
    CallRing& operator=(const CallRing&) = delete;

    // seccomp::receive, into a free slot. With every slot taken (64 calls of one fd in
    // flight), into the plain buffer: that call is then not kept for a restart.
    int receive(int notify_fd, Notification& out);
    // Keeps a call received elsewhere (taken up from a file); nothing if it is here.
    void keep(const Notification& n);
    void release(uint64_t id);
    // The calls kept.
    std::vector<Notification> held() const;

private:
    std::byte* slot(std::size_t i) const { return base_ + i * slot_size; }
    std::byte* free_slot_locked() const;

    std::byte* base_ = nullptr;
    mutable std::mutex mutex_;
};

}  // namespace ecifs::seccomp
