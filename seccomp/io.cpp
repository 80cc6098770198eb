#include "seccomp/io.hpp"

#include <poll.h>

#include <boost/asio/post.hpp>

namespace ecifs::seccomp {

Readable::Readable(boost::asio::io_context& io, int fd) : io_(io), fd_(fd), descriptor_(io, fd) {}

std::shared_ptr<Readable> Readable::create(boost::asio::io_context& io, int fd) {
    return std::shared_ptr<Readable>(new Readable(io, fd));
}

Readable::~Readable() { close(); }

void Readable::wait(std::function<void(bool)> handler) {
    std::lock_guard lock(mutex_);
    if (closed_) {
        boost::asio::post(io_, [handler = std::move(handler)] { handler(false); });
        return;
    }
    descriptor_.async_wait(boost::asio::posix::stream_descriptor::wait_read,
                           [self = shared_from_this(), handler = std::move(handler)](const boost::system::error_code&) {
                               bool closed;
                               {
                                   std::lock_guard lock(self->mutex_);
                                   closed = self->closed_;
                               }
                               // Success, or the cancel below: readable. Closed: not.
                               handler(!closed);
                           });
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, 0) > 0) {
        boost::system::error_code ignored;
        descriptor_.cancel(ignored);
    }
}

void Readable::close() {
    std::lock_guard lock(mutex_);
    if (closed_) return;
    closed_ = true;
    boost::system::error_code ignored;
    descriptor_.close(ignored);
}

}  // namespace ecifs::seccomp
