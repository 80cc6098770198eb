#include "ns/executor.hpp"

#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <stdexcept>

#include <fmt/core.h>

#include "sys/caller_task.hpp"
#include "sys/credentials.hpp"
#include "sys/files.hpp"
#include "sys/helper_spawn.hpp"
#include "sys/text.hpp"
#include "sys/wire.hpp"

namespace ecifs::ns {

using sys::ActingAs;
using sys::Credentials;
using sys::Fd;
using sys::Namespaces;
using sys::Ns;
using sys::list_directory;
using sys::open_task_dir;
using sys::own_namespace;
using sys::read_credentials;
using sys::read_file;
using sys::read_to_end;
using sys::spawn_helper;
namespace wire = sys::wire;

namespace {

// One request or reply is one SOCK_SEQPACKET message, a CBOR map (sys/wire.hpp):
//   request: op ("read", "write", "stat", "list" or "open"), caller (a host tid: opens,
//            reads and writes act with its rights), path (relative to /proc/sys), data
//            (a write's), access (an open's: O_RDONLY, O_WRONLY or O_RDWR)
//   reply:   errno (0 = success), and on success content (a read's), entry (a stat's, an
//            open's), entries (a list's); for an open of a file read_errno (EBADF when
//            opened write-only) and, when that is 0, content
// An entry: name, dir, root (owned by root of the executor's user namespace), mode.
constexpr std::size_t max_message = 1 << 20;
constexpr const char* sysctl_root = "/proc/sys/";
// Room left in a message for the reply's other fields, around a file's content.
constexpr std::size_t max_content = max_message - 4096;

// Only plain relative paths below /proc/sys: no "..", no absolute paths, no empty parts.
bool safe_relative(std::string_view path) {
    if (path.empty()) return true;
    if (path.front() == '/' || path.back() == '/') return false;
    for (const auto part : sys::split_on(path, '/'))
        if (part.empty() || part == "." || part == "..") return false;
    return true;
}

wire::Message entry_message(const std::string& name, const struct stat& st) {
    return {{"name", wire::bytes(name)},
            {"dir", S_ISDIR(st.st_mode)},
            {"root", st.st_uid == 0},
            {"mode", static_cast<uint32_t>(st.st_mode & 07777)}};
}

SysctlEntry entry_from(const wire::Message& m) {
    SysctlEntry entry;
    entry.name = wire::get_bytes(m, "name");
    entry.is_dir = wire::get_bool(m, "dir");
    entry.owned_by_root = wire::get_bool(m, "root");
    entry.mode = wire::get_int<uint32_t>(m, "mode") & 07777;
    return entry;
}

// ---- the helper's side ---------------------------------------------------------

int serve_read(const std::string& path, wire::Message& reply) {
    std::string content;
    const int err = read_file(path, content);
    if (content.size() > max_content) content.resize(max_content);
    reply["content"] = wire::bytes(content);
    return err;
}

int serve_write(const std::string& path, std::string_view data) {
    const Fd file(::open(path.c_str(), O_WRONLY | O_NOFOLLOW | O_CLOEXEC));
    if (!file) return errno;
    return ::write(file.get(), data.data(), data.size()) < 0 ? errno : 0;
}

int serve_stat(const std::string& path, wire::Message& reply) {
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0) return errno;
    reply["entry"] = entry_message("", st);
    return 0;
}

// The kernel refuses an open it does not permit (EACCES, at open); a file it lets open
// may still fail at read (net.ipv6.conf.*.stable_secret: EIO until it is set).
int serve_open(const std::string& path, int access, wire::Message& reply) {
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0) return errno;
    reply["entry"] = entry_message("", st);
    if (S_ISDIR(st.st_mode)) return 0;
    Fd file(::open(path.c_str(), access | O_NOFOLLOW | O_CLOEXEC));
    if (!file) return errno;
    std::string content;
    const int32_t read_err = access == O_WRONLY ? EBADF : read_to_end(file.get(), content);
    if (content.size() > max_content) content.resize(max_content);
    reply["read_errno"] = read_err;
    if (!read_err) reply["content"] = wire::bytes(content);
    return 0;
}

bool valid_access(int access) { return access == O_RDONLY || access == O_WRONLY || access == O_RDWR; }

int serve_list(const std::string& path, wire::Message& reply) {
    std::vector<std::pair<std::string, struct stat>> entries;
    if (int err = list_directory(path, entries)) return err;
    wire::Message listed = wire::Message::array();
    for (const auto& [name, st] : entries) listed.push_back(entry_message(name, st));
    reply["entries"] = std::move(listed);
    return 0;
}

// A read or write of a sysctl is the kernel's to allow or refuse (proc_sys_permission at
// open, again at each read and write): with the caller's effective ids and capabilities,
// not ours. The kernel's rules there are not the mode bits FUSE checks (net sysctls need
// CAP_NET_ADMIN in the network namespace's owner; user.* CAP_SYS_RESOURCE).
template <typename Serve>
int32_t as_caller(pid_t caller, Serve&& serve) {
    Credentials creds;
    if (int err = read_credentials(caller, creds)) return err == ESRCH ? EACCES : err;
    ActingAs acting(creds);
    if (acting.error()) return EACCES;
    return serve();
}

