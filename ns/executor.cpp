#include "ns/executor.hpp"

#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include <fmt/core.h>

#include "sys/caller_task.hpp"
#include "sys/credentials.hpp"
#include "sys/files.hpp"
#include "sys/helper_spawn.hpp"

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

namespace {

// One request or reply is one SOCK_SEQPACKET message:
//   request: op byte ('R' read, 'W' write, 'S' stat, 'L' list, 'O' open),
//            int32 caller (a host tid: opens, reads and writes act with its rights), path, NUL, data
//            (for 'O': the open's access mode, one byte: O_RDONLY, O_WRONLY or O_RDWR)
//   reply:   int32 errno (0 = success), payload
// A stat or list payload holds entries: type byte ('d' or 'f'; 'D' or 'F' if owned by
// root of the executor's user namespace), uint32 mode, name, NUL.
// An 'O' payload is the stat entry, then for a file int32 errno of the read (EBADF when
// opened write-only) and its content.
constexpr std::size_t max_message = 1 << 20;
constexpr const char* sysctl_root = "/proc/sys/";

// Only plain relative paths below /proc/sys: no "..", no absolute paths, no empty parts.
bool safe_relative(std::string_view path) {
    if (path.empty()) return true;
    if (path.front() == '/' || path.back() == '/') return false;
    size_t start = 0;
    while (start <= path.size()) {
        size_t end = path.find('/', start);
        if (end == std::string_view::npos) end = path.size();
        std::string_view part = path.substr(start, end - start);
        if (part.empty() || part == "." || part == "..") return false;
        start = end + 1;
    }
    return true;
}

void append_entry(std::string& out, const std::string& name, const struct stat& st) {
    const bool owned_by_root = st.st_uid == 0;
    out.push_back(S_ISDIR(st.st_mode) ? (owned_by_root ? 'D' : 'd') : (owned_by_root ? 'F' : 'f'));
    uint32_t mode = st.st_mode & 07777;
    out.append(reinterpret_cast<const char*>(&mode), sizeof mode);
    out.append(name);
    out.push_back('\0');
}

// ---- the helper's side ---------------------------------------------------------

int serve_read(const std::string& path, std::string& out) {
    int err = read_file(path, out);
    if (out.size() > max_message - 64) out.resize(max_message - 64);
    return err;
}

int serve_write(const std::string& path, std::string_view data) {
    const Fd file(::open(path.c_str(), O_WRONLY | O_NOFOLLOW | O_CLOEXEC));
    if (!file) return errno;
    return ::write(file.get(), data.data(), data.size()) < 0 ? errno : 0;
}

int serve_stat(const std::string& path, std::string& out) {
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0) return errno;
    append_entry(out, "", st);
    return 0;
}

// The kernel refuses an open it does not permit (EACCES, at open); a file it lets open
// may still fail at read (net.ipv6.conf.*.stable_secret: EIO until it is set).
int serve_open(const std::string& path, int access, std::string& out) {
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0) return errno;
    append_entry(out, "", st);
    if (S_ISDIR(st.st_mode)) return 0;
    Fd file(::open(path.c_str(), access | O_NOFOLLOW | O_CLOEXEC));
    if (!file) return errno;
    std::string content;
    const int32_t read_err = access == O_WRONLY ? EBADF : read_to_end(file.get(), content);
    if (content.size() > max_message - 64) content.resize(max_message - 64);
    out.append(reinterpret_cast<const char*>(&read_err), sizeof read_err);
    if (!read_err) out.append(content);
    return 0;
}

int access_mode(std::string_view data) {
    if (data.size() != 1) return -1;
    const int access = data[0];
    return access == O_RDONLY || access == O_WRONLY || access == O_RDWR ? access : -1;
}

