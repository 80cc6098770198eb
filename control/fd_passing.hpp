#pragma once
// Passing one file descriptor along a message on a Unix stream socket (SCM_RIGHTS):
// how the daemon hands the shim a detached copy of a container's mount.
#include <sys/types.h>

#include <string_view>

#include "sys/fd.hpp"

namespace ecifs::control {


// sendmsg of `data` with `fd` attached (none when fd < 0), without SIGPIPE, and without
// blocking unless `wait` (a blocking socket then waits for room: the fd holder's long
// list replies). Returns the bytes sent or -1 with errno; the fd travels with the first
// byte, so a caller that sent part of `data` sends the rest without it.
ssize_t send_with_fd(int socket_fd, std::string_view data, int fd, bool wait = false);

// recvmsg into buf; a descriptor that came along is returned in `fd` (received
// close-on-exec; any further ones are closed: a peer gets at most the one it expects).
// Returns what recv returns.
ssize_t receive_with_fd(int socket_fd, char* buf, size_t size, sys::Fd& fd);

}  // namespace ecifs::control