int serve(const wire::Message& request, const std::string& path, wire::Message& reply) {
    const std::string op = wire::get_text(request, "op");
    const pid_t caller = wire::get_int<int32_t>(request, "caller");
    if (op == "read") return as_caller(caller, [&] { return serve_read(path, reply); });
    if (op == "write") {
        const std::string data = wire::get_bytes(request, "data");
        return as_caller(caller, [&] { return serve_write(path, data); });
    }
    if (op == "stat") return serve_stat(path, reply);
    if (op == "list") return serve_list(path, reply);
    if (op == "open") {
        const int access = wire::get_int<int>(request, "access");
        if (!valid_access(access)) return EINVAL;
        return as_caller(caller, [&] { return serve_open(path, access, reply); });
    }
    return EINVAL;
}

// A request it cannot serve (malformed, an unsafe path) gets EINVAL.
std::string serve(std::string_view bytes) {
    wire::Message reply = wire::Message::object();
    int32_t err = EINVAL;
    try {
        const wire::Message request = wire::decode(bytes);
        const std::string relative = wire::get_bytes(request, "path");
        if (safe_relative(relative)) err = serve(request, sysctl_root + relative, reply);
    } catch (const wire::WireError&) {
        err = EINVAL;
    }
    if (err) reply = wire::Message::object();
    reply["errno"] = err;
    return wire::encode(reply);
}

// The executor's namespaces, inherited at these fds (see NsExecutor's constructor).
constexpr int user_fd = 4, net_fd = 5, uts_fd = 6, ipc_fd = 7;

// Join the target's namespaces and become root there: the kernel then grants exactly
// what it grants the container's root.
int join_namespaces(const Namespaces& ns) {
    ::setgroups(0, nullptr);
    const bool other_user_ns = ns.inode(Ns::user) != own_namespace(Ns::user);
    if (int err = ns.join()) return err;
    if (other_user_ns && (::setresgid(0, 0, 0) != 0 || ::setresuid(0, 0, 0) != 0)) return errno;
    return 0;
}

}  // namespace

int run_ns_executor(int socket_fd, pid_t target) {
    Namespaces ns({user_fd, -1, -1, net_fd, uts_fd, ipc_fd});
    if (int err = join_namespaces(ns)) {
        std::fprintf(stderr, "ecifs ns-executor: cannot join the namespaces of thread %d: %s\n", target, std::strerror(err));
        return 1;
    }
    ns.close();
    // Not filled: only the pages a request reaches count in the helper's memory.
    const auto request = std::make_unique_for_overwrite<char[]>(max_message);
    for (;;) {
        ssize_t n = ::recv(socket_fd, request.get(), max_message, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return 0;  // the daemon is gone or done with us
        std::string reply = serve(std::string_view(request.get(), static_cast<size_t>(n)));
        if (::send(socket_fd, reply.data(), reply.size(), MSG_NOSIGNAL) < 0) return 0;
    }
}

const std::string& self_executable() {
    static const std::string path = "/proc/self/exe";
    return path;
}

// ---- the daemon's side --------------------------------------------------------------

NsExecutor::NsExecutor(const Namespaces& ns, pid_t target, const std::string& exe) {
    int pair[2];
    if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) != 0)
        throw std::runtime_error(fmt::format("socketpair: {}", std::strerror(errno)));
    Fd ours(pair[0]), theirs(pair[1]);
    int size = static_cast<int>(max_message + 64);
    for (int fd : pair) {
        ::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
        ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    }
    // fd 3 the socket, 4-7 the namespaces (user_fd, net_fd, uts_fd, ipc_fd).
    const int fds[] = {theirs.get(), ns.fd(Ns::user), ns.fd(Ns::net), ns.fd(Ns::uts), ns.fd(Ns::ipc)};
    // The helper stays in the daemon's cgroup, counted against the container only by
    // NsExecutors::max_executors. In the container's cgroup it would show there: in its
    // cgroup.procs, pids.current (a fork failing at pids.max that runc's would not) and
    // memory.current, a difference from runc.
    pid_ = spawn_helper(exe, {"__ns-executor", std::to_string(target)}, fds);
    socket_ = std::move(ours);
}

NsExecutor::~NsExecutor() {
    socket_.reset();  // the helper sees EOF
    if (pid_ > 0) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, nullptr, 0);
    }
}

namespace {

// One message from `fd`, waiting until `deadline` at most: its size, 0 at EOF, -1 on an
// error or at the deadline.
ssize_t receive_until(int fd, char* buffer, size_t size, std::chrono::steady_clock::time_point deadline) {
    using namespace std::chrono;
    for (;;) {
        const auto left = duration_cast<milliseconds>(deadline - steady_clock::now()).count();
        pollfd waiting{fd, POLLIN, 0};
        const int ready = ::poll(&waiting, 1, static_cast<int>(std::max<long long>(left, 0)));
        if (ready < 0 && errno == EINTR) continue;
        if (ready <= 0) return -1;
        const ssize_t n = ::recv(fd, buffer, size, MSG_DONTWAIT);
        if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
        return n;
    }
}

}  // namespace

