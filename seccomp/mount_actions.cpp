#include "seccomp/mount_actions.hpp"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>

#include <fmt/core.h>

#include "sysctl/table.hpp"

namespace ecifs::seccomp::mount_helper {

using sys::Fd;

namespace {

namespace sc = seccomp;

Reply failed(int error, std::string message = {}) {
    Reply r;
    r.error = error;
    r.message = std::move(message);
    return r;
}

Reply let_kernel() {
    Reply r;
    r.let_kernel = true;
    return r;
}

Reply refused_for_lsm() {
    return failed(EPERM, "the caller is confined by an LSM label, which a mount helper cannot carry: refused");
}

int fsconfig(int fs, unsigned cmd, const char* key, const char* value) {
    return static_cast<int>(::syscall(SYS_fsconfig, fs, cmd, key, value, 0));
}

int move_mount(int from_dir, const char* from, int to_dir, const char* to, unsigned flags) {
    return static_cast<int>(::syscall(SYS_move_mount, from_dir, from, to_dir, to, flags));
}

uint64_t mount_id_of(int fd) {
    struct statx stx {};
    if (::statx(fd, "", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW, STATX_MNT_ID, &stx) != 0) return 0;
    return (stx.stx_mask & STATX_MNT_ID) ? stx.stx_mnt_id : 0;
}

// Detach the mount `mnt` refers to: umount2 has no fd form, so through its
// /proc/self/fd link, relative to the host's /proc.
void detach(int proc, int mnt) {
    if (::fchdir(proc) == 0) ::umount2(fmt::format("self/fd/{}", mnt).c_str(), MNT_DETACH);
}

// A new, detached filesystem as mount(2) would make it of these arguments. 0 or an errno.
// `pidns` (a procfs only, or -1): the caller's pid namespace, which mount(2) would take
// as the mounter's and pidns= names here. Given first, so that the options that follow
// are read as for that namespace's procfs (pidns= makes its user namespace the context's).
int make_filesystem(const std::string& fstype, const std::optional<std::string>& source, uint64_t flags,
                    std::string_view data, Fd& mnt, int pidns = -1) {
    Fd fs(::fsopen(fstype.c_str(), FSOPEN_CLOEXEC));
    if (!fs) return errno;
    if (pidns >= 0 && ::fsconfig(fs.get(), FSCONFIG_SET_FD, "pidns", nullptr, pidns) != 0) return errno;
    const sc::NewMount m = sc::translate_new_mount(flags, data);
    if (source && fsconfig(fs.get(), FSCONFIG_SET_STRING, "source", source->c_str()) != 0) return errno;
    for (const auto& [key, value] : m.options) {
        int rc = value ? fsconfig(fs.get(), FSCONFIG_SET_STRING, key.c_str(), value->c_str())
                       : fsconfig(fs.get(), FSCONFIG_SET_FLAG, key.c_str(), nullptr);
        if (rc != 0) return errno;
    }
    for (const auto& flag : m.sb_flags)
        if (fsconfig(fs.get(), FSCONFIG_SET_FLAG, flag.c_str(), nullptr) != 0) return errno;
    if (fsconfig(fs.get(), FSCONFIG_CMD_CREATE, nullptr, nullptr) != 0) return errno;
    mnt = Fd(::fsmount(fs.get(), FSMOUNT_CLOEXEC, static_cast<unsigned>(m.attributes)));
    return mnt ? 0 : errno;
}

// A mount made for the caller, dressed (views, masks) before it is attached at its
// target where the kernel allows. Before Linux 6.15 nothing can be mounted on, or cloned
// from, a detached mount (EINVAL): there it is attached at the first refusal and dressed
// in place. If it is dropped before finish(), it is detached again.
class Dressing {
public:
    Dressing(int proc, Fd mnt, Fd target) : proc_(proc), mnt_(std::move(mnt)), target_(std::move(target)) {}
    Dressing(const Dressing&) = delete;
    Dressing& operator=(const Dressing&) = delete;
    ~Dressing() {
        if (attached_ && !finished_) detach(proc_, mnt_.get());
    }

    // Mount the detached `tree` at `below` (relative to the mount's root; not a symlink).
    // A path this kernel does not have (no nf_conntrack module, no DMI) is left alone.
    int place(Fd tree, const std::string& below) {
        Fd at = open_below(below, O_NOFOLLOW);
        if (!at) return errno == ENOENT ? 0 : errno;
        return mount_on(std::move(tree), at.get());
    }

