#include "fs/fuse_loop.hpp"

#include <sys/epoll.h>
#include <sys/eventfd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <system_error>

#include <spdlog/spdlog.h>

namespace ecifs::fs {

namespace {

constexpr uint64_t stop_key = 0;

[[noreturn]] void fail(const char* what) { throw std::system_error(errno, std::generic_category(), what); }

}  // namespace

FuseLoop& FuseLoop::shared(unsigned threads) {
    static FuseLoop loop(threads);
    return loop;
}

FuseLoop::FuseLoop(unsigned threads)
    : epoll_(::epoll_create1(EPOLL_CLOEXEC)),
      stop_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)),
      thread_count_(std::max(1u, threads)) {
    if (!epoll_) fail("epoll_create1");
    if (!stop_) fail("eventfd");
    // Level-triggered, never consumed: once written, every thread sees it.
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = stop_key;
    if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, stop_.get(), &ev) != 0) fail("epoll_ctl(stop)");
}

void FuseLoop::start() {
    std::call_once(started_, [this] {
        for (unsigned i = 0; i < thread_count_; ++i) threads_.emplace_back([this] { run(); });
    });
}

FuseLoop::~FuseLoop() {
    const uint64_t one = 1;
    if (::write(stop_.get(), &one, sizeof one) != sizeof one) spdlog::error("cannot stop the FUSE threads");
    for (auto& thread : threads_) thread.join();
}

uint64_t FuseLoop::add(int fd, Readable readable) {
    uint64_t key;
    {
        std::lock_guard lock(mutex_);
        key = next_key_++;
        mounts_.emplace(key, std::move(readable));
    }
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLONESHOT;
    ev.data.u64 = key;
    if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &ev) != 0) {
        const int err = errno;
        std::lock_guard lock(mutex_);
        mounts_.erase(key);
        throw std::system_error(err, std::generic_category(), "epoll_ctl(ADD) of a FUSE fd");
    }
    return key;
}

void FuseLoop::rearm(uint64_t key, int fd) {
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLONESHOT;
    ev.data.u64 = key;
    if (::epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, fd, &ev) != 0)
        spdlog::error("re-arming FUSE fd {}: {}", fd, std::strerror(errno));
}

void FuseLoop::remove(uint64_t key, int fd) {
    if (::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, fd, nullptr) != 0 && errno != ENOENT && errno != EBADF)
        spdlog::warn("removing FUSE fd {}: {}", fd, std::strerror(errno));
    std::lock_guard lock(mutex_);
    mounts_.erase(key);
}

FuseLoop::Readable FuseLoop::find(uint64_t key) {
    std::lock_guard lock(mutex_);
    auto it = mounts_.find(key);
    return it == mounts_.end() ? nullptr : it->second;
}

// One event at a time: with one-shot fds a thread takes one mount's request, and the
// other threads stay free for the next one (this mount's, once re-armed, or another's).
void FuseLoop::run() {
    for (;;) {
        epoll_event ev{};
        const int n = ::epoll_wait(epoll_.get(), &ev, 1, -1);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            spdlog::critical("epoll_wait of the FUSE threads: {}", std::strerror(errno));
            return;
        }
        if (n == 0) continue;
        if (ev.data.u64 == stop_key) return;
        if (auto readable = find(ev.data.u64)) readable();
    }
}

}  // namespace ecifs::fs
