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

sys::Fd connect_to(const std::string& path) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (path.size() >= sizeof(addr.sun_path))
        throw ControlError(fmt::format("socket path too long: {}", path));
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    sys::Fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (fd.get() < 0)
        throw ControlError(fmt::format("socket: {}", std::strerror(errno)));
    if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
        int err = errno;
        if (err == ENOENT || err == ECONNREFUSED)
            throw DaemonUnreachable(fmt::format(
                "the ecifs daemon is not running (nothing listens on {}); start it with 'ecifs'", path));
        throw DaemonUnreachable(
            fmt::format("cannot connect to the ecifs daemon at {}: {}", path, std::strerror(err)));
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

// One reply line; a descriptor that came with it is kept in `passed`.
std::string read_line(int fd, sys::Fd& passed) {
    std::string line;
    char buf[4096];
    for (;;) {
        ssize_t n = receive_with_fd(fd, buf, sizeof buf, passed);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) throw ControlError(fmt::format("reading from the ecifs daemon: {}", std::strerror(errno)));
        if (n == 0) throw ControlError("the ecifs daemon closed the connection without a reply");
        line.append(buf, static_cast<size_t>(n));
        if (auto nl = line.find('\n'); nl != std::string::npos) return line.substr(0, nl);
        if (line.size() > 16 * max_message_bytes) throw ControlError("reply from the ecifs daemon is too large");
    }
}

}  // namespace

ReplyWithFd request_with_fd(const std::string& socket_path, const nlohmann::json& req) {
    sys::Fd socket = connect_to(socket_path);
    write_all(socket.get(), req.dump() + "\n");
    ReplyWithFd reply;
    reply.body = nlohmann::json::parse(read_line(socket.get(), reply.fd), nullptr, false);
    if (reply.body.is_discarded() || !reply.body.is_object())
        throw ControlError("the ecifs daemon sent a malformed reply");
    if (!reply.body.value("ok", false))
        throw ControlError(reply.body.value("error", std::string("unknown error")));
    return reply;
}

nlohmann::json request(const std::string& socket_path, const nlohmann::json& req) {
    return request_with_fd(socket_path, req).body;
}

}  // namespace ecifs::control
