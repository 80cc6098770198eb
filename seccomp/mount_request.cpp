#include "seccomp/mount_request.hpp"

#include "handlers/handler.hpp"
#include "seccomp/mounts.hpp"

namespace ecifs::seccomp {

namespace {

namespace mh = mount_helper;

// Longest path the kernel takes (PATH_MAX with its NUL), and a page for the rest.
constexpr std::size_t max_path = 4095;
constexpr std::size_t max_page_string = 4095;

MountCall to_helper(mh::Request request) { return {MountCall::helper, std::move(request)}; }
// The call is answered already (read_argument's doing).
MountCall answered() { return {MountCall::answered, {}}; }

MountCall bind_or_move(const Notification& n, const TrapTarget& target, const ReadArgument& read, mh::Request request) {
    if (n.args[0] == 0) return {};  // no source: nothing of ours to move or copy
    if (!read(n.args[0], max_path, request.path)) return answered();
    std::string to;
    if (!read(n.args[1], max_path, to)) return answered();
    request.target = std::move(to);
    if (request.op == mh::Op::bind) request.masks = target.masks;
    return to_helper(std::move(request));
}

}  // namespace

MountCall mount_call(const Notification& n, const TrapTarget& target, const ReadArgument& read) {
    mh::Request request;
    request.caller_tid = static_cast<uint32_t>(n.pid);
    request.flags = strip_magic(n.args[3]);
    const auto kind = mount_kind(request.flags);
    if (kind == MountKind::kernel) return {};
    if (kind == MountKind::bind || kind == MountKind::move) {
        request.op = kind == MountKind::bind ? mh::Op::bind : mh::Op::move;
        return bind_or_move(n, target, read, std::move(request));
    }
    // A new filesystem: proc and sysfs get the views, the others are the kernel's.
    if (n.args[2] == 0) return {};
    std::string fstype;
    if (!read(n.args[2], max_page_string, fstype)) return answered();
    if (!carries_views_type(fstype)) return {};
    request.op = mh::Op::new_mount;
    request.fstype = fstype;
    if (!read(n.args[1], max_path, request.path)) return answered();
    for (auto [address, field] : {std::pair{n.args[0], &request.source}, std::pair{n.args[4], &request.data}}) {
        if (!address) continue;
        std::string value;
        if (!read(address, field == &request.source ? max_path : max_page_string, value)) return answered();
        *field = std::move(value);
    }
    const std::string top = fstype == "proc" ? "proc" : "sys";
    for (const auto& below : views_below(fstype, handlers::view_mounts()))
        request.views.push_back({(target.views_root / top / below).string(), below});
    request.masks = target.masks;
    return to_helper(std::move(request));
}

MountCall umount_call(const Notification& n, uint64_t flags, const ReadArgument& read) {
    mh::Request request;
    request.caller_tid = static_cast<uint32_t>(n.pid);
    request.op = mh::Op::umount;
    request.flags = flags;
    if (!read(n.args[0], max_path, request.path)) return answered();
    return to_helper(std::move(request));
}

}  // namespace ecifs::seccomp
