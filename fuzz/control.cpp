// The control protocol as the daemon reads it (control/server.cpp: one request line,
// parsed, the peer checked, handed to the handler, the reply written even when the
// request's bytes are not UTF-8) and the descriptor passing under it
// (control/fd_passing.cpp: SCM_RIGHTS received, extra descriptors closed).
//
// The input's first byte says who asks (even: root, odd: another uid) and how many
// descriptors travel with the line (byte / 2 % 6); the rest is the line. The handler
// is a stand-in for the daemon's: it answers, echoes fields into replies and errors as
// the daemon does (its op dispatch and field checks are daemon/daemon.cpp's own).
#include <dirent.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>

#include <boost/asio/io_context.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "control/fd_passing.hpp"
#include "control/server.hpp"

namespace ctl = ecifs::control;
using nlohmann::json;

namespace {

void check(bool ok) {
    if (!ok) std::abort();
}

ctl::Answer handle(const json& request, const ctl::Peer&) {
    const std::string op = request["op"].get<std::string>();
    if (op == "list") return {{{"containers", json::array()}}, {}};
    if (op == "inspect") return {{{"container", request}}, {}};  // request fields in the reply
    if (op == "prepare") return {{{"mount", request.value("id", std::string("x"))}}, ecifs::sys::Fd(::open("/dev/null", O_RDONLY | O_CLOEXEC))};
    throw std::invalid_argument("unknown op \"" + op + "\"");
}

struct Fixture {
    std::string dir;
    boost::asio::io_context io;
    std::unique_ptr<ctl::Server> server;
    Fixture() {
        spdlog::set_level(spdlog::level::off);
        const char* tmp = std::getenv("TMPDIR");
        dir = std::string(tmp && *tmp ? tmp : "/tmp") + "/ecifs-fuzz-control.XXXXXX";
        check(::mkdtemp(dir.data()) != nullptr);
        server = std::make_unique<ctl::Server>(io, dir + "/ecifs.sock", handle);
    }
    ~Fixture() {
        server.reset();  // removes the socket
        ::rmdir(dir.c_str());
    }
};

Fixture& fixture() {
    static Fixture f;
    return f;
}

void answer(const std::string& line, bool root) {
    const ctl::ReplyLine reply = fixture().server->answer(line, ctl::Peer{1, root ? 0u : 1000u});
    check(reply.text.find('\n') == std::string::npos);  // one reply, one line
    const json body = json::parse(reply.text, nullptr, false);
    check(body.is_object() && body.contains("ok") && body["ok"].is_boolean());
}

int open_fds() {
    int n = 0;
    if (DIR* d = ::opendir("/proc/self/fd")) {
        while (::readdir(d)) ++n;
        ::closedir(d);
    }
    return n;
}

// The line sent over a socket pair with `count` descriptors, received as the client does.
void pass(std::string_view line, int count) {
    int pair[2];
    check(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) == 0);
    const int before = open_fds();
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * 8)] = {};
    iovec iov{const_cast<char*>(line.data()), line.size()};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    int fds[8];
    for (int i = 0; i < count; ++i) fds[i] = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (count > 0) {
        msg.msg_control = control;
        msg.msg_controllen = CMSG_SPACE(sizeof(int) * count);
        cmsghdr* c = CMSG_FIRSTHDR(&msg);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int) * count);
        std::memcpy(CMSG_DATA(c), fds, sizeof(int) * count);
    }
    const bool sent = line.empty() || ::sendmsg(pair[0], &msg, MSG_NOSIGNAL) == static_cast<ssize_t>(line.size());
    for (int i = 0; i < count; ++i) ::close(fds[i]);
    if (sent && !line.empty()) {
        std::string buf(line.size() + 16, '\0');
        ecifs::sys::Fd received;
        const ssize_t n = ctl::receive_with_fd(pair[1], buf.data(), buf.size(), received);
        check(n == static_cast<ssize_t>(line.size()));
        check(static_cast<bool>(received) == (count > 0));
        // One kept, the rest closed: nothing else is left open by the receiving.
        check(open_fds() == before + (count > 0 ? 1 : 0));
    }
    ::close(pair[0]);
    ::close(pair[1]);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    const bool root = data[0] % 2 == 0;
    const int fds = data[0] / 2 % 6;
    const std::string line(reinterpret_cast<const char*>(data + 1), size - 1);
    answer(line, root);
    pass(line.substr(0, 4096), fds);
    return 0;
}
