#pragma once
// The threads that serve every mount's FUSE requests (issue 14). One epoll set holds
// each mount's /dev/fuse fd, armed one-shot: the thread epoll wakes for a request
// receives it, processes it and writes the reply itself, then the mount re-arms. So a
// request wakes one thread, and no other: under Asio's reactor the thread that saw the
// fd readable also woke a second pool thread to go on waiting in epoll_wait, on every
// request, and re-registered the fd. Blocking work stays off these threads where it
// can (MountState::run_blocking).
//
// Mounts are known by a key that is never reused, not by a pointer or an fd number: an
// event fetched for a mount just removed finds no mount and is dropped (Asio's reactor
// recycled descriptor states, and a stale event once completed another's wait).
#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#include "sys/fd.hpp"

namespace ecifs::fs {

class FuseLoop {
public:
    // What a thread calls when a mount's fd is readable; the mount re-arms (rearm())
    // once it may take its next request. Holds the mount only while it is called.
    using Readable = std::function<void()>;

    // The daemon's loop, made for `threads` threads by its first user (later callers
    // share it whatever they ask).
    static FuseLoop& shared(unsigned threads);

    // Fds may be added at once; their events are served once start() is called.
    explicit FuseLoop(unsigned threads);
    ~FuseLoop();
    FuseLoop(const FuseLoop&) = delete;
    FuseLoop& operator=(const FuseLoop&) = delete;

    // Start the threads (once; later calls do nothing). Not in the constructor: a
    // daemon that detaches forks after setting up, and a fork keeps no threads.
    void start();
    // Watch `fd` and call `readable` when it is; returns the mount's key. Throws
    // std::system_error.
    uint64_t add(int fd, Readable readable);
    // Arm the fd for its next event (one-shot).
    void rearm(uint64_t key, int fd);
    // Stop watching; an event already taken for it is dropped.
    void remove(uint64_t key, int fd);
    unsigned threads() const { return thread_count_; }

private:
    void run();
    Readable find(uint64_t key);

    sys::Fd epoll_;
    sys::Fd stop_;  // an eventfd: readable once the loop stops
    std::mutex mutex_;
    std::unordered_map<uint64_t, Readable> mounts_;
    uint64_t next_key_ = 1;  // 0 is the stop eventfd's
    const unsigned thread_count_;
    std::once_flag started_;
    std::vector<std::thread> threads_;
};

}  // namespace ecifs::fs