int NsExecutor::call(const wire::Message& request, const std::function<void(const wire::Message&)>& take) {
    const auto deadline = std::chrono::steady_clock::now() + exchange_timeout;
    const std::string bytes = wire::encode(request);
    // The one in flight before us ends by its own deadline; a helper it found dead
    // fails the others at once instead of making each wait again.
    std::unique_lock lock(mutex_, deadline);
    if (!lock.owns_lock() || dead_) return EIO;
    if (::send(socket_.get(), bytes.data(), bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
        dead_ = true;
        return EIO;
    }
    // Room for the largest reply, not filled: zeroing 1 MiB on every exchange cost a
    // namespaced read most of its time and kept the pages it touched (STRESS.md).
    const auto reply = std::make_unique_for_overwrite<char[]>(max_message + 64);
    const ssize_t n = receive_until(socket_.get(), reply.get(), max_message + 64, deadline);
    if (n <= 0) {
        dead_ = true;  // the helper exited or hangs: the next request gets a new one
        return EIO;
    }
    try {
        const wire::Message message = wire::decode(std::string_view(reply.get(), static_cast<size_t>(n)));
        const int32_t err = wire::get_int<int32_t>(message, "errno");
        if (err == 0) take(message);
        return err;
    } catch (const wire::WireError&) {
        dead_ = true;  // out of step with us: the next request gets a new one
        return EIO;
    }
}

namespace {

wire::Message request_for(const char* op, pid_t caller, const std::string& path) {
    return {{"op", op}, {"caller", static_cast<int32_t>(caller)}, {"path", wire::bytes(path)}};
}

}  // namespace

int NsExecutor::read(pid_t caller, const std::string& path, std::string& out) {
    return call(request_for("read", caller, path), [&](const wire::Message& reply) { out = wire::get_bytes(reply, "content"); });
}

int NsExecutor::write(pid_t caller, const std::string& path, std::string_view data) {
    wire::Message request = request_for("write", caller, path);
    request["data"] = wire::bytes(data);
    return call(request, [](const wire::Message&) {});
}

int NsExecutor::stat(const std::string& path, SysctlEntry& out) {
    return call(request_for("stat", 0, path), [&](const wire::Message& reply) { out = entry_from(wire::field(reply, "entry")); });
}

int NsExecutor::open(pid_t caller, const std::string& path, int access, SysctlEntry& entry, int& read_result,
                     std::string& content) {
    wire::Message request = request_for("open", caller, path);
    request["access"] = access & O_ACCMODE;
    return call(request, [&](const wire::Message& reply) {
        entry = entry_from(wire::field(reply, "entry"));
        if (entry.is_dir) {
            read_result = EISDIR;
            return;
        }
        read_result = wire::get_int<int32_t>(reply, "read_errno");
        content = read_result ? std::string() : wire::get_bytes(reply, "content");
    });
}

int NsExecutor::list(const std::string& dir, std::vector<SysctlEntry>& out) {
    return call(request_for("list", 0, dir), [&](const wire::Message& reply) {
        out.clear();
        for (const wire::Message& entry : wire::get_array(reply, "entries")) out.push_back(entry_from(entry));
    });
}

namespace {

// The namespaces an executor joins, of one thread (any thread: see caller_task.hpp).
Namespaces executor_namespaces(pid_t tid) {
    static constexpr Ns kinds[] = {Ns::user, Ns::net, Ns::uts, Ns::ipc};
    Fd task = open_task_dir(tid);
    return Namespaces(task.get(), kinds);
}

}  // namespace

std::shared_ptr<NsExecutor> NsExecutors::for_process(pid_t caller, pid_t fallback) {
    pid_t target = caller;
    Namespaces ns = executor_namespaces(caller);
    if (!ns.ok()) {
        target = fallback;  // the caller exited meanwhile, or is not visible to us
        ns = executor_namespaces(target);
    }
    if (!ns.ok())
        throw std::runtime_error(fmt::format("cannot open the namespaces of thread {} (nor of {}): {}", caller,
                                             fallback, std::strerror(ns.error())));
    // The key is read from the very fds the executor joins.
    const Key key{ns.inode(Ns::user), ns.inode(Ns::net), ns.inode(Ns::uts), ns.inode(Ns::ipc)};
    return table_.get(key, [&] { return std::make_shared<NsExecutor>(ns, target, self_executable()); });
}

void NsExecutors::reap_idle(std::chrono::steady_clock::duration idle) { table_.drop_idle(idle); }

void NsExecutors::clear() { table_.clear(); }

std::size_t NsExecutors::size() const { return table_.size(); }

}  // namespace ecifs::ns
