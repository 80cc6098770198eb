#include "seccomp/mount_helper.hpp"

#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <iterator>
#include <stdexcept>

#include <fmt/core.h>

#include "seccomp/mount_actions.hpp"
#include "seccomp/mounts.hpp"
#include "sys/caller_task.hpp"
#include "sys/credentials.hpp"
#include "sys/wire.hpp"

namespace ecifs::seccomp::mount_helper {

using sys::Credentials;
using sys::Fd;
using sys::Namespaces;
using sys::Ns;
using sys::parse_credentials;
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

// The ids as arrays (uid, gid: real, effective, saved, filesystem), the sets as numbers.
void put_credentials(wire::Message& m, const Credentials& c) {
    m["uid"] = std::vector<uint32_t>(std::begin(c.uid), std::end(c.uid));
    m["gid"] = std::vector<uint32_t>(std::begin(c.gid), std::end(c.gid));
    m["groups"] = c.groups;
    m["cap_inheritable"] = c.inheritable;
    m["cap_permitted"] = c.permitted;
    m["cap_effective"] = c.effective;
}
template <typename Id, std::size_t N>
void get_ids(const wire::Message& m, const char* key, Id (&out)[N]) {
    const wire::Message& ids = wire::get_array(m, key);
    if (ids.size() != N) wire::wrong(key, "four ids");
    for (std::size_t i = 0; i < N; ++i) out[i] = wire::as_int<Id>(ids[i], key);
}
Credentials get_credentials(const wire::Message& m) {
    Credentials c;
    get_ids(m, "uid", c.uid);
    get_ids(m, "gid", c.gid);
    for (const wire::Message& g : wire::get_array(m, "groups")) c.groups.push_back(wire::as_int<gid_t>(g, "groups"));
    c.inheritable = wire::get_int<uint64_t>(m, "cap_inheritable");
    c.permitted = wire::get_int<uint64_t>(m, "cap_permitted");
    c.effective = wire::get_int<uint64_t>(m, "cap_effective");
    return c;
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

// Enter the caller's root and working directory (held only until then). After joining
// its user namespace, which chroot(2) needs CAP_SYS_CHROOT in, and before taking the
// caller's capabilities, which may lack it.
Reply enter_place(Fd root, Fd cwd) {
    if (::fchdir(root.get()) != 0 || ::chroot(".") != 0) return failed_errno("entering the caller's root");
    if (::fchdir(cwd.get()) != 0) return failed_errno("entering the caller's working directory");
    return {};
}

// A procfs of the helper's own, for /proc/self/mountinfo and /proc/self/fd (Opened::proc):
// pid directories only, and of those only the ones the reader may ptrace. Made as host
// root before joining anything; whoever looks through it sees only what they could
// ptrace anyway (the kernel checks the looker at each lookup), the helper its own.
Fd own_procfs() {
    Fd fs(::fsopen("proc", FSOPEN_CLOEXEC));
    if (!fs || ::fsconfig(fs.get(), FSCONFIG_SET_STRING, "subset", "pid", 0) != 0 ||
        ::fsconfig(fs.get(), FSCONFIG_SET_STRING, "hidepid", "ptraceable", 0) != 0 ||
        ::fsconfig(fs.get(), FSCONFIG_CMD_CREATE, nullptr, nullptr, 0) != 0)
        return Fd();
    return Fd(::fsmount(fs.get(), FSMOUNT_CLOEXEC, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC));
}

void send_reply(int socket_fd, const Reply& reply);

// Opened::named_*: the caller's file a /proc/self/fd/N path names. Opened as host root,
// before the helper becomes the caller: runc's init, which mounts that way, is not
// dumpable, so the caller's own rights could not look at its descriptors. Only while the
// thread is still the caller (its mount namespace is the one the helper joins), never a
// host process that took its tid since.
Fd open_named(int proc, uint32_t tid, int caller_mnt, const std::string& path) {
    const auto n = seccomp::caller_fd_named(path);
    if (!n || tid == 0) return Fd();
    Fd task(::openat(proc, std::to_string(tid).c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    struct stat theirs {}, ours {};
    if (!task || ::fstatat(task.get(), "ns/mnt", &theirs, 0) != 0 || ::fstat(caller_mnt, &ours) != 0 ||
        theirs.st_ino != ours.st_ino || theirs.st_dev != ours.st_dev)
        return Fd();
    return Fd(::openat(task.get(), fmt::format("fd/{}", *n).c_str(), O_PATH | O_CLOEXEC));
}

// Unmount the new mount `id` (awaits_verdict), with what was placed on it: found by its
// mount point in our mountinfo (we are at the caller's root), then checked by the id of
// what that path opens, in case a mount of the caller's was stacked there meanwhile.
void undo_mount(int proc, uint64_t id) {
    Fd info(::openat(proc, "self/mountinfo", O_RDONLY | O_CLOEXEC));
    std::string text;
    char chunk[65536];
    for (ssize_t n; info && (n = ::read(info.get(), chunk, sizeof chunk)) > 0;) text.append(chunk, static_cast<std::size_t>(n));
    for (const seccomp::MountEntry& entry : seccomp::parse_mountinfo(text)) {
        if (entry.id != id) continue;
        Fd at(::open(entry.mount_point.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
        struct statx stx {};
        if (!at || ::statx(at.get(), "", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW, STATX_MNT_ID, &stx) != 0 ||
            !(stx.stx_mask & STATX_MNT_ID) || stx.stx_mnt_id != id)
            return;
        // The mount through our own /proc/self/fd link: that very mount, whatever its path.
        if (::fchdir(proc) == 0) ::umount2(fmt::format("self/fd/{}", at.get()).c_str(), MNT_DETACH);
        return;
    }
}

// Reply, and keep a new mount only if the daemon's answer reached the caller.
void finish(int socket_fd, const Request& req, const Reply& reply, const Opened& opened) {
    send_reply(socket_fd, reply);
    if (!awaits_verdict(req.op, reply)) return;
    char verdict = 0;
    ssize_t n;
    do n = ::recv(socket_fd, &verdict, 1, 0);
    while (n < 0 && errno == EINTR);
    if (n != 1 || verdict != keep) undo_mount(opened.proc.get(), reply.made);
}

void send_reply(int socket_fd, const Reply& reply) {
    std::string bytes = encode(reply);
    ::send(socket_fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
}

}  // namespace

bool confirm_unmount(int socket_fd, uint64_t mount) {
    Reply intent;
    intent.unmounting = mount;
    send_reply(socket_fd, intent);
    char go = 0;
    ssize_t n;
    do n = ::recv(socket_fd, &go, 1, 0);
    while (n < 0 && errno == EINTR);
    return n == 1 && go == go_ahead;
}

namespace {

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

// Clones of the daemon's views, as host root (the daemon's FUSE paths are its own).
Reply open_views(const Request& req, Opened& opened) {
    for (const View& v : req.views) {
        Fd tree(::open_tree(AT_FDCWD, v.source.c_str(), OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC));
        if (!tree) return failed(EIO, fmt::format("cloning the view {}: {}", v.source, std::strerror(errno)));
        opened.views.emplace_back(std::move(tree), v.below);
    }
    return {};
}

// The caller's namespaces the call needs, taken from the helper's fds; the others closed.
Namespaces adopt_namespaces(int first_caller_fd, std::span<const Ns> needed) {
    std::array<int, 6> fds;
    fds.fill(-1);
    for (int i = user_fd; i <= net_fd; ++i) {
        const auto kind = static_cast<Ns>(i - user_fd);  // Ns lists user, mnt, pid, net first
        const int fd = first_caller_fd + i;
        if (std::find(needed.begin(), needed.end(), kind) != needed.end()) fds[static_cast<std::size_t>(kind)] = fd;
        else ::close(fd);
    }
    return Namespaces(fds);
}

// Whether a child in the caller's pid namespace must make the procfs, and the caller's
// pid namespace for pidns= where not.
//
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
bool must_fork(const Request& req, int pidns, Opened& opened) {
    if (req.op != Op::new_mount || *req.fstype != "proc") return false;
    if (names_pidns(req) || !procfs_takes_pidns(pidns)) return true;
    opened.pidns = Fd(::fcntl(pidns, F_DUPFD_CLOEXEC, 0));
    return false;
}

// Become the caller, in the order mount_helper.hpp gives and the kernel needs.
Reply become_caller(const Request& req, int first_caller_fd, std::span<const Ns> kinds) {
    Fd root(first_caller_fd + root_fd), cwd(first_caller_fd + cwd_fd);
    if (int err = sys::take_ids(req.creds)) return failed(err, fmt::format("taking the caller's ids: {}", std::strerror(err)));
    Namespaces ns = adopt_namespaces(first_caller_fd, kinds);
    if (int err = ns.join()) return failed(err, fmt::format("joining the caller's namespaces: {}", std::strerror(err)));
    ns.close();
    if (Reply r = enter_place(std::move(root), std::move(cwd)); r.error) return r;
    if (int err = sys::take_capabilities(req.creds))
        return failed(err, fmt::format("taking the caller's capabilities: {}", std::strerror(err)));
    // The last credential change is behind us: it reset dumpable to fs.suid_dumpable.
    if (::prctl(PR_SET_DUMPABLE, 0) != 0) return failed_errno("PR_SET_DUMPABLE");
    return {};
}

Reply serve(const Request& req, int socket_fd, int first_caller_fd, bool& replied) {
    Opened opened;
    if (req.op == Op::new_mount) {
        if (!req.fstype) return failed(EINVAL, "no filesystem type");
        if (Reply r = open_views(req, opened); r.error) return r;
    }
    opened.proc = own_procfs();
    if (!opened.proc) return failed_errno("making the helper's procfs");
    opened.named_path = open_named(opened.proc.get(), req.caller_tid, first_caller_fd + mnt_fd, req.path);
    if (req.target) opened.named_target = open_named(opened.proc.get(), req.caller_tid, first_caller_fd + mnt_fd, *req.target);
    const bool fork_for_procfs = must_fork(req, first_caller_fd + pid_fd, opened);
    if (Reply r = become_caller(req, first_caller_fd, namespaces_for(req, fork_for_procfs)); r.error) return r;
    if (!fork_for_procfs) {
        finish(socket_fd, req, act(req, opened, !req.confined, socket_fd), opened);
        replied = true;
        return {};
    }

    // Before Linux 6.18 (no pidns=), as before, and for a caller's own pidns=: a procfs
    // shows the pid namespace of whoever mounts it, and joining a pid namespace applies
    // to children only, so a child mounts the procfs. It takes a pid in the caller's
    // namespace while it lives, where it is the caller but for its pid and dumpability.
    pid_t child = ::fork();
    if (child < 0) return failed_errno("fork");
    if (child == 0) {
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        finish(socket_fd, req, act(req, opened, !req.confined, socket_fd), opened);
        ::_exit(0);
    }
    opened = Opened{};
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

bool awaits_verdict(Op op, const Reply& reply) {
    return (op == Op::new_mount || op == Op::bind) && !reply.let_kernel && reply.error == 0 && reply.made != 0;
}

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
    put_credentials(m, r.creds);
    m["confined"] = r.confined;
    m["caller_tid"] = r.caller_tid;
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
        r.creds = get_credentials(m);
        r.confined = wire::get_bool(m, "confined");
        r.caller_tid = wire::get_int<uint32_t>(m, "caller_tid");
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
                         {"gone", r.gone},
                         {"unmounting", r.unmounting}});
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
        r.unmounting = wire::get_int<uint64_t>(m, "unmounting");
        return r;
    } catch (const wire::WireError& e) {
        if (error) *error = e.what();
        return std::nullopt;
    }
}

void run(int socket_fd, int first_caller_fd) {
    // Before anything else: nothing of the container's may ptrace or read this process
    // (an exec makes a process dumpable again), and it keeps none of the daemon's
    // stdin, stdout or stderr.
    if (::prctl(PR_SET_DUMPABLE, 0) != 0) ::_exit(1);
    Fd null(::open("/dev/null", O_RDWR | O_CLOEXEC));
    if (!null) ::_exit(1);
    for (int fd = 0; fd < 3; ++fd)
        if (::dup2(null.get(), fd) != fd) ::_exit(1);
    null.reset();
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
    buf = std::string();
    bool replied = false;
    Reply reply = serve(*request, socket_fd, first_caller_fd, replied);
    if (!replied) send_reply(socket_fd, reply);
    ::_exit(0);
}

}  // namespace ecifs::seccomp::mount_helper
