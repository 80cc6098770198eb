#include "seccomp/mount_helper.hpp"

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

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>

#include <fmt/core.h>

#include "seccomp/mount_actions.hpp"
#include "seccomp/mounts.hpp"
#include "seccomp/notify.hpp"
#include "sys/caller_task.hpp"
#include "sys/credentials.hpp"
#include "sys/helper_spawn.hpp"
#include "sys/wire.hpp"

namespace ecifs::seccomp::mount_helper {

using sys::Credentials;
using sys::Fd;
using sys::Namespaces;
using sys::Ns;
using sys::parse_credentials;
using sys::spawn_helper;
namespace wire = sys::wire;

namespace {

constexpr std::size_t max_message = 1 << 20;

// ---- encoding: a CBOR map per message (sys/wire.hpp) -------------------------------

void put_optional(wire::Message& m, const char* key, const std::optional<std::string>& s) {
    if (s) m[key] = wire::bytes(*s);
}
std::optional<std::string> get_optional(const wire::Message& m, const char* key) {
    if (!wire::has(m, key)) return std::nullopt;
    return wire::get_bytes(m, key);
}

Op op_from(const wire::Message& m) {
    const auto op = wire::get_int<uint8_t>(m, "op");
    switch (op) {
    case 'M': case 'U': case 'V': case 'B': return static_cast<Op>(op);
    }
    wire::wrong("op", "an operation");
}

// ---- the helper's side --------------------------------------------------------------

Reply failed(int error, std::string message) {
    Reply r;
    r.error = error;
    r.message = std::move(message);
    return r;
}
Reply failed_errno(std::string_view what) {
    int err = errno;
    return failed(err, fmt::format("{}: {}", what, std::strerror(err)));
}

// The caller's root and working directory, opened before joining its namespaces.
struct Place {
    Fd root, cwd;
};

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

// Whether an LSM label confines the caller (mount_helper.hpp: the helper cannot carry it).
bool lsm_confined(int caller_task_dir) {
    Fd attr(::openat(caller_task_dir, "attr/current", O_RDONLY | O_CLOEXEC));
    char label[4096];
    ssize_t n = attr ? ::read(attr.get(), label, sizeof label) : -1;
    return n > 0 && confined_by_lsm(std::string_view(label, static_cast<std::size_t>(n)));
}

// In the caller's namespaces: take its root, working directory and credentials, then act.
Reply in_caller(const Request& req, Place& place, Opened& opened, int caller_task_dir) {
    if (::fchdir(place.root.get()) != 0 || ::chroot(".") != 0) return failed_errno("entering the caller's root");
    if (::fchdir(place.cwd.get()) != 0) return failed_errno("entering the caller's working directory");
    place = Place{};
    Credentials creds;
    {
        Fd status(::openat(caller_task_dir, "status", O_RDONLY | O_CLOEXEC));
        if (!status) return failed_errno("opening the caller's status");
        std::string text(8192, '\0');
        ssize_t n = ::read(status.get(), text.data(), text.size());
        if (n <= 0 || !parse_credentials(std::string_view(text.data(), static_cast<std::size_t>(n)), creds))
            return failed(EIO, "cannot read the caller's credentials");
    }
    const bool may_act = !lsm_confined(caller_task_dir);
    if (Reply r = become(creds); r.error) return r;
    return act(req, opened, may_act);
}

void send_reply(int socket_fd, const Reply& reply) {
    std::string bytes = encode(reply);
    ::send(socket_fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
}

// The namespaces a call needs: the user and mount namespaces, and the network namespace
// for a sysfs (a sysfs shows the network devices of its mounter's). A procfs shows the
// pid namespace it is made for: the helper joins the caller's only where the kernel
// cannot make one for another namespace (`fork_for_procfs`, procfs_takes_pidns).
std::span<const Ns> namespaces_for(const Request& req, bool fork_for_procfs) {
    static constexpr Ns forked_procfs[] = {Ns::user, Ns::mnt, Ns::pid};
    static constexpr Ns sysfs[] = {Ns::user, Ns::mnt, Ns::net};
    static constexpr Ns other[] = {Ns::user, Ns::mnt};
    if (req.op != Op::new_mount) return other;
    if (*req.fstype == "proc" && fork_for_procfs) return forked_procfs;
    if (*req.fstype == "sysfs") return sysfs;
    return other;
}

// Whether this kernel's procfs takes pidns= (Linux 6.18: a procfs made for a given pid
// namespace by a process outside it), tried as ourselves, before joining anything, on
// a context that is then dropped. A kernel without it refuses the unknown key (EINVAL,
// as 6.1 does), one built without CONFIG_PID_NS says EOPNOTSUPP; on any refusal the
// helper forks into the namespace as before.
bool procfs_takes_pidns(int pidns) {
    Fd fs(::fsopen("proc", FSOPEN_CLOEXEC));
    return fs && ::fsconfig(fs.get(), FSCONFIG_SET_FD, "pidns", nullptr, pidns) == 0;
}

// Whether the call's own options name a pid namespace (pidns=).
bool names_pidns(const Request& req) {
    const auto options = seccomp::translate_new_mount(req.flags, req.data.value_or("")).options;
    return std::any_of(options.begin(), options.end(), [](const auto& option) { return option.first == "pidns"; });
}

Reply serve(const Request& req, int socket_fd, int caller_task_dir, bool& replied) {
    // The task directory refers to the calling thread only (the daemon opened it, then
    // found the notification still valid): if that thread is gone, every open below fails.
    Place place{Fd(::openat(caller_task_dir, "root", O_PATH | O_DIRECTORY | O_CLOEXEC)),
                Fd(::openat(caller_task_dir, "cwd", O_PATH | O_DIRECTORY | O_CLOEXEC))};
    Opened opened;
    opened.proc = Fd(::open("/proc", O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!opened.proc || !place.root || !place.cwd) return failed_errno("opening the caller's root and cwd");
    const bool new_fs = req.op == Op::new_mount;
    if (new_fs) {
        if (!req.fstype) return failed(EINVAL, "no filesystem type");
        for (const View& v : req.views) {
            Fd tree(::open_tree(AT_FDCWD, v.source.c_str(), OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC));
            if (!tree) return failed(EIO, fmt::format("cloning the view {}: {}", v.source, std::strerror(errno)));
            opened.views.emplace_back(std::move(tree), v.below);
        }
    }
    // A procfs is made for the caller's active pid namespace (the one its /proc/TID/ns/pid
    // names). Where the kernel takes pidns=, the helper names that namespace and stays
    // out of it: a process of ours there would take one of its pids (the first process
    // after `unshare -pf --mount-proc` would be 3, not 2). The kernel checks pidns= as it
    // checks setns(2) into it (CAP_SYS_ADMIN over its user namespace), with the caller's
    // credentials we have taken by then: the caller's rights, as mount(2)'s.
    //
    // A caller that names a pid namespace itself (pidns=PATH) gets the fork: the kernel
    // takes only the mounter's pid namespace or one below it, and resolves the path as
    // for the mounter (/proc/self), which only a process in the caller's namespace does
    // as the caller's.
    const bool proc = new_fs && *req.fstype == "proc";
    bool fork_for_procfs = proc && names_pidns(req);
    if (proc && !fork_for_procfs) {
        opened.pidns = Fd(::openat(caller_task_dir, "ns/pid", O_RDONLY | O_CLOEXEC));
        if (!opened.pidns) return failed_errno("opening the caller's pid namespace");
        fork_for_procfs = !procfs_takes_pidns(opened.pidns.get());
        if (fork_for_procfs) opened.pidns.reset();
    }
    const Namespaces ns(caller_task_dir, namespaces_for(req, fork_for_procfs));
    if (!ns.ok()) return failed(ns.error(), fmt::format("opening the caller's namespaces: {}", std::strerror(ns.error())));
    if (int err = ns.join()) return failed(err, fmt::format("joining the caller's namespaces: {}", std::strerror(err)));
    if (!fork_for_procfs) return in_caller(req, place, opened, caller_task_dir);

    // Before Linux 6.18 (no pidns=), as before, and for a caller's own pidns=: a procfs
    // shows the pid namespace of whoever mounts it, and joining a pid namespace applies
    // to children only, so a child mounts the procfs. It takes a pid in the caller's
    // namespace while it lives.
    pid_t child = ::fork();
    if (child < 0) return failed_errno("fork");
    if (child == 0) {
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        send_reply(socket_fd, in_caller(req, place, opened, caller_task_dir));
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
    wire::Message views = wire::Message::array(), masks = wire::Message::array(), own = wire::Message::array();
    for (const View& v : r.views) views.push_back(wire::Message{{"source", wire::bytes(v.source)}, {"below", wire::bytes(v.below)}});
    for (const seccomp::Mask& m : r.masks)
        masks.push_back(wire::Message{{"path", wire::bytes(m.path)}, {"read_only_path", m.read_only_path}});
    for (const seccomp::OwnMount& m : r.own) own.push_back(wire::Message{{"id", m.id}, {"dressing_of", m.dressing_of}});
    wire::Message m{{"op", static_cast<uint8_t>(r.op)},
                    {"flags", r.flags},
                    {"path", wire::bytes(r.path)},
                    {"views", std::move(views)},
                    {"masks", std::move(masks)},
                    {"own", std::move(own)}};
    put_optional(m, "target", r.target);
    put_optional(m, "source", r.source);
    put_optional(m, "fstype", r.fstype);
    put_optional(m, "data", r.data);
    return wire::encode(m);
}

std::optional<Request> decode_request(std::string_view bytes, std::string* error) {
    try {
        const wire::Message m = wire::decode(bytes);
        Request r;
        r.op = op_from(m);
        r.flags = wire::get_int<uint64_t>(m, "flags");
        r.path = wire::get_bytes(m, "path");
        r.target = get_optional(m, "target");
        r.source = get_optional(m, "source");
        r.fstype = get_optional(m, "fstype");
        r.data = get_optional(m, "data");
        for (const wire::Message& v : wire::get_array(m, "views"))
            r.views.push_back(View{wire::get_bytes(v, "source"), wire::get_bytes(v, "below")});
        for (const wire::Message& mask : wire::get_array(m, "masks"))
            r.masks.push_back(seccomp::Mask{wire::get_bytes(mask, "path"), wire::get_bool(mask, "read_only_path")});
        for (const wire::Message& o : wire::get_array(m, "own"))
            r.own.push_back(seccomp::OwnMount{wire::get_int<uint64_t>(o, "id"), wire::get_int<uint64_t>(o, "dressing_of")});
        return r;
    } catch (const wire::WireError& e) {
        if (error) *error = e.what();
        return std::nullopt;
    }
}

std::string encode(const Reply& r) {
    return wire::encode({{"let_kernel", r.let_kernel},
                         {"error", r.error},
                         {"message", wire::bytes(r.message)},
                         {"made", r.made},
                         {"dressing", r.dressing},
                         {"gone", r.gone}});
}

std::optional<Reply> decode_reply(std::string_view bytes, std::string* error) {
    try {
        const wire::Message m = wire::decode(bytes);
        Reply r;
        r.let_kernel = wire::get_bool(m, "let_kernel");
        r.error = wire::get_int<int32_t>(m, "error");
        if (r.error < 0) wire::wrong("error", "an errno");
        r.message = wire::get_bytes(m, "message");
        r.made = wire::get_int<uint64_t>(m, "made");
        for (const wire::Message& id : wire::get_array(m, "dressing")) r.dressing.push_back(wire::as_int<uint64_t>(id, "dressing"));
        for (const wire::Message& id : wire::get_array(m, "gone")) r.gone.push_back(wire::as_int<uint64_t>(id, "gone"));
        return r;
    } catch (const wire::WireError& e) {
        if (error) *error = e.what();
        return std::nullopt;
    }
}

void run(int socket_fd, int caller_task_dir) {
    std::string buf(max_message, '\0');
    ssize_t n;
    do n = ::recv(socket_fd, buf.data(), buf.size(), 0);
    while (n < 0 && errno == EINTR);
    if (n <= 0) ::_exit(1);
    std::string error;
    auto request = decode_request(std::string_view(buf.data(), static_cast<std::size_t>(n)), &error);
    if (!request) {
        send_reply(socket_fd, failed(EIO, error));
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
    ::setsockopt(ours.get(), SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
    ::setsockopt(theirs.get(), SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    if (::send(ours.get(), bytes.data(), bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT) != static_cast<ssize_t>(bytes.size()))
        throw std::runtime_error(fmt::format("handing the mount helper its request: {}", std::strerror(errno)));
    const int fds[] = {theirs.get(), caller_task_dir};
    Spawned out;
    out.pid = spawn_helper(exe, {"__mount-helper"}, fds);
    // Not yet waited for, so the pid is still the helper's.
    out.pidfd = Fd(seccomp::open_pidfd(out.pid));
    if (!out.pidfd) {
        int e = errno;
        ::kill(out.pid, SIGKILL);
        ::waitpid(out.pid, nullptr, 0);
        throw std::runtime_error(fmt::format("pidfd_open of the mount helper: {}", std::strerror(e)));
    }
    ::fcntl(out.pidfd.get(), F_SETFD, FD_CLOEXEC);
    out.socket = std::move(ours);
    return out;
}

}  // namespace ecifs::seccomp::mount_helper
