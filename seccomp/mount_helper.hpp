#pragma once
// Mount work for a trapped mount(2) or umount2(2), done by a short-lived helper process
// (`ecifs __mount-helper`, spawned like the namespace executors) that joins the caller's
// user and mount namespaces (and its network namespace for a sysfs), takes the caller's
// root, working directory and credentials, and acts on the daemon's copy of the call's
// arguments. A procfs is made for the caller's pid namespace with procfs's pidns=
// (Linux 6.18), so that no process of ours takes a pid there; before 6.18 (and for a
// caller's own pidns=) the helper joins that namespace and a child of it mounts:
//
//  - every path resolves exactly as it would for the caller, and the kernel's own
//    permission checks see the caller's credentials (a threaded daemon could do neither:
//    it cannot join a user namespace);
//  - a new procfs or sysfs is made with fsopen/fsmount, the views (clones of the
//    daemon's FUSE paths, opened before joining) and the runtime's masks are mounted
//    onto the detached mount, and only then is it attached where the caller asked: no
//    moment shows a bare procfs. (Kernels that cannot mount onto a detached mount, before
//    Linux 6.15, get it attached first.) A non-recursive bind of a proc/sysfs that
//    carries views is a copy dressed the same way, with clones of the caller's views;
//  - what the container made through the helper (those mounts, its recursive binds and
//    copies of views) it may move and unmount, views and all; the runtime's /proc, /sys
//    and views stay busy (umount) and locked (move). The daemon remembers the container's
//    mounts (seccomp/own_mounts.hpp) and hands their ids in with each request.
//
// Mounts are rare, so one helper per call is cheap enough and holds no state.
//
// The helper cannot carry the caller's LSM label (AppArmor profile, SELinux context):
// a caller confined by one gets EPERM for anything the helper would do in its name
// rather than a mount its policy never mediated (fail closed). Calls the kernel decides
// are left to the kernel, which mediates them as usual.
#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "seccomp/mounts.hpp"
#include "sys/fd.hpp"

namespace ecifs::seccomp::mount_helper {

enum class Op : uint8_t {
    new_mount = 'M',  // mount a proc/sysfs as the caller asked, views and masks placed on it
    umount = 'U',     // umount2(path)
    move = 'V',       // MS_MOVE of path to target
    bind = 'B',       // MS_BIND (with or without MS_REC) of path to target
};

// One view to place: its path in the daemon's FUSE mount, and where it goes below the
// new mount ("meminfo" below a procfs).
struct View {
    std::string source;
    std::string below;
    bool operator==(const View&) const = default;
};

struct Request {
    Op op = Op::new_mount;
    uint64_t flags = 0;  // mount(2) or umount2(2) flags
    std::string path;    // new_mount: the target; umount: the path; move, bind: the source
    std::optional<std::string> target;                // move, bind: mount(2)'s target
    std::optional<std::string> source, fstype, data;  // new_mount
    std::vector<View> views;                          // new_mount
    std::vector<seccomp::Mask> masks;                 // new_mount, bind: the runtime's, absolute
    std::vector<seccomp::OwnMount> own;               // the container's mounts in the caller's mount namespace
    bool operator==(const Request&) const = default;
};

struct Reply {
    // Nothing of ecifs is concerned: let the kernel run the call itself.
    bool let_kernel = false;
    int error = 0;        // otherwise the call's result: 0 or an errno
    std::string message;  // what went wrong inside the helper, for the daemon's log
    // A mount made (or moved) for the container, in the caller's mount namespace, and the
    // views and masks placed on it: the container's from now on.
    uint64_t made = 0;
    std::vector<uint64_t> dressing;
    std::vector<uint64_t> gone;  // mounts of the container's that are gone now
    bool operator==(const Reply&) const = default;
};

// Whether /proc/PID/attr/current (its text) names an LSM label that confines the process:
// anything but empty (no LSM) or AppArmor's "unconfined".
bool confined_by_lsm(std::string_view attr_current);

// One message each way, one SOCK_SEQPACKET datagram (sys/wire.hpp). Malformed bytes
// decode to nullopt, and what is wrong with them to `error` when given.
std::string encode(const Request& request);
std::optional<Request> decode_request(std::string_view bytes, std::string* error = nullptr);
std::string encode(const Reply& reply);
std::optional<Reply> decode_reply(std::string_view bytes, std::string* error = nullptr);

// The daemon's side: spawn `exe __mount-helper` and hand it the request.
// `caller_task_dir` (/proc/TID of the calling thread, sys/caller_task.hpp) must
// refer to the caller: open it, then check the notification is still valid. The daemon
// gets the returned fds; the helper's answer is one message on `socket`, written before
// it exits. Throws std::runtime_error.
struct Spawned {
    pid_t pid = -1;
    sys::Fd socket;
    sys::Fd pidfd;  // of the helper, readable when it exits
};
Spawned spawn(const Request& request, int caller_task_dir, const std::string& exe);

// The helper's main: fd 3 the socket, fd 4 the caller's /proc/TID.
// Ends with _exit: a process that joined a pid namespace for its children cannot run
// exit-time work such as LeakSanitizer's (its stop-the-world thread lands in that
// namespace and waits for ever), and a helper has nothing to clean up.
[[noreturn]] void run(int socket_fd, int caller_task_dir);

}  // namespace ecifs::seccomp::mount_helper
