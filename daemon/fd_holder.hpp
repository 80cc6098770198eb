#pragma once
// The fd holder: a small process apart from the daemon that keeps a copy of every
// container's /dev/fuse fd and seccomp notify fd, and of what a restart needs beside
// them: the memory each notify fd's calls are received into (seccomp/call_ring.hpp) and
// the mount namespaces the container's own mounts are in (seccomp/own_mounts.hpp). The kernel aborts a FUSE connection
// when the last open file of its /dev/fuse goes, and a seccomp listener's waiting
// syscalls fail with ENOSYS when its last notify fd closes. So a daemon crash (kill -9)
// or upgrade would break every container. With the holder keeping copies, the
// connections wait until a new daemon starts and takes them back.
//
// It is a separate process, not a thread, so that it outlives the daemon. It is
// single-threaded with poll(2), no Asio, and does little else, so that it does not crash.
//
// Protocol: a Unix SOCK_SEQPACKET socket, one small text message per request, at most
// one fd attached (SCM_RIGHTS). KEY is 1..255 bytes of [A-Za-z0-9_.+:=-].
//   put KEY + fd  -> ok          keep the fd (an old one under KEY is closed)
//   del KEY       -> ok          close and forget (ok when absent too)
//   list          -> fd KEY + fd, one message per held fd, then end
//   ping          -> ok          (the client's check that the holder serves)
//   quit          -> ok          close everything, remove the socket, exit
// Anything else gets "error <reason>" and changes nothing.
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "sys/fd.hpp"

namespace ecifs::daemon {

// The holder's main loop (`ecifs __fd-holder SOCKET`). Returns the exit status: 0 when
// it stopped (quit, or nothing held and no client left) or another holder already
// serves at socket_path; 1 when it cannot bind.
int run_fd_holder(const std::filesystem::path& socket_path);

// The daemon's side. Every call is synchronous and thread-safe; each throws
// std::runtime_error on an error reply or a lost holder (after which the object is
// disconnected and every further call throws).
class FdHolder {
public:
    // Takes a socket already connected to a holder.
    explicit FdHolder(sys::Fd socket);

    // Connects to the holder at socket_path, or, when none answers, starts
    // `exe __fd-holder socket_path` in a session of its own (not the caller's child)
    // and connects to that, waiting up to about 2 s.
    static FdHolder connect_or_spawn(const std::filesystem::path& socket_path, const std::string& exe);

    // Returns once the holder has the fd (a copy: the caller keeps its own).
    void put(const std::string& key, int fd);
    void remove(const std::string& key);
    std::vector<std::pair<std::string, sys::Fd>> list();
    // Closes everything held and stops the holder.
    void quit();

private:
    bool ping();
    void send(const std::string& message, int fd = -1);
    std::string reply(sys::Fd* fd = nullptr);
    void expect_ok(const std::string& what, const std::string& answer);
    [[noreturn]] void fail(const std::string& what);

    sys::Fd socket_;
    std::unique_ptr<std::mutex> mutex_ = std::make_unique<std::mutex>();
};

}  // namespace ecifs::daemon
