#include "daemon/pid_watch.hpp"

#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

namespace ecifs::daemon {

PidWatch::PidWatch(boost::asio::io_context& io, pid_t pid, std::function<void()> on_exit) : pid_(pid) {
    int fd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));  // close-on-exec by nature
    if (fd < 0) throw std::system_error(errno, std::generic_category(), "pidfd_open");
    pidfd_ = std::make_shared<boost::asio::posix::stream_descriptor>(io, fd);
    pidfd_->async_wait(boost::asio::posix::stream_descriptor::wait_read,
                       [keep = pidfd_, on_exit = std::move(on_exit)](const boost::system::error_code& ec) {
                           if (!ec) on_exit();
                       });
}

PidWatch::~PidWatch() {
    boost::system::error_code ignored;
    pidfd_->cancel(ignored);
}

}  // namespace ecifs::daemon
