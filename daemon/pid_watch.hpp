#pragma once
// Calls back once when a process exits: a pidfd, readable at exit, on the daemon's loop.
#include <sys/types.h>

#include <functional>
#include <memory>

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>

namespace ecifs::daemon {

class PidWatch {
public:
    // Throws std::system_error (ESRCH when the process is already gone).
    PidWatch(boost::asio::io_context& io, pid_t pid, std::function<void()> on_exit);
    ~PidWatch();
    PidWatch(const PidWatch&) = delete;
    PidWatch& operator=(const PidWatch&) = delete;

    pid_t pid() const { return pid_; }

private:
    pid_t pid_;
    // Shared with the pending wait, so a watch destroyed first is never called back.
    std::shared_ptr<boost::asio::posix::stream_descriptor> pidfd_;
};

}  // namespace ecifs::daemon
