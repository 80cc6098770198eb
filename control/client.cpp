#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <utility>

#include <fmt/core.h>

#include "control/protocol.hpp"

namespace ecifs::control {

std::string socket_path_from_env() {
    const char* env = std::getenv(socket_env);
    return env && *env ? env : default_socket_path;
}

namespace {

class Fd {
public:
    explicit Fd(int fd) : fd_(fd) {}
    ~Fd() { if (fd_ >= 0) ::close(fd_); }
    Fd(Fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    int get() const { return fd_; }
private:
    int fd_;
};

Fd connect_to(const std::string& path) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (path.size() >= sizeof(addr.sun_path))
        throw ControlError(fmt::format("socket path too long: {}", path));
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    Fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (fd.get() < 0)
        throw ControlError(fmt::format("socket: {}", std::strerror(errno)));
    if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
        int err = errno;
        if (err == ENOENT || err == ECONNREFUSED)
            throw ControlError(fmt::format(
                "the ecifs daemon is not running (nothing listens on {}); start it with 'ecifs'", path));
        throw ControlError(fmt::format("cannot connect to the ecifs daemon at {}: {}", path, std::strerror(err)));
    }
    return fd;
}

void write_all(int fd, const std::string& data) {
    size_t done = 0;
    while (done < data.size()) {
        ssize_t n = ::send(fd, data.data() + done, data.size() - done, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) throw ControlError(fmt::format("sending to the ecifs daemon: {}", std::strerror(errno)));
        done += static_cast<size_t>(n);
    }
}

std::string read_line(int fd) {
    std::string line;
    char buf[4096];
    for (;;) {
        ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) throw ControlError(fmt::format("reading from the ecifs daemon: {}", std::strerror(errno)));
        if (n == 0) throw ControlError("the ecifs daemon closed the connection without a reply");
        line.append(buf, static_cast<size_t>(n));
        if (auto nl = line.find('\n'); nl != std::string::npos) return line.substr(0, nl);
        if (line.size() > 16 * max_message_bytes) throw ControlError("reply from the ecifs daemon is too large");
    }
}

}  // namespace

nlohmann::json request(const std::string& socket_path, const nlohmann::json& req) {
    Fd fd = connect_to(socket_path);
    write_all(fd.get(), req.dump() + "\n");
    nlohmann::json reply = nlohmann::json::parse(read_line(fd.get()), nullptr, false);
    if (reply.is_discarded() || !reply.is_object())
        throw ControlError("the ecifs daemon sent a malformed reply");
    if (!reply.value("ok", false))
        throw ControlError(reply.value("error", std::string("unknown error")));
    return reply;
}

}  // namespace ecifs::control
