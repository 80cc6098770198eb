#pragma once
// The kernel's seccomp user-notification interface, for the trapper: receive a
// notification, answer it (both through libseccomp), and read or write the caller's
// memory. Every function returns 0 or a positive errno; none throws.
#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

namespace ecifs::seccomp {

// One trapped call (struct seccomp_notif). `pid` is in the daemon's pid namespace.
struct Notification {
    uint64_t id = 0;
    pid_t pid = 0;
    uint32_t arch = 0;
    int nr = 0;
    uint64_t args[6] = {};
};

// seccomp_notify_receive(3). ENOENT: the caller went away before we took it (nothing to
// answer). Blocks if nothing is pending: call it only when the fd polls readable.
int receive(int notify_fd, Notification& out);
// receive, into `slot` (notification_size bytes, 8-aligned; shared memory,
// seccomp/call_ring.hpp): the kernel writes the struct seccomp_notif there itself.
constexpr std::size_t notification_size = 80;
int receive_into(int notify_fd, void* slot, Notification& out);
// The call in a slot receive_into wrote.
Notification notification_in(const void* slot);
// seccomp_notify_respond(3): the call returns `value` (error 0) or fails with `error`.
// ENOENT: the caller is gone (killed, or the notification is no longer valid).
int respond(int notify_fd, uint64_t id, int error, int64_t value = 0);
// SECCOMP_USER_NOTIF_FLAG_CONTINUE: the kernel runs the call itself, as if not trapped.
// Only where the kernel's own checks are the whole decision.
int respond_continue(int notify_fd, uint64_t id);
// seccomp_notify_id_valid(3): the caller is still blocked in this very call, so a pid
// or memory read since it was received refers to it.
bool id_valid(int notify_fd, uint64_t id);
// Whether fd is a seccomp listener ("anon_inode:seccomp notify").
bool is_notify_fd(int fd);

// pidfd_open(2) (close-on-exec by nature): -1 and errno on failure.
int open_pidfd(pid_t pid);

// Read a NUL-terminated string of at most `max` bytes (without the NUL) from the caller,
// a page at a time, so a string ending just before an unmapped page still reads.
// EFAULT: unreadable; ENAMETOOLONG: no NUL within max bytes.
int read_string(pid_t pid, uint64_t address, std::size_t max, std::string& out);
// Write bytes into the caller's memory (process_vm_writev). EFAULT: not writable there.
int write_memory(pid_t pid, uint64_t address, std::span<const std::byte> bytes);

}  // namespace ecifs::seccomp