int serve_list(const std::string& path, std::string& out) {
    std::vector<std::pair<std::string, struct stat>> entries;
    if (int err = list_directory(path, entries)) return err;
    for (const auto& [name, st] : entries) append_entry(out, name, st);
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

std::string serve(std::string_view request) {
    int32_t err = EINVAL;
    std::string payload;
    int32_t caller = 0;
    const size_t header = 1 + sizeof caller;
    size_t nul = request.find('\0', header);
    if (nul != std::string_view::npos && safe_relative(request.substr(header, nul - header))) {
        std::memcpy(&caller, request.data() + 1, sizeof caller);
        std::string path = sysctl_root + std::string(request.substr(header, nul - header));
        std::string_view data = request.substr(nul + 1);
        switch (request.front()) {
            case 'R': err = as_caller(caller, [&] { return serve_read(path, payload); }); break;
            case 'W': err = as_caller(caller, [&] { return serve_write(path, data); }); break;
            case 'S': err = serve_stat(path, payload); break;
            case 'L': err = serve_list(path, payload); break;
            case 'O':
                if (int access = access_mode(data); access >= 0)
                    err = as_caller(caller, [&] { return serve_open(path, access, payload); });
                break;
        }
    }
    if (err) payload.clear();
    return std::string(reinterpret_cast<const char*>(&err), sizeof err) + payload;
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
    std::string request(max_message, '\0');
    for (;;) {
        ssize_t n = ::recv(socket_fd, request.data(), request.size(), 0);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return 0;  // the daemon is gone or done with us
        std::string reply = serve(std::string_view(request.data(), static_cast<size_t>(n)));
        if (::send(socket_fd, reply.data(), reply.size(), MSG_NOSIGNAL) < 0) return 0;
    }
}

const std::string& self_executable() {
    static const std::string path = [] {
        char buf[4096];
        ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
        return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string("/proc/self/exe");
    }();
    return path;
}

// ---- the daemon's side --------------------------------------------------------------

NsExecutor::NsExecutor(const Namespaces& ns, pid_t target, const std::string& exe)
    : last_used_(std::chrono::steady_clock::now()) {
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
    pid_ = spawn_helper(exe, {"__ns-executor", std::to_string(target)}, fds);
    socket_ = std::move(ours);
    // A helper that hangs must not hang a FUSE request for ever.
    timeval timeout{5, 0};
    ::setsockopt(socket_.get(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
}

NsExecutor::~NsExecutor() {
    socket_.reset();  // the helper sees EOF
    if (pid_ > 0) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, nullptr, 0);
    }
}

bool NsExecutor::alive() const {
    std::lock_guard lock(mutex_);
    return !dead_;
}

std::chrono::steady_clock::time_point NsExecutor::last_used() const {
    std::lock_guard lock(mutex_);
    return last_used_;
}

int NsExecutor::call(char op, pid_t caller, const std::string& path, std::string_view data, std::string& reply) {
    std::string request;
    request.reserve(path.size() + data.size() + 6);
    request.push_back(op);
    const int32_t caller_tid = caller;
    request.append(reinterpret_cast<const char*>(&caller_tid), sizeof caller_tid);
    request.append(path);
    request.push_back('\0');
    request.append(data);
    std::lock_guard lock(mutex_);
    last_used_ = std::chrono::steady_clock::now();
    if (::send(socket_.get(), request.data(), request.size(), MSG_NOSIGNAL) < 0) return EIO;
    reply.resize(max_message + 64);
    ssize_t n;
    do n = ::recv(socket_.get(), reply.data(), reply.size(), 0);
    while (n < 0 && errno == EINTR);
    if (n < static_cast<ssize_t>(sizeof(int32_t))) {
        dead_ = true;  // the helper exited or hangs: the next request gets a new one
        return EIO;
    }
    int32_t err;
    std::memcpy(&err, reply.data(), sizeof err);
    reply = reply.substr(sizeof err, static_cast<size_t>(n) - sizeof err);
    return err;
}

namespace {

std::vector<SysctlEntry> parse_entries(std::string_view payload) {
    std::vector<SysctlEntry> entries;
    while (payload.size() > 1 + sizeof(uint32_t)) {
        SysctlEntry entry;
        entry.is_dir = payload[0] == 'd' || payload[0] == 'D';
        entry.owned_by_root = payload[0] == 'D' || payload[0] == 'F';
        uint32_t mode;
        std::memcpy(&mode, payload.data() + 1, sizeof mode);
        entry.mode = mode;
        payload.remove_prefix(1 + sizeof mode);
        size_t nul = payload.find('\0');
        if (nul == std::string_view::npos) break;
        entry.name = std::string(payload.substr(0, nul));
        payload.remove_prefix(nul + 1);
        entries.push_back(std::move(entry));
    }
    return entries;
}

}  // namespace

int NsExecutor::read(pid_t caller, const std::string& path, std::string& out) { return call('R', caller, path, {}, out); }

int NsExecutor::write(pid_t caller, const std::string& path, std::string_view data) {
    std::string reply;
    return call('W', caller, path, data, reply);
}

int NsExecutor::stat(const std::string& path, SysctlEntry& out) {
    std::string reply;
    if (int err = call('S', 0, path, {}, reply)) return err;
    auto entries = parse_entries(reply);
    if (entries.size() != 1) return EIO;
    out = std::move(entries.front());
    return 0;
}

int NsExecutor::open(pid_t caller, const std::string& path, int access, SysctlEntry& entry, int& read_result,
                     std::string& content) {
    std::string reply;
    const char mode = static_cast<char>(access & O_ACCMODE);
    if (int err = call('O', caller, path, std::string_view(&mode, 1), reply)) return err;
    // The entry (type, mode, empty name, NUL), then for a file the read's errno and text.
    constexpr size_t entry_size = 1 + sizeof(uint32_t) + 1;
    if (reply.size() < entry_size) return EIO;
    auto entries = parse_entries(std::string_view(reply).substr(0, entry_size));
    if (entries.size() != 1) return EIO;
    entry = std::move(entries.front());
    if (entry.is_dir) {
        read_result = EISDIR;
        return 0;
    }
    if (reply.size() < entry_size + sizeof(int32_t)) return EIO;
    int32_t read_err;
    std::memcpy(&read_err, reply.data() + entry_size, sizeof read_err);
    read_result = read_err;
    content = read_err ? std::string() : reply.substr(entry_size + sizeof read_err);
    return 0;
}

int NsExecutor::list(const std::string& dir, std::vector<SysctlEntry>& out) {
    std::string reply;
    if (int err = call('L', 0, dir, {}, reply)) return err;
    out = parse_entries(reply);
    return 0;
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
    std::lock_guard lock(mutex_);
    auto it = executors_.find(key);
    if (it != executors_.end() && it->second->alive()) return it->second;
    auto executor = std::make_shared<NsExecutor>(ns, target, self_executable());
    executors_[key] = executor;
    return executor;
}

void NsExecutors::reap_idle(std::chrono::steady_clock::duration idle) {
    std::vector<std::shared_ptr<NsExecutor>> stale;
    {
        std::lock_guard lock(mutex_);
        const auto now = std::chrono::steady_clock::now();
        for (auto it = executors_.begin(); it != executors_.end();) {
            if (now - it->second->last_used() > idle) {
                stale.push_back(std::move(it->second));
                it = executors_.erase(it);
            } else {
                ++it;
            }
        }
    }
    // Destroyed here, outside the lock (a request in flight keeps its own reference).
}

void NsExecutors::clear() {
    std::map<Key, std::shared_ptr<NsExecutor>> all;
    std::lock_guard lock(mutex_);
    all.swap(executors_);
}

std::size_t NsExecutors::size() const {
    std::lock_guard lock(mutex_);
    return executors_.size();
}

}  // namespace ecifs::ns
