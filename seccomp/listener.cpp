#include "seccomp/listener.hpp"

#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <stdexcept>

#include <boost/asio/steady_timer.hpp>
#include <fmt/core.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "control/unix_listener.hpp"
#include "seccomp/io.hpp"
#include "seccomp/notify.hpp"

namespace ecifs::seccomp {

using boost::asio::local::stream_protocol;
using nlohmann::json;

namespace {

// A runtime's message is a few KiB (annotations included); anything near this is not one.
constexpr std::size_t max_message = 1 << 20;
// More fds than this in one message are not a runtime's either (runc sends one).
constexpr std::size_t max_fds = 16;
// A connection that has not finished its message by then is dropped.
constexpr auto connection_deadline = std::chrono::seconds(10);
// Runtimes handing over fds at once: far more than a host starts containers at a time.
constexpr std::size_t max_connections = 256;

void close_all(std::vector<int>& fds) {
    for (int fd : fds) ::close(fd);
    fds.clear();
}

}  // namespace

class ListenerConnection : public std::enable_shared_from_this<ListenerConnection> {
public:
    ListenerConnection(SeccompListener& listener, boost::asio::io_context& io, int fd)
        : listener_(listener), socket_(Readable::create(io, fd)), deadline_(io) {}
    ~ListenerConnection() { close_all(fds_); }

    void start() {
        deadline_.expires_after(connection_deadline);
        deadline_.async_wait([weak = weak_from_this()](const boost::system::error_code& ec) {
            if (ec) return;
            if (auto self = weak.lock()) {
                spdlog::warn("seccomp listener: a connection sent no complete message in time; dropped");
                self->listener_.forget(self);
            }
        });
        read();
    }

    void close() {
        deadline_.cancel();
        socket_->close();
    }

private:
    void read() {
        socket_->wait([self = shared_from_this()](bool readable) {
            if (readable) self->on_readable();
        });
    }

    void on_readable() {
        for (;;) {
            char data[65536];
            alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * max_fds)];
            iovec iov{data, sizeof data};
            msghdr msg{};
            msg.msg_iov = &iov;
            msg.msg_iovlen = 1;
            msg.msg_control = control;
            msg.msg_controllen = sizeof control;
            ssize_t n = ::recvmsg(socket_->fd(), &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
            if (n < 0 && errno == EINTR) continue;
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return read();
            if (n < 0) {
                spdlog::warn("seccomp listener: receiving: {}", std::strerror(errno));
                return listener_.forget(shared_from_this());
            }
            for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
                if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
                std::size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
                for (std::size_t i = 0; i < count; ++i) {
                    int fd;
                    std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
                    fds_.push_back(fd);
                }
            }
            if (msg.msg_flags & MSG_CTRUNC) truncated_ = true;
            if (n == 0) {
                listener_.deliver(text_, fds_, truncated_ || fds_.size() > max_fds);
                return listener_.forget(shared_from_this());
            }
            text_.append(data, static_cast<std::size_t>(n));
            if (text_.size() > max_message) {
                spdlog::warn("seccomp listener: a message over {} bytes; dropped", max_message);
                return listener_.forget(shared_from_this());
            }
            // runc leaves the connection open while it lives (runc exec: until the process
            // exits, which may wait for this very fd): a whole JSON value is the message.
            if (json::accept(text_)) {
                listener_.deliver(text_, fds_, truncated_ || fds_.size() > max_fds);
                return listener_.forget(shared_from_this());
            }
        }
    }

    SeccompListener& listener_;
    std::shared_ptr<Readable> socket_;
    boost::asio::steady_timer deadline_;
    std::string text_;
    std::vector<int> fds_;
    bool truncated_ = false;
};

SeccompListener::SeccompListener(boost::asio::io_context& io, std::filesystem::path path, Lookup lookup,
                                 SeccompTrapper& trapper)
    : io_(io),
      path_(std::move(path)),
      lookup_(std::move(lookup)),
      trapper_(trapper),
      acceptor_(io),
      accepting_(io, acceptor_, "seccomp listener", [this](stream_protocol::socket s) { admit(std::move(s)); }),
      connections_(max_connections) {
    // Runtimes run as root; nobody else has fds to give us.
    control::listen_at(io, acceptor_, path_, 0600);
}

SeccompListener::~SeccompListener() { stop(); }

void SeccompListener::start() { accepting_.start(); }

void SeccompListener::admit(stream_protocol::socket socket) {
    ucred cred{};
    socklen_t len = sizeof cred;
    if (::getsockopt(socket.native_handle(), SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 || cred.uid != 0) {
        spdlog::warn("seccomp listener: refused a connection from uid {} (pid {})", cred.uid, cred.pid);
        return;  // the socket closes here
    }
    auto connection = std::make_shared<ListenerConnection>(*this, io_, socket.release());
    if (connections_.add(connection) == control::Admission::admitted) connection->start();
    // Otherwise stopping, or as many runtimes are handing over fds as the cap allows:
    // this one is closed, and its runc fails the create or exec, as with no listener.
}

void SeccompListener::deliver(std::string_view text, std::vector<int>& fds, bool truncated) {
    if (text.empty() && fds.empty()) {
        spdlog::debug("seccomp listener: a connection without a message");
        return;
    }
    ListenerMessage message;
    try {
        if (truncated) throw std::invalid_argument(fmt::format("more than {} fds", max_fds));
        message = parse_listener_message(text, fds.size());
    } catch (const std::exception& e) {
        spdlog::warn("seccomp listener: dropped a message ({} bytes, {} fds): {}", text.size(), fds.size(), e.what());
        close_all(fds);
        return;
    }
    int notify_fd = fds[message.seccomp_fd];
    fds.erase(fds.begin() + static_cast<std::ptrdiff_t>(message.seccomp_fd));
    if (!fds.empty()) spdlog::info("seccomp listener: closing {} other fds the runtime sent", fds.size());
    close_all(fds);
    if (!seccomp::is_notify_fd(notify_fd)) {
        spdlog::warn("seccomp listener: container {}: the fd named seccompFd is no seccomp listener; dropped", message.id);
        ::close(notify_fd);
        return;
    }
    auto target = lookup_(message.id);
    if (!target) {
        // Its trapped calls fail with ENOSYS: the answer without ecifs.
        spdlog::warn("seccomp listener: unknown container {} (pid {}); its notify fd is closed", message.id,
                     message.pid);
        ::close(notify_fd);
        return;
    }
    spdlog::info("container {}: serving the seccomp notifications of pid {} (runtime spec {})", message.id,
                 message.pid, message.oci_version);
    if (target->keep) target->keep(notify_fd, *target);
    trapper_.add(notify_fd, std::move(*target));
}

void SeccompListener::forget(const std::shared_ptr<ListenerConnection>& connection) {
    connections_.forget(connection);
}

void SeccompListener::stop() {
    accepting_.stop();
    if (connections_.stop()) control::stop_listening(acceptor_, path_);
}

}  // namespace ecifs::seccomp
