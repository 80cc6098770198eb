#pragma once
// Waiting for a descriptor to become readable on the daemon's loop without ever missing
// it. Asio's epoll reactor registers descriptors edge-triggered and async_wait never
// looks before waiting, so readiness that arrived while no wait was outstanding (a second
// seccomp notification while the first was being answered, a message already queued on
// a freshly accepted socket, a helper that exited before we waited) would wake nobody.
// After arming, a poll(2) catches exactly that case and completes the wait at once.
#include <functional>
#include <memory>
#include <mutex>

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>

namespace ecifs::seccomp {

class Readable : public std::enable_shared_from_this<Readable> {
public:
    // Takes ownership of fd.
    static std::shared_ptr<Readable> create(boost::asio::io_context& io, int fd);
    ~Readable();
    Readable(const Readable&) = delete;
    Readable& operator=(const Readable&) = delete;

    // Calls handler(true) once the fd is readable, hung up or in error (it may be spurious:
    // read non-blockingly), or handler(false) once closed. One wait at a time.
    void wait(std::function<void(bool readable)> handler);
    // Close the fd; a pending wait completes with false.
    void close();
    int fd() const { return fd_; }

private:
    Readable(boost::asio::io_context& io, int fd);

    boost::asio::io_context& io_;
    const int fd_;
    std::mutex mutex_;
    boost::asio::posix::stream_descriptor descriptor_;
    bool closed_ = false;
};

}  // namespace ecifs::seccomp