    // The runtime's mask at `m.path` (relative), made as runc makes it: a read-only path
    // is bound onto itself (recursively) and made read-only; a masked directory gets a read-only
    // tmpfs, any other masked file the caller's /dev/null. Paths resolve as runc resolves
    // them (following symlinks), but never out of the mount.
    int mask(const sc::Mask& m) {
        Fd at = open_below(m.path, 0);
        if (!at) return errno == ENOENT ? 0 : errno;
        Fd tree;
        if (int err = m.read_only_path ? read_only_copy(at.get(), tree) : mask_for(at.get(), tree)) return err;
        return mount_on(std::move(tree), at.get());
    }

    // A copy of the kernel's own file at `below` (sysctl::kernel_files()), taken before
    // a view covers it, to be placed back on top of the view. Left empty where the
    // kernel has no such file.
    int copy_below(const std::string& below, Fd& tree) {
        Fd at = open_below(below, O_NOFOLLOW);
        if (!at) return errno == ENOENT ? 0 : errno;
        return with_fallback([&] {
            tree = Fd(::open_tree(at.get(), "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH));
            return tree ? 0 : -1;
        });
    }

    int attach() {
        if (attached_) return 0;
        if (move_mount(mnt_.get(), "", target_.get(), "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) != 0)
            return errno == EINVAL && is_dir(mnt_.get()) != is_dir(target_.get()) ? ENOTDIR : errno;
        attached_ = true;
        return 0;
    }

    // Keep it, attached: the reply naming it and what was placed on it.
    Reply finish() {
        finished_ = true;
        Reply r;
        r.made = mount_id_of(mnt_.get());
        for (const Fd& fd : placed_) r.dressing.push_back(mount_id_of(fd.get()));
        return r;
    }

private:
    // mount(2) refuses a directory over a file and a file over a directory with ENOTDIR
    // (graft_tree); move_mount(2) with EINVAL.
    static bool is_dir(int fd) {
        struct stat st {};
        return ::fstat(fd, &st) == 0 && S_ISDIR(st.st_mode);
    }

    Fd open_below(const std::string& below, uint64_t extra) {
        open_how how{};
        how.flags = O_PATH | O_CLOEXEC | extra;
        how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
        return Fd(static_cast<int>(::syscall(SYS_openat2, mnt_.get(), below.c_str(), &how, sizeof how)));
    }

    // `retry` once more after attaching, if it was refused (EINVAL) on the detached mount.
    template <typename F>
    int with_fallback(F&& retry) {
        if (retry() == 0) return 0;
        if (errno != EINVAL || attached_) return errno;
        if (int err = attach()) return err;
        return retry() == 0 ? 0 : errno;
    }

    // The placed mounts' fds stay open until the helper ends: closing the fd of a mount
    // still in a detached tree would dissolve it.
    int mount_on(Fd tree, int at) {
        int err = with_fallback(
            [&] { return move_mount(tree.get(), "", at, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH); });
        if (!err) placed_.push_back(std::move(tree));
        return err;
    }

    int read_only_copy(int at, Fd& tree) {
        int err = with_fallback([&] {
            tree = Fd(::open_tree(at, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE | AT_EMPTY_PATH));
            return tree ? 0 : -1;
        });
        if (err) return err;
        // runc remounts only the bind's top read-only, not what is mounted below it.
        mount_attr attr{};
        attr.attr_set = MOUNT_ATTR_RDONLY;
        return ::mount_setattr(tree.get(), "", AT_EMPTY_PATH, &attr, sizeof attr) == 0 ? 0 : errno;
    }

    static int mask_for(int at, Fd& tree) {
        struct stat st {};
        if (::fstat(at, &st) != 0) return errno;
        if (S_ISDIR(st.st_mode)) return make_filesystem("tmpfs", std::string("tmpfs"), MS_RDONLY, "", tree);
        // The caller's own /dev/null, as runc binds the container's: never one of the host's.
        tree = Fd(::open_tree(AT_FDCWD, "/dev/null", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC));
        if (!tree) return errno;
        if (::fstat(tree.get(), &st) != 0) return errno;
        return S_ISCHR(st.st_mode) && st.st_rdev == makedev(1, 3) ? 0 : ENODEV;
    }

    int proc_;
    Fd mnt_, target_;
    std::vector<Fd> placed_;
    bool attached_ = false;
    bool finished_ = false;
};

// The path in question, as the kernel would resolve it for this call, and the mount it
// is on. nullopt: it does not resolve (the kernel's own lookup fails the call the same way).
struct Resolved {
    Fd fd;
    uint64_t mount_id = 0;
    bool mount_root = true;
};
// `named`: the caller's file the path names as /proc/self/fd/N (Opened::named_*), if any.
Fd open_path(const std::string& path, const Fd& named, bool follow = true) {
    if (named) return Fd(::fcntl(named.get(), F_DUPFD_CLOEXEC, 0));
    return Fd(::open(path.c_str(), O_PATH | O_CLOEXEC | (follow ? 0 : O_NOFOLLOW)));
}

std::optional<Resolved> resolve(const std::string& path, bool follow, const Fd& named = Fd()) {
    Resolved r;
    r.fd = open_path(path, named, follow);
    if (!r.fd) return std::nullopt;
    struct statx stx {};
    if (::statx(r.fd.get(), "", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW, STATX_MNT_ID, &stx) != 0 ||
        !(stx.stx_mask & STATX_MNT_ID))
        return std::nullopt;
    r.mount_id = stx.stx_mnt_id;
    if (stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) r.mount_root = stx.stx_attributes & STATX_ATTR_MOUNT_ROOT;
    return r;
}

// Our own mountinfo (mount points relative to our root, now the caller's), through the
// host's /proc: the caller's root has its own.
int read_mounts(int proc, std::vector<sc::MountEntry>& out) {
    Fd info(::openat(proc, "self/mountinfo", O_RDONLY | O_CLOEXEC));
    if (!info) return errno;
    std::string text;
    char buf[65536];
    ssize_t n;
    while ((n = ::read(info.get(), buf, sizeof buf)) > 0) text.append(buf, static_cast<std::size_t>(n));
    if (n < 0) return errno;
    out = sc::parse_mountinfo(text);
    return 0;
}

// The path `fd` refers to, relative to our root (the caller's), as mountinfo shows mount
// points. Unreachable from our root: "/" (assume the worst, the whole mount).
std::string path_of(int proc, int fd) {
    char link[4096];
    ssize_t n = ::readlinkat(proc, fmt::format("self/fd/{}", fd).c_str(), link, sizeof link);
    return n > 0 && link[0] == '/' ? std::string(link, static_cast<std::size_t>(n)) : std::string("/");
}

// mount(2) refuses a filesystem on its own root, where it is mounted already (do_add_mount:
// "sysfs already mounted on /sys" is EBUSY); attaching a detached mount checks nothing of
// the kind. (The trapper runs one helper of a notify fd at a time, as the kernel's
// namespace lock serializes mounts.)
bool covers_itself(int target, int mnt) {
    struct stat t {}, m {};
    struct statx root {};
    if (::fstat(target, &t) != 0 || ::fstat(mnt, &m) != 0) return false;
    if (::statx(target, "", AT_EMPTY_PATH, STATX_INO, &root) != 0) return false;
    const bool mount_root = (root.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) && (root.stx_attributes & STATX_ATTR_MOUNT_ROOT);
    return mount_root && t.st_dev == m.st_dev;
}

Reply new_mount(const Request& req, Opened& opened) {
    // mount(2) looks the target up first (following a final symlink), then checks the
    // caller may mount at all, then makes the filesystem: the same order of errors here.
    Fd target = open_path(req.path, opened.named_path);
    if (!target) return failed(errno);
    Fd mnt;
    if (int err = make_filesystem(*req.fstype, req.source, req.flags, req.data.value_or(""), mnt, opened.pidns.get()))
        return failed(err);
    if (covers_itself(target.get(), mnt.get())) return failed(EBUSY);
    const bool read_only = sc::translate_new_mount(req.flags, "").read_only;
    Dressing dressing(opened.proc.get(), std::move(mnt), std::move(target));
    std::vector<std::pair<Fd, std::string>> kernel_files;
    for (const std::string& below : sc::views_below(*req.fstype, sysctl::kernel_files())) {
        Fd copy;
        if (int err = dressing.copy_below(below, copy))
            return failed(EIO, fmt::format("copying the kernel's {} of the new {}: {}", below, *req.fstype, std::strerror(err)));
        if (copy) kernel_files.emplace_back(std::move(copy), below);
    }
    for (auto& [tree, below] : opened.views) {
        mount_attr attr{};
        attr.attr_set = MOUNT_ATTR_RDONLY;
        int err = read_only && ::mount_setattr(tree.get(), "", AT_EMPTY_PATH, &attr, sizeof attr) != 0 ? errno : 0;
        if (!err) err = dressing.place(std::move(tree), below);
        if (err) return failed(EIO, fmt::format("placing the view {} on the new {}: {}", below, *req.fstype, std::strerror(err)));
    }
    for (auto& [copy, below] : kernel_files)
        if (int err = dressing.place(std::move(copy), below))
            return failed(EIO, fmt::format("placing the kernel's {} on the new {}: {}", below, *req.fstype, std::strerror(err)));
    for (const sc::Mask& m : sc::masks_below(req.masks, *req.fstype, "/"))
        if (int err = dressing.mask(m))
            return failed(EIO, fmt::format("masking {} on the new {}: {}", m.path, *req.fstype, std::strerror(err)));
    if (int err = dressing.attach()) return failed(err);
    return dressing.finish();
}

// A view's copy brings what is mounted on it along (the kernel's files bound over it):
// that is dressing too, which the container unmounts with its mount.
void add_carried_mounts(int proc, Reply& r) {
    std::vector<sc::MountEntry> mounts;
    if (read_mounts(proc, mounts) != 0) return;
    for (std::size_t i = 0; i < r.dressing.size(); ++i)  // grows as it goes: deeper levels too
        for (const sc::MountEntry& m : mounts)
            if (m.parent == r.dressing[i] && m.id != m.parent &&
                std::find(r.dressing.begin(), r.dressing.end(), m.id) == r.dressing.end())
                r.dressing.push_back(m.id);
}

Reply bind(const Request& req, Opened& opened, bool may_act) {
    // mount(2) follows the source's symlinks.
    auto source = resolve(req.path, true, opened.named_path);
    if (!source) return let_kernel();
    std::vector<sc::MountEntry> mounts;
    if (int err = read_mounts(opened.proc.get(), mounts)) return failed(EIO, fmt::format("reading mountinfo: {}", std::strerror(err)));
    const bool recursive = req.flags & MS_REC;
    const sc::BindPlan plan = sc::plan_bind(mounts, source->mount_id, path_of(opened.proc.get(), source->fd.get()), recursive);
    if (plan.kernel) return let_kernel();
    if (!may_act) return refused_for_lsm();
    // As mount(2): the target's lookup first, then the clone (EPERM without CAP_SYS_ADMIN,
    // EINVAL for an unbindable source).
    Fd target = open_path(*req.target, opened.named_target);
    if (!target) return failed(errno);
    const unsigned clone = OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH | (recursive ? AT_RECURSIVE : 0);
    Fd tree(::open_tree(source->fd.get(), "", clone));
    if (!tree) return failed(errno);
    Dressing dressing(opened.proc.get(), std::move(tree), std::move(target));
    if (plan.dress) {
        for (const auto& view : plan.views) {
            Fd copy(::open_tree(AT_FDCWD, view.mount_point.c_str(), OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE));
            int err = copy ? dressing.place(std::move(copy), view.below) : errno;
            if (err) return failed(EIO, fmt::format("placing the view {} on the bind: {}", view.below, std::strerror(err)));
        }
        for (const sc::Mask& m : sc::masks_below(req.masks, plan.fstype, plan.fs_path))
            if (int err = dressing.mask(m))
                return failed(EIO, fmt::format("masking {} on the bind: {}", m.path, std::strerror(err)));
    }
    if (int err = dressing.attach()) return failed(err);
    Reply made = dressing.finish();
    if (plan.dress) add_carried_mounts(opened.proc.get(), made);
    return made;
}

Reply move(const Request& req, Opened& opened, bool may_act) {
    // mount(2) follows the source's symlinks.
    auto source = resolve(req.path, true, opened.named_path);
    if (!source) return let_kernel();
    std::vector<sc::MountEntry> mounts;
    if (int err = read_mounts(opened.proc.get(), mounts)) return failed(EIO, fmt::format("reading mountinfo: {}", std::strerror(err)));
    switch (sc::classify_move(mounts, source->mount_id, source->mount_root, req.own)) {
    case sc::Verdict::kernel_decides: return let_kernel();
    case sc::Verdict::busy:
    case sc::Verdict::locked: return failed(EINVAL);
    case sc::Verdict::container_made: break;
    }
    if (!may_act) return refused_for_lsm();
    // The mount we resolved, not the path again; its target as mount(2) looks it up.
    const int moved = opened.named_target
                          ? move_mount(source->fd.get(), "", opened.named_target.get(), "",
                                       MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH)
                          : move_mount(source->fd.get(), "", AT_FDCWD, req.target->c_str(),
                                       MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_SYMLINKS);
    if (moved != 0) return failed(errno);
    Reply r;
    r.made = source->mount_id;  // the container's wherever it is now
    return r;
}

// Put back what unmount_made took off (deepest first), shallowest first.
std::vector<uint64_t> put_back(std::vector<std::pair<Fd, std::string>>& taken) {
    std::vector<uint64_t> ids;
    for (auto it = taken.rbegin(); it != taken.rend(); ++it)
        if (move_mount(it->first.get(), "", AT_FDCWD, it->second.c_str(), MOVE_MOUNT_F_EMPTY_PATH) == 0)
            ids.push_back(mount_id_of(it->first.get()));
    return ids;
}

// Unmount a mount the container made, with what ecifs placed on it: those first (a
// mount with others on it is busy), then the mount as the caller asked. If the mount
// turns out busy, they are put back.
Reply unmount_made(const Request& req, std::span<const sc::MountEntry> mounts, Resolved& target, int socket) {
    const uint64_t id = target.mount_id;
    target.fd.reset();  // our own reference would make it busy
    if (!confirm_unmount(socket, id)) return failed(EIO, "no go-ahead from the daemon");
    Reply done;
    done.gone = {id};
    if (req.flags & MNT_DETACH) {  // lazily: the kernel takes everything on it along
        if (::umount2(req.path.c_str(), static_cast<int>(req.flags)) != 0) return failed(errno);
        return done;
    }
    const sc::Undressing undress = sc::plan_undressing(mounts, id, req.own);
    if (undress.busy) return failed(EBUSY);
    std::vector<std::pair<Fd, std::string>> taken;
    for (const sc::MountEntry* m : undress.deepest_first) {
        Fd copy(::open_tree(AT_FDCWD, m->mount_point.c_str(), OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC));
        const int err = !copy ? errno : ::umount2(m->mount_point.c_str(), UMOUNT_NOFOLLOW) != 0 ? errno : 0;
        if (err) {
            Reply r = failed(err);
            r.dressing = put_back(taken);
            r.made = id;
            return r;
        }
        taken.emplace_back(std::move(copy), m->mount_point);
        done.gone.push_back(m->id);
    }
    if (::umount2(req.path.c_str(), static_cast<int>(req.flags)) != 0) {
        Reply r = failed(errno);
        r.gone.assign(done.gone.begin() + 1, done.gone.end());
        r.dressing = put_back(taken);
        r.made = id;
        return r;
    }
    return done;
}

Reply umount(const Request& req, Opened& opened, bool may_act, int socket) {
    // umount2 with UMOUNT_NOFOLLOW does not follow a final symlink.
    auto target = resolve(req.path, !(req.flags & UMOUNT_NOFOLLOW));
    if (!target) return let_kernel();
    std::vector<sc::MountEntry> mounts;
    if (int err = read_mounts(opened.proc.get(), mounts)) return failed(EIO, fmt::format("reading mountinfo: {}", std::strerror(err)));
    switch (sc::classify_umount(mounts, target->mount_id, target->mount_root, req.own)) {
    case sc::Verdict::kernel_decides: return let_kernel();
    case sc::Verdict::busy: return failed(EBUSY);
    case sc::Verdict::locked: return failed(EINVAL);
    case sc::Verdict::container_made: break;
    }
    if (!may_act) return refused_for_lsm();
    return unmount_made(req, mounts, *target, socket);
}

}  // namespace

Reply act(const Request& req, Opened& opened, bool may_act, int socket) {
    switch (req.op) {
    case Op::new_mount: return may_act ? new_mount(req, opened) : refused_for_lsm();
    case Op::bind: return bind(req, opened, may_act);
    case Op::move: return move(req, opened, may_act);
    case Op::umount: return umount(req, opened, may_act, socket);
    }
    return failed(EIO, "unknown request");
}

}  // namespace ecifs::seccomp::mount_helper
