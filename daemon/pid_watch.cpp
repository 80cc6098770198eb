#include "daemon/pid_watch.hpp"

#include <poll.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

namespace ecifs::daemon {

namespace {

using Descriptor = boost::asio::posix::stream_descriptor;

// A pidfd is readable once its process has exited.
bool exited(Descriptor& pidfd) {
    pollfd entry{pidfd.native_handle(), POLLIN, 0};
    return ::poll(&entry, 1, 0) == 1 && (entry.revents & (POLLIN | POLLHUP | POLLERR));
}

// Wait for the exit; a completion that is not one (Asio 1.74 can deliver a stale event
// to a descriptor that reuses a recycled reactor state, seen with 1000 containers) is
// checked with poll() and the wait re-armed, so a live container is never forgotten.
void wait_for_exit(const std::shared_ptr<Descriptor>& pidfd, std::function<void()> on_exit) {
    pidfd->async_wait(Descriptor::wait_read, [pidfd, on_exit = std::move(on_exit)](const boost::system::error_code& ec) mutable {
        if (ec) return;
        if (exited(*pidfd)) return on_exit();
        wait_for_exit(pidfd, std::move(on_exit));
    });
}

}  // namespace

PidWatch::PidWatch(boost::asio::io_context& io, pid_t pid, std::function<void()> on_exit) : pid_(pid) {
    int fd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));  // close-on-exec by nature
    if (fd < 0) throw std::system_error(errno, std::generic_category(), "pidfd_open");
    pidfd_ = std::make_shared<Descriptor>(io, fd);
    wait_for_exit(pidfd_, std::move(on_exit));
}

PidWatch::~PidWatch() {
    boost::system::error_code ignored;
    pidfd_->cancel(ignored);
}

}  // namespace ecifs::daemon
