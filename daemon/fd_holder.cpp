#include "daemon/fd_holder.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <map>
#include <optional>
#include <stdexcept>
#include <string_view>
#include <thread>

#include <fmt/core.h>

#include "control/fd_passing.hpp"

namespace ecifs::daemon {

namespace {

using namespace std::chrono_literals;

constexpr std::size_t max_key_length = 255;
constexpr std::size_t max_message = 512;  // longer ones arrive truncated and are refused
constexpr std::size_t max_clients = 16;
constexpr std::size_t max_held = 65536;
// A holder nobody asks anything (its spawner died at once) does not linger. Until the
// first request it stays even with no client: a probe that connects and leaves (another
// holder starting) must not end it before the daemon comes.
constexpr int first_client_wait_ms = 60'000;
// A client that stops reading a list reply is dropped, not waited for.
constexpr timeval holder_send_timeout{5, 0};
// The daemon's calls give up on a holder that does not answer.
constexpr timeval client_timeout{10, 0};

// One message, with every fd that came along (closed when it goes, unless taken).
struct Message {
    std::string text;
    std::vector<sys::Fd> fds;
    bool truncated = false;  // longer than max_message
    bool fds_lost = false;   // the kernel dropped fds: no room in our fd table
};

// Blocking (a long list reply fills the socket's buffer); control/fd_passing.hpp's
// receive does not suit here (it tells neither truncation nor how many fds came).
bool send_message(int sock, std::string_view text, int fd) {
    return control::send_with_fd(sock, text, fd, true) == static_cast<ssize_t>(text.size());
}

// Returns what recvmsg returns; 0 is the peer gone (an empty message counts as that).
ssize_t receive_message(int sock, Message& message, int flags) {
    char buf[max_message];
    iovec iov{buf, sizeof buf};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * 8)] = {};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    ssize_t n;
    do n = ::recvmsg(sock, &msg, MSG_CMSG_CLOEXEC | flags);
    while (n < 0 && errno == EINTR);
    if (n < 0) return n;
    for (cmsghdr* cmsg = CMSG_FIRSTHDR(&msg); cmsg; cmsg = CMSG_NXTHDR(&msg, cmsg)) {
        if (cmsg->cmsg_level != SOL_SOCKET || cmsg->cmsg_type != SCM_RIGHTS) continue;
        const std::size_t count = (cmsg->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (std::size_t i = 0; i < count; ++i) {
            int fd;
            std::memcpy(&fd, CMSG_DATA(cmsg) + i * sizeof(int), sizeof(int));
            message.fds.emplace_back(fd);
        }
    }
    message.text.assign(buf, static_cast<std::size_t>(n));
    message.truncated = (msg.msg_flags & MSG_TRUNC) != 0;
    message.fds_lost = (msg.msg_flags & MSG_CTRUNC) != 0;
    return n;
}

bool valid_key(std::string_view key) {
    if (key.empty() || key.size() > max_key_length) return false;
    for (char c : key) {
        const bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        if (!plain && std::string_view("_.+:=-").find(c) == std::string_view::npos) return false;
    }
    return true;
}

sockaddr_un address_of(const std::filesystem::path& path) {
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    const std::string name = path.string();
    if (name.empty() || name.size() >= sizeof address.sun_path)
        throw std::runtime_error(fmt::format("fd holder: socket path {} is empty or too long", name));
    std::memcpy(address.sun_path, name.c_str(), name.size() + 1);
    return address;
}

// A SEQPACKET socket connected to path, or an empty Fd with `error` set. `timeout`
// bounds the connect (a full backlog) and later sends and receives.
sys::Fd connect_to(const std::filesystem::path& path, const timeval& timeout, int& error) {
    const sockaddr_un address = address_of(path);
    sys::Fd sock(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
    if (!sock) {
        error = errno;
        return {};
    }
    ::setsockopt(sock.get(), SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
    ::setsockopt(sock.get(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    int rc;
    do rc = ::connect(sock.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address);
    while (rc < 0 && errno == EINTR);
    if (rc < 0) {
        error = errno;
        return {};
    }
    return sock;
}

// Root, or whoever the holder runs as: nobody else gets or gives fds.
bool trusted_peer(int sock) {
    ucred peer{};
    socklen_t size = sizeof peer;
    if (::getsockopt(sock, SOL_SOCKET, SO_PEERCRED, &peer, &size) != 0) return false;
    return peer.uid == 0 || peer.uid == ::geteuid();
}

// ---------------------------------------------------------------------------------
// The holder.

// Binds the holder's socket (mode 0600). An empty Fd: another holder already serves
// there. A socket file nobody listens on (ECONNREFUSED) is a dead holder's: removed.
sys::Fd bind_listener(const std::filesystem::path& path) {
    const sockaddr_un address = address_of(path);
    for (int attempt = 0; attempt < 3; ++attempt) {
        int error = 0;
        if (connect_to(path, timeval{1, 0}, error) || error == EAGAIN) return {};
        if (error == ECONNREFUSED) ::unlink(path.c_str());
        else if (error != ENOENT) throw std::runtime_error(fmt::format("probing {}: {}", path.string(), std::strerror(error)));
        sys::Fd sock(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
        if (!sock) throw std::runtime_error(fmt::format("socket: {}", std::strerror(errno)));
        const mode_t old_mask = ::umask(0077);
        const int rc = ::bind(sock.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address);
        const int bind_error = errno;
        ::umask(old_mask);
        if (rc != 0 && bind_error == EADDRINUSE) continue;  // another holder just bound it
        if (rc != 0) throw std::runtime_error(fmt::format("bind {}: {}", path.string(), std::strerror(bind_error)));
        ::chmod(path.c_str(), 0600);
        if (::listen(sock.get(), static_cast<int>(max_clients)) != 0)
            throw std::runtime_error(fmt::format("listen {}: {}", path.string(), std::strerror(errno)));
        return sock;
    }
    return {};
}

// Signals an operator sends the daemon's process group must not end the holder
// (quit or SIGKILL do); it holds fds nobody should read out of a core or ptrace.
void prepare_holder_process() {
    for (int signal : {SIGPIPE, SIGHUP, SIGINT, SIGTERM}) ::signal(signal, SIG_IGN);
    ::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    ::setsid();  // fails harmlessly when spawned: already a session leader
    rlimit files{};
    if (::getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
        files.rlim_cur = files.rlim_max;
        ::setrlimit(RLIMIT_NOFILE, &files);
    }
}

class Holder {
public:
    Holder(sys::Fd listener, std::filesystem::path path) : listener_(std::move(listener)), path_(std::move(path)) {
        struct stat st{};
        if (::lstat(path_.c_str(), &st) == 0) socket_id_ = {st.st_dev, st.st_ino};
    }

    int run();

private:
    void accept_client();
    bool serve(int client);  // false: drop the client
    std::optional<std::string> answer(Message& request, int client);  // none: drop the client
    std::string put(std::string_view key, Message& request);
    bool send_list(int client);
    void stop();

    sys::Fd listener_;
    std::filesystem::path path_;
    std::pair<dev_t, ino_t> socket_id_{};
    std::vector<sys::Fd> clients_;
    std::map<std::string, sys::Fd, std::less<>> held_;
    bool seen_client_ = false;
    bool quitting_ = false;
};

int Holder::run() {
    while (!quitting_ && !(seen_client_ && clients_.empty() && held_.empty())) {
        std::vector<pollfd> polled{{listener_.get(), POLLIN, 0}};
        for (const sys::Fd& client : clients_) polled.push_back({client.get(), POLLIN, 0});
        const int n = ::poll(polled.data(), polled.size(), seen_client_ ? -1 : first_client_wait_ms);
        if (n == 0 && clients_.empty()) break;  // nobody came
        if (n < 0) {
            if (errno != EINTR) std::this_thread::sleep_for(100ms);  // ENOMEM: try again
            continue;
        }
        std::vector<int> dropped;
        for (std::size_t i = 1; i < polled.size() && !quitting_; ++i)
            if (polled[i].revents != 0 && !serve(polled[i].fd)) dropped.push_back(polled[i].fd);
        std::erase_if(clients_, [&](const sys::Fd& c) { return std::find(dropped.begin(), dropped.end(), c.get()) != dropped.end(); });
        if (!quitting_ && (polled[0].revents & POLLIN)) accept_client();
    }
    stop();
    return 0;
}

void Holder::accept_client() {
    sys::Fd client(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!client) return;
    if (!trusted_peer(client.get())) return;
    if (clients_.size() >= max_clients) {
        send_message(client.get(), "error too many clients", -1);
        return;
    }
    ::setsockopt(client.get(), SOL_SOCKET, SO_SNDTIMEO, &holder_send_timeout, sizeof holder_send_timeout);
    clients_.push_back(std::move(client));
}

bool Holder::serve(int client) {
    Message request;
    const ssize_t n = receive_message(client, request, MSG_DONTWAIT);
    if (n < 0) return errno == EAGAIN;
    if (n == 0) return false;
    seen_client_ = true;  // a connection that asks nothing (a probe) does not count
    std::optional<std::string> reply;
    try {
        reply = answer(request, client);
    } catch (const std::exception&) {  // bad_alloc: refuse this one, keep the rest
        reply = "error internal";
    }
    return reply && send_message(client, *reply, -1);
}

std::optional<std::string> Holder::answer(Message& request, int client) {
    if (request.truncated) return "error message too long";
    if (request.fds.size() > 1) return "error more than one fd";
    const std::string_view text = request.text;
    const std::size_t space = text.find(' ');
    const std::string_view verb = text.substr(0, space);
    const std::string_view key = space == std::string_view::npos ? std::string_view() : text.substr(space + 1);
    if (verb == "put" && space != std::string_view::npos) return put(key, request);
    if (!request.fds.empty() || request.fds_lost) return "error unexpected fd";
    if (verb == "del" && space != std::string_view::npos) {
        if (!valid_key(key)) return "error bad key";
        if (auto it = held_.find(key); it != held_.end()) held_.erase(it);
        return "ok";
    }
    if (text == "ping") return "ok";
    if (text == "list") {
        if (!send_list(client)) return std::nullopt;  // it does not take the list: dropped
        return "end";
    }
    if (text == "quit") {
        stop();
        quitting_ = true;
        return "ok";
    }
    return "error unknown request";
}

std::string Holder::put(std::string_view key, Message& request) {
    if (!valid_key(key)) return "error bad key";
    if (request.fds.empty()) return request.fds_lost ? "error no room for the fd" : "error put without fd";
    auto it = held_.find(key);
    if (it == held_.end() && held_.size() >= max_held) return "error full";
    if (it != held_.end()) it->second = std::move(request.fds.front());  // the old one closes
    else held_.emplace(std::string(key), std::move(request.fds.front()));
    return "ok";
}

// One message per held fd; the client gets its own reference to the same open file.
bool Holder::send_list(int client) {
    for (const auto& [key, fd] : held_)
        if (!send_message(client, "fd " + key, fd.get())) return false;
    return true;
}

// Closes what is held and removes the socket file, if it is still ours (a dead
// holder's socket may since have been replaced by a new holder's).
void Holder::stop() {
    held_.clear();
    struct stat st{};
    if (::lstat(path_.c_str(), &st) == 0 && std::pair(st.st_dev, st.st_ino) == socket_id_) ::unlink(path_.c_str());
}

// ---------------------------------------------------------------------------------
// Starting a holder.

// Between fork and exec only async-signal-safe calls: the daemon has threads. The
// intermediate process starts a session and exits at once, so the holder is neither
// a session leader (it can gain no terminal) nor the daemon's child (init or a
// subreaper reaps it). An exec that fails sends its errno down `report`.
[[noreturn]] void become_holder(char* const argv[], int report) {
    if (::setsid() < 0) ::_exit(1);
    const pid_t pid = ::fork();
    if (pid != 0) ::_exit(pid < 0 ? 1 : 0);
    report = ::fcntl(report, F_DUPFD_CLOEXEC, 3);  // out of the way of 0, 1 and 2
    const int null = ::open("/dev/null", O_RDWR);
    if (report < 0 || null < 0) ::_exit(1);
    ::dup2(null, 0), ::dup2(null, 1), ::dup2(null, 2);
    if (report > 3) ::close_range(3, static_cast<unsigned>(report) - 1, 0);
    ::close_range(static_cast<unsigned>(report) + 1, ~0U, 0);
    ::execv(argv[0], argv);
    const int error = errno;
    [[maybe_unused]] ssize_t n = ::write(report, &error, sizeof error);
    ::_exit(127);
}

// Runs `exe __fd-holder socket_path` detached; returns once it has exec'd.
void spawn_holder(const std::string& exe, const std::filesystem::path& socket_path) {
    std::string mode = "__fd-holder", socket = socket_path.string(), program = exe;
    const std::array<char*, 4> argv{program.data(), mode.data(), socket.data(), nullptr};
    int pipe_fds[2];
    if (::pipe2(pipe_fds, O_CLOEXEC) != 0) throw std::runtime_error(fmt::format("fd holder: pipe: {}", std::strerror(errno)));
    sys::Fd report_read(pipe_fds[0]), report_write(pipe_fds[1]);
    const pid_t pid = ::fork();
    if (pid < 0) throw std::runtime_error(fmt::format("fd holder: fork: {}", std::strerror(errno)));
    if (pid == 0) become_holder(argv.data(), report_write.get());
    report_write.reset();
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) throw std::runtime_error("fd holder: starting it failed (fork or setsid)");
    int exec_error = 0;
    ssize_t n;
    do n = ::read(report_read.get(), &exec_error, sizeof exec_error);  // EOF: it exec'd
    while (n < 0 && errno == EINTR);
    if (n == sizeof exec_error) throw std::runtime_error(fmt::format("fd holder: cannot run {}: {}", exe, std::strerror(exec_error)));
}

}  // namespace

int run_fd_holder(const std::filesystem::path& socket_path) {
    prepare_holder_process();
    try {
        sys::Fd listener = bind_listener(socket_path);
        if (!listener) return 0;  // another holder serves
        return Holder(std::move(listener), socket_path).run();
    } catch (const std::exception& e) {
        std::fprintf(stderr, "ecifs fd holder: %s\n", e.what());
        return 1;
    }
}


// ---------------------------------------------------------------------------------
// The daemon's side.

FdHolder::FdHolder(sys::Fd socket) : socket_(std::move(socket)) {
    ::setsockopt(socket_.get(), SOL_SOCKET, SO_SNDTIMEO, &client_timeout, sizeof client_timeout);
    ::setsockopt(socket_.get(), SOL_SOCKET, SO_RCVTIMEO, &client_timeout, sizeof client_timeout);
}

FdHolder FdHolder::connect_or_spawn(const std::filesystem::path& socket_path, const std::string& exe) {
    const auto deadline = std::chrono::steady_clock::now() + 2s;
    bool spawned = false;
    for (;;) {
        int error = 0;
        sys::Fd sock = connect_to(socket_path, client_timeout, error);
        if (sock) {
            if (!trusted_peer(sock.get()))
                throw std::runtime_error(fmt::format("fd holder: {} is served by another user", socket_path.string()));
            FdHolder holder(std::move(sock));
            if (holder.ping()) return holder;  // else it was just stopping: try again
        } else if (error != ENOENT && error != ECONNREFUSED) {
            throw std::runtime_error(fmt::format("fd holder: connecting to {}: {}", socket_path.string(), std::strerror(error)));
        } else if (!spawned) {
            spawn_holder(exe, socket_path);
            spawned = true;
            continue;
        }
        if (std::chrono::steady_clock::now() >= deadline)
            throw std::runtime_error(fmt::format("fd holder: nothing answers at {} (started {}: {})", socket_path.string(), exe,
                                                 spawned ? "yes" : "no"));
        std::this_thread::sleep_for(10ms);
    }
}

void FdHolder::put(const std::string& key, int fd) {
    const std::lock_guard lock(*mutex_);
    send("put " + key, fd);
    expect_ok("put " + key, reply());
}

void FdHolder::remove(const std::string& key) {
    const std::lock_guard lock(*mutex_);
    send("del " + key);
    expect_ok("del " + key, reply());
}

std::vector<std::pair<std::string, sys::Fd>> FdHolder::list() {
    const std::lock_guard lock(*mutex_);
    send("list");
    std::vector<std::pair<std::string, sys::Fd>> held;
    for (;;) {
        sys::Fd fd;
        const std::string message = reply(&fd);
        if (message == "end" && !fd) return held;
        if (message.starts_with("error ")) throw std::runtime_error("fd holder: list: " + message.substr(6));
        if (!message.starts_with("fd ") || !fd) fail("list: malformed reply");
        held.emplace_back(message.substr(3), std::move(fd));
    }
}

void FdHolder::quit() {
    const std::lock_guard lock(*mutex_);
    send("quit");
    expect_ok("quit", reply());
    socket_.reset();
}

bool FdHolder::ping() {
    const std::lock_guard lock(*mutex_);
    try {
        send("ping");
        return reply() == "ok";
    } catch (const std::runtime_error&) {
        return false;
    }
}

void FdHolder::send(const std::string& message, int fd) {
    if (!socket_) throw std::runtime_error("fd holder: not connected");
    if (!send_message(socket_.get(), message, fd)) fail(fmt::format("sending {}: {}", message, std::strerror(errno)));
}

// One reply message; an fd may come along only where `fd` takes it.
std::string FdHolder::reply(sys::Fd* fd) {
    Message message;
    const ssize_t n = receive_message(socket_.get(), message, 0);
    if (n < 0) fail(errno == EAGAIN ? "no reply within 10 s" : fmt::format("receiving: {}", std::strerror(errno)));
    if (n == 0) fail("the holder closed the connection");
    if (message.truncated || message.fds.size() > (fd ? 1U : 0U)) fail("malformed reply");
    if (fd && !message.fds.empty()) *fd = std::move(message.fds.front());
    return message.text;
}

void FdHolder::expect_ok(const std::string& what, const std::string& answer) {
    if (answer == "ok") return;
    if (answer.starts_with("error ")) throw std::runtime_error(fmt::format("fd holder: {}: {}", what, answer.substr(6)));
    fail(fmt::format("{}: unexpected reply", what));
}

// A lost or confused holder: the connection is closed (a late reply must not be
// read as the answer to the next request).
void FdHolder::fail(const std::string& what) {
    socket_.reset();
    throw std::runtime_error("fd holder: " + what);
}

}  // namespace ecifs::daemon
