#include "emulation/mount_helper.hpp"

#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <sched.h>
#include <sys/fsuid.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include <fmt/core.h>

#include "emulation/caller_task.hpp"
#include "emulation/helper_spawn.hpp"
#include "emulation/seccomp_mounts.hpp"
#include "emulation/seccomp_notify.hpp"

namespace ecifs::emulation::mount_helper {

namespace {

constexpr std::size_t max_message = 1 << 20;

// ---- encoding: fixed-size integers and length-prefixed strings --------------------

template <typename T>
void put(std::string& out, T value) {
    out.append(reinterpret_cast<const char*>(&value), sizeof value);
}
void put_string(std::string& out, std::string_view s) {
    put<uint32_t>(out, static_cast<uint32_t>(s.size()));
    out.append(s);
}
void put_optional(std::string& out, const std::optional<std::string>& s) {
    put<uint8_t>(out, s ? 1 : 0);
    if (s) put_string(out, *s);
}

struct Reader {
    std::string_view in;
    bool ok = true;

    template <typename T>
    T get() {
        T value{};
        if (in.size() < sizeof value) {
            ok = false;
            return value;
        }
        std::memcpy(&value, in.data(), sizeof value);
        in.remove_prefix(sizeof value);
        return value;
    }
    std::string get_string() {
        auto n = get<uint32_t>();
        if (!ok || in.size() < n) {
            ok = false;
            return {};
        }
        std::string s(in.substr(0, n));
        in.remove_prefix(n);
        return s;
    }
    std::optional<std::string> get_optional() {
        if (get<uint8_t>() == 0) return std::nullopt;
        return get_string();
    }
};

// ---- the helper's side --------------------------------------------------------------

struct Fd {
    int fd = -1;
    Fd() = default;
    explicit Fd(int f) : fd(f) {}
    Fd(Fd&& o) noexcept : fd(std::exchange(o.fd, -1)) {}
    Fd& operator=(Fd&& o) noexcept {
        if (this != &o) {
            reset();
            fd = std::exchange(o.fd, -1);
        }
        return *this;
    }
    ~Fd() { reset(); }
    void reset() {
        if (fd >= 0) ::close(fd);
        fd = -1;
    }
    explicit operator bool() const { return fd >= 0; }
};

Reply failed(int error, std::string message) { return Reply{false, error, std::move(message)}; }
Reply failed_errno(std::string_view what) {
    int err = errno;
    return failed(err, fmt::format("{}: {}", what, std::strerror(err)));
}

// What was opened in the host's namespaces, before joining the caller's.
struct Opened {
    Fd proc;   // the host's /proc: /proc/self/mountinfo and /proc/self/fd stay reachable
    Fd root, cwd;
    std::vector<std::pair<Fd, std::string>> trees;  // detached clones of the views, and where each goes
};

// The caller's credentials, as its /proc/PID/status shows them to a reader in its user
// namespace (opened after joining it, so the ids are mapped into that namespace).
struct Credentials {
    uid_t uid[4] = {};  // real, effective, saved, filesystem
    gid_t gid[4] = {};
    std::vector<gid_t> groups;
    uint64_t inheritable = 0, permitted = 0, effective = 0;
};

bool parse_credentials(std::string_view status, Credentials& out) {
    int found = 0;
    std::size_t start = 0;
    while (start < status.size()) {
        std::size_t end = status.find('\n', start);
        if (end == std::string_view::npos) end = status.size();
        std::string line(status.substr(start, end - start));
        start = end + 1;
        unsigned long long a, b, c, d;
        if (std::sscanf(line.c_str(), "Uid: %llu %llu %llu %llu", &a, &b, &c, &d) == 4) {
            out.uid[0] = static_cast<uid_t>(a), out.uid[1] = static_cast<uid_t>(b);
            out.uid[2] = static_cast<uid_t>(c), out.uid[3] = static_cast<uid_t>(d);
            ++found;
        } else if (std::sscanf(line.c_str(), "Gid: %llu %llu %llu %llu", &a, &b, &c, &d) == 4) {
            out.gid[0] = static_cast<gid_t>(a), out.gid[1] = static_cast<gid_t>(b);
            out.gid[2] = static_cast<gid_t>(c), out.gid[3] = static_cast<gid_t>(d);
            ++found;
        } else if (line.rfind("Groups:", 0) == 0) {
            const char* p = line.c_str() + 7;
            char* next;
            for (unsigned long long g = std::strtoull(p, &next, 10); next != p; g = std::strtoull(p, &next, 10)) {
                out.groups.push_back(static_cast<gid_t>(g));
                p = next;
            }
        } else if (std::sscanf(line.c_str(), "CapInh: %llx", &a) == 1) {
            out.inheritable = a, ++found;
        } else if (std::sscanf(line.c_str(), "CapPrm: %llx", &a) == 1) {
            out.permitted = a, ++found;
        } else if (std::sscanf(line.c_str(), "CapEff: %llx", &a) == 1) {
            out.effective = a, ++found;
        }
    }
    return found == 5;
}

// Take the caller's ids, groups and capabilities: the kernel then decides with exactly
// the caller's rights (joining its user namespace made us all-powerful in it).
Reply become(const Credentials& c) {
    if (::prctl(PR_SET_KEEPCAPS, 1) != 0) return failed_errno("PR_SET_KEEPCAPS");
    // A user namespace whose setgroups is "deny" keeps the groups we have; they are not
    // the caller's, but they are nobody's there (the host's root groups are unmapped).
    if (::setgroups(c.groups.size(), c.groups.data()) != 0 && errno != EPERM) return failed_errno("setgroups");
    if (::setresgid(c.gid[0], c.gid[1], c.gid[2]) != 0) return failed_errno("setresgid");
    if (::setresuid(c.uid[0], c.uid[1], c.uid[2]) != 0) return failed_errno("setresuid");
    ::setfsgid(c.gid[3]);
    ::setfsuid(c.uid[3]);
    __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct data[2] = {};
    for (int i = 0; i < 2; ++i) {
        data[i].effective = static_cast<uint32_t>(c.effective >> (32 * i));
        data[i].permitted = static_cast<uint32_t>(c.permitted >> (32 * i));
        data[i].inheritable = static_cast<uint32_t>(c.inheritable >> (32 * i));
    }
    if (::syscall(SYS_capset, &header, data) != 0) return failed_errno("capset");
    ::prctl(PR_SET_KEEPCAPS, 0);
    return {};
}

int fsconfig(int fs, unsigned cmd, const char* key, const char* value) {
    return static_cast<int>(::syscall(SYS_fsconfig, fs, cmd, key, value, 0));
}

int move_mount(int from_dir, const char* from, int to_dir, const char* to, unsigned flags) {
    return static_cast<int>(::syscall(SYS_move_mount, from_dir, from, to_dir, to, flags));
}

// Detach the mount `mnt` refers to: umount2 has no fd form, so through its
// /proc/self/fd link, relative to the host's /proc.
void detach(int proc, int mnt) {
    if (::fchdir(proc) == 0) ::umount2(fmt::format("self/fd/{}", mnt).c_str(), MNT_DETACH);
}

Reply new_mount(const Request& req, Opened& opened) {
    using namespace ecifs::emulation::seccomp;
    // mount(2) looks the target up first (following a final symlink), then checks the
    // caller may mount at all, then makes the filesystem: the same order of errors here.
    Fd target(::open(req.path.c_str(), O_PATH | O_CLOEXEC));
    if (!target) return failed(errno, {});
    Fd fs(::fsopen(req.fstype->c_str(), FSOPEN_CLOEXEC));
    if (!fs) return failed(errno, {});
    const NewMount m = translate_new_mount(req.flags, req.data.value_or(""));
    if (req.source && fsconfig(fs.fd, FSCONFIG_SET_STRING, "source", req.source->c_str()) != 0)
        return failed(errno, {});
    for (const auto& [key, value] : m.options) {
        int rc = value ? fsconfig(fs.fd, FSCONFIG_SET_STRING, key.c_str(), value->c_str())
                       : fsconfig(fs.fd, FSCONFIG_SET_FLAG, key.c_str(), nullptr);
        if (rc != 0) return failed(errno, {});
    }
    for (const auto& flag : m.sb_flags)
        if (fsconfig(fs.fd, FSCONFIG_SET_FLAG, flag.c_str(), nullptr) != 0) return failed(errno, {});
    if (fsconfig(fs.fd, FSCONFIG_CMD_CREATE, nullptr, nullptr) != 0) return failed(errno, {});
    Fd mnt(::fsmount(fs.fd, FSMOUNT_CLOEXEC, static_cast<unsigned>(m.attributes)));
    if (!mnt) return failed(errno, {});

    bool attached = false;
    auto attach = [&] {
        if (move_mount(mnt.fd, "", target.fd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) != 0) return errno;
        attached = true;
        return 0;
    };
    auto fail_placing = [&](const std::string& below, int err) {
        if (attached) detach(opened.proc.fd, mnt.fd);
        return failed(EIO, fmt::format("placing the view {} on the new {}: {}", below, *req.fstype, std::strerror(err)));
    };
    for (auto& [tree, below] : opened.trees) {
        // Views only over files this kernel has (no nf_conntrack module, no DMI: nothing).
        Fd place(::openat(mnt.fd, below.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
        if (!place) {
            if (errno == ENOENT) continue;
            return fail_placing(below, errno);
        }
        if (m.read_only) {
            mount_attr attr{};
            attr.attr_set = MOUNT_ATTR_RDONLY;
            if (::mount_setattr(tree.fd, "", AT_EMPTY_PATH, &attr, sizeof attr) != 0) return fail_placing(below, errno);
        }
        if (move_mount(tree.fd, "", mnt.fd, below.c_str(), MOVE_MOUNT_F_EMPTY_PATH) == 0) continue;
        // Before Linux 6.15 nothing can be mounted on a detached mount: attach first.
        if (errno != EINVAL || attached) return fail_placing(below, errno);
        if (int err = attach()) return failed(err, {});
        if (move_mount(tree.fd, "", mnt.fd, below.c_str(), MOVE_MOUNT_F_EMPTY_PATH) != 0)
            return fail_placing(below, errno);
    }
    if (!attached)
        if (int err = attach()) return failed(err, {});
    return {};
}

// The path in question, as the kernel would resolve it for this call, and the mount it
// is on. nullopt: it does not resolve (the kernel's own lookup fails the call the same way).
struct Resolved {
    Fd fd;
    uint64_t mount_id = 0;
    bool mount_root = true;
};
std::optional<Resolved> resolve(const std::string& path, bool follow) {
    Resolved r;
    r.fd = Fd(::open(path.c_str(), O_PATH | O_CLOEXEC | (follow ? 0 : O_NOFOLLOW)));
    if (!r.fd) return std::nullopt;
    struct statx stx {};
    if (::statx(r.fd.fd, "", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW, STATX_MNT_ID, &stx) != 0 || !(stx.stx_mask & STATX_MNT_ID))
        return std::nullopt;
    r.mount_id = stx.stx_mnt_id;
    if (stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) r.mount_root = stx.stx_attributes & STATX_ATTR_MOUNT_ROOT;
    return r;
}

Reply check(const Request& req, Opened& opened) {
    using namespace ecifs::emulation::seccomp;
    // umount2 with UMOUNT_NOFOLLOW does not follow a final symlink; mount(2) follows its source.
    const bool follow = req.op != Op::check_umount || !(req.flags & UMOUNT_NOFOLLOW);
    auto target = resolve(req.path, follow);
    if (!target) return Reply{true, 0, {}};
    // Our own mountinfo (mount points relative to our root, now the caller's), through
    // the host's /proc: the caller's root has its own.
    Fd info(::openat(opened.proc.fd, "self/mountinfo", O_RDONLY | O_CLOEXEC));
    if (!info) return failed_errno("opening mountinfo");
    std::string text;
    char buf[65536];
    ssize_t n;
    while ((n = ::read(info.fd, buf, sizeof buf)) > 0) text.append(buf, static_cast<std::size_t>(n));
    if (n < 0) return failed_errno("reading mountinfo");
    const auto mounts = parse_mountinfo(text);
    Verdict verdict = Verdict::kernel_decides;
    switch (req.op) {
    case Op::check_umount: verdict = classify_umount(mounts, target->mount_id, target->mount_root); break;
    case Op::check_move: verdict = classify_move(mounts, target->mount_id, target->mount_root); break;
    case Op::check_bind: {
        // The path relative to our root (the caller's), as mountinfo shows mount points.
        char link[4096];
        ssize_t n = ::readlinkat(opened.proc.fd, fmt::format("self/fd/{}", target->fd.fd).c_str(), link, sizeof link);
        // Unreachable from our root ("(unreachable)/..."): assume the worst, the whole mount.
        const bool known = n > 0 && link[0] == '/';
        verdict = classify_bind(mounts, target->mount_id,
                                known ? std::string_view(link, static_cast<std::size_t>(n)) : std::string_view("/"));
        break;
    }
    case Op::new_mount: break;
    }
    switch (verdict) {
    case Verdict::busy: return failed(EBUSY, {});
    case Verdict::locked: return failed(EINVAL, {});
    case Verdict::kernel_decides: break;
    }
    return Reply{true, 0, {}};
}

// In the caller's namespaces: take its root, working directory and credentials, then act.
Reply in_caller(const Request& req, Opened& opened, int caller_task_dir) {
    if (::fchdir(opened.root.fd) != 0 || ::chroot(".") != 0) return failed_errno("entering the caller's root");
    if (::fchdir(opened.cwd.fd) != 0) return failed_errno("entering the caller's working directory");
    opened.root.reset();
    opened.cwd.reset();
    Credentials creds;
    {
        Fd status(::openat(caller_task_dir, "status", O_RDONLY | O_CLOEXEC));
        if (!status) return failed_errno("opening the caller's status");
        std::string text(8192, '\0');
        ssize_t n = ::read(status.fd, text.data(), text.size());
        if (n <= 0 || !parse_credentials(std::string_view(text.data(), static_cast<std::size_t>(n)), creds))
            return failed(EIO, "cannot read the caller's credentials");
    }
    if (req.op == Op::new_mount) {
        Fd attr(::openat(caller_task_dir, "attr/current", O_RDONLY | O_CLOEXEC));
        char label[4096];
        ssize_t n = attr ? ::read(attr.fd, label, sizeof label) : -1;
        if (n > 0 && confined_by_lsm(std::string_view(label, static_cast<std::size_t>(n))))
            return failed(EPERM, fmt::format("the caller is confined by the LSM label '{}', which a mount helper "
                                             "cannot carry: refused",
                                             std::string_view(label, static_cast<std::size_t>(n))));
    }
    if (Reply r = become(creds); r.error) return r;
    return req.op == Op::new_mount ? new_mount(req, opened) : check(req, opened);
}

void send_reply(int socket_fd, const Reply& reply) {
    std::string bytes = encode(reply);
    ::send(socket_fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
}

// The namespaces a call needs: the user and mount namespaces, and the pid namespace for
// a procfs (a procfs shows the pid namespace of whoever mounts it), the network
// namespace for a sysfs (as a sysfs shows the network devices of its mounter's).
std::span<const Ns> namespaces_for(const Request& req) {
    static constexpr Ns procfs[] = {Ns::user, Ns::mnt, Ns::pid};
    static constexpr Ns sysfs[] = {Ns::user, Ns::mnt, Ns::net};
    static constexpr Ns other[] = {Ns::user, Ns::mnt};
    if (req.op != Op::new_mount) return other;
    if (*req.fstype == "proc") return procfs;
    if (*req.fstype == "sysfs") return sysfs;
    return other;
}

Reply serve(const Request& req, int socket_fd, int caller_task_dir, bool& replied) {
    // The task directory refers to the calling thread only (the daemon opened it, then
    // found the notification still valid): if that thread is gone, every open below fails.
    Opened opened;
    opened.proc = Fd(::open("/proc", O_PATH | O_DIRECTORY | O_CLOEXEC));
    opened.root = Fd(::openat(caller_task_dir, "root", O_PATH | O_DIRECTORY | O_CLOEXEC));
    opened.cwd = Fd(::openat(caller_task_dir, "cwd", O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!opened.proc || !opened.root || !opened.cwd) return failed_errno("opening the caller's root and cwd");
    const bool new_fs = req.op == Op::new_mount;
    if (new_fs) {
        if (!req.fstype) return failed(EINVAL, "no filesystem type");
        for (const View& v : req.views) {
            Fd tree(::open_tree(AT_FDCWD, v.source.c_str(), OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC));
            if (!tree) return failed(EIO, fmt::format("cloning the view {}: {}", v.source, std::strerror(errno)));
            opened.trees.emplace_back(std::move(tree), v.below);
        }
    }
    const Namespaces ns(caller_task_dir, namespaces_for(req));
    if (!ns.ok()) return failed(ns.error(), fmt::format("opening the caller's namespaces: {}", std::strerror(ns.error())));
    if (int err = ns.join()) return failed(err, fmt::format("joining the caller's namespaces: {}", std::strerror(err)));
    const bool proc = new_fs && *req.fstype == "proc";
    if (!proc) return in_caller(req, opened, caller_task_dir);

    // Joining a pid namespace applies to children only: a child mounts the procfs.
    pid_t child = ::fork();
    if (child < 0) return failed_errno("fork");
    if (child == 0) {
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        send_reply(socket_fd, in_caller(req, opened, caller_task_dir));
        ::_exit(0);
    }
    int status = 0;
    while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        replied = true;
        return {};
    }
    return failed(EIO, "the helper's child died");
}

}  // namespace

bool confined_by_lsm(std::string_view label) {
    while (!label.empty() && (label.back() == '\n' || label.back() == '\0')) label.remove_suffix(1);
    return !label.empty() && label != "unconfined";
}

std::string encode(const Request& r) {
    std::string out;
    put<uint8_t>(out, static_cast<uint8_t>(r.op));
    put<uint64_t>(out, r.flags);
    put_string(out, r.path);
    put_optional(out, r.source);
    put_optional(out, r.fstype);
    put_optional(out, r.data);
    put<uint32_t>(out, static_cast<uint32_t>(r.views.size()));
    for (const View& v : r.views) {
        put_string(out, v.source);
        put_string(out, v.below);
    }
    return out;
}

std::optional<Request> decode_request(std::string_view bytes) {
    Reader in{bytes};
    Request r;
    auto op = in.get<uint8_t>();
    switch (op) {
    case 'M': case 'U': case 'V': case 'B': r.op = static_cast<Op>(op); break;
    default: return std::nullopt;
    }
    r.flags = in.get<uint64_t>();
    r.path = in.get_string();
    r.source = in.get_optional();
    r.fstype = in.get_optional();
    r.data = in.get_optional();
    auto n = in.get<uint32_t>();
    for (uint32_t i = 0; in.ok && i < n; ++i) {
        View v;
        v.source = in.get_string();
        v.below = in.get_string();
        r.views.push_back(std::move(v));
    }
    if (!in.ok || !in.in.empty()) return std::nullopt;
    return r;
}

std::string encode(const Reply& r) {
    std::string out;
    put<uint8_t>(out, r.let_kernel ? 1 : 0);
    put<int32_t>(out, r.error);
    put_string(out, r.message);
    return out;
}

std::optional<Reply> decode_reply(std::string_view bytes) {
    Reader in{bytes};
    Reply r;
    r.let_kernel = in.get<uint8_t>() != 0;
    r.error = in.get<int32_t>();
    r.message = in.get_string();
    if (!in.ok || !in.in.empty() || r.error < 0) return std::nullopt;
    return r;
}

void run(int socket_fd, int caller_task_dir) {
    std::string buf(max_message, '\0');
    ssize_t n;
    do n = ::recv(socket_fd, buf.data(), buf.size(), 0);
    while (n < 0 && errno == EINTR);
    if (n <= 0) ::_exit(1);
    auto request = decode_request(std::string_view(buf.data(), static_cast<std::size_t>(n)));
    if (!request) {
        send_reply(socket_fd, failed(EIO, "malformed request"));
        ::_exit(1);
    }
    bool replied = false;
    Reply reply = serve(*request, socket_fd, caller_task_dir, replied);
    if (!replied) send_reply(socket_fd, reply);
    ::_exit(0);
}

// ---- the daemon's side ------------------------------------------------------------

Spawned spawn(const Request& request, int caller_task_dir, const std::string& exe) {
    int pair[2];
    if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) != 0)
        throw std::runtime_error(fmt::format("socketpair: {}", std::strerror(errno)));
    Fd ours(pair[0]), theirs(pair[1]);
    const std::string bytes = encode(request);
    int size = static_cast<int>(std::max<std::size_t>(bytes.size() + 4096, 65536));
    ::setsockopt(ours.fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
    ::setsockopt(theirs.fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    if (::send(ours.fd, bytes.data(), bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT) != static_cast<ssize_t>(bytes.size()))
        throw std::runtime_error(fmt::format("handing the mount helper its request: {}", std::strerror(errno)));
    const int fds[] = {theirs.fd, caller_task_dir};
    Spawned out;
    out.pid = spawn_helper(exe, {"__mount-helper"}, fds);
    // Not yet waited for, so the pid is still the helper's.
    out.pidfd = seccomp::open_pidfd(out.pid);
    if (out.pidfd < 0) {
        int e = errno;
        ::kill(out.pid, SIGKILL);
        ::waitpid(out.pid, nullptr, 0);
        throw std::runtime_error(fmt::format("pidfd_open of the mount helper: {}", std::strerror(e)));
    }
    ::fcntl(out.pidfd, F_SETFD, FD_CLOEXEC);
    out.socket = std::exchange(ours.fd, -1);
    return out;
}

}  // namespace ecifs::emulation::mount_helper
