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
// The container's root is the attacker, and may ptrace, signal and pidfd_getfd what runs
// in its namespaces. So the helper (issue 11, item 1):
//  - is never dumpable (PR_SET_DUMPABLE 0 first, and again after its last credential
//    change, which resets it to fs.suid_dumpable): with its memory's user namespace the
//    host's (it was exec'd there), nothing in the container may ptrace it, take its fds
//    or read its /proc/PID files, whatever its ids;
//  - holds only what the call needs before it joins anything: its socket, the caller's
//    root, cwd and namespaces (Caller), the view clones, and a procfs of its own that
//    shows it nothing but its own process (subset=pid,hidepid=ptraceable: what it needs
//    of /proc is its own mountinfo and fds). stdin, stdout and stderr are /dev/null;
//  - takes the caller's ids before joining any namespace, and its capabilities right
//    after joining its user namespace (before that join the host's capabilities are
//    needed for the others: setns(2) into a mount or pid namespace checks
//    CAP_SYS_ADMIN over its owner and in our own user namespace);
//  - forks into the caller's pid namespace (where it must) only then: the child is the
//    caller in all but its pid, and non-dumpable.
//
// The helper cannot carry the caller's LSM label (AppArmor profile, SELinux context):
// a caller confined by one gets EPERM for anything the helper would do in its name
// rather than a mount its policy never mediated (fail closed). Calls the kernel decides
// are left to the kernel, which mediates them as usual.
#include <sys/types.h>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "seccomp/mounts.hpp"
#include "sys/credentials.hpp"
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
    // The caller's, as the host sees them (kernel ids), read by the daemon (open_caller).
    sys::Credentials creds;
    bool confined = false;  // by an LSM label: the helper does nothing in its name (EPERM)
    // The calling thread as the host sees it: whose descriptors a path /proc/self/fd/N names.
    uint32_t caller_tid = 0;
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
    // Not the reply yet: the helper is about to unmount this mount of the container's and
    // waits for the daemon's `go_ahead` (confirm_unmount).
    uint64_t unmounting = 0;
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

// ---- the daemon's side ----
//
// What the helper gets of the caller: the daemon opens it all below the caller's
// /proc/TID (sys/caller_task.hpp) and reads its credentials and LSM label there, so
// that the helper never holds an fd of the host's /proc. The identity race (issue 11,
// item 8): a /proc/TID fd follows the thread's struct pid, which a sibling thread's
// execve takes over once it has killed the caller (de_thread); a setuid program's
// credentials could then be read as the caller's. So the trapper checks the
// notification is still valid *after* open_caller: the caller was then blocked in its
// call throughout, and a blocked thread's credentials cannot change (only a thread
// changes its own; glibc's set*id broadcast signals it out of the wait, which ends the
// notification). Whatever the helper does afterwards is done with the caller's rights
// at the time of its call, as mount(2) would; a caller killed later is a caller killed
// after its call, and nothing the helper did needs undoing.
enum CallerFd : int { root_fd, cwd_fd, user_fd, mnt_fd, pid_fd, net_fd, caller_fds };
struct Caller {
    // root, cwd (O_PATH), then the user, mount, pid and network namespaces.
    std::array<sys::Fd, caller_fds> fds;
    int mnt_ns() const { return fds[mnt_fd].get(); }
};
// 0 or an errno (ESRCH: the thread is gone); fills request.creds and request.confined.
int open_caller(int caller_task_dir, Caller& out, Request& request);
// The caller's credentials (its /proc/TID/status read by the daemon): 0 or an errno.
int read_caller_credentials(int caller_task_dir, sys::Credentials& out);

// A new mount the helper made (a procfs, sysfs or copy: Op::new_mount, Op::bind) stays
// only if the caller heard of it: after its reply the helper waits for the daemon's
// verdict, one byte, `keep` once the daemon's answer reached the caller
// (SECCOMP_IOCTL_NOTIF_SEND succeeded), anything else (or the daemon's end) unmounts
// it. Otherwise a caller signalled out of its wait (the kernel restarts its call) would
// get a second mount, and one made with credentials it no longer has.
bool awaits_verdict(Op op, const Reply& reply);
constexpr char keep = 'K', undo = 'U';

// An unmount cannot be undone: before the helper unmounts a mount of the container's, it
// sends a Reply naming it (`unmounting`) and waits for one byte, `go_ahead` once the
// daemon has written that down for a restart (seccomp/pending.hpp). Without it (the
// daemon died), it unmounts nothing: the next daemon makes the call.
constexpr char go_ahead = 'G';
// The helper's side: whether the daemon said go.
bool confirm_unmount(int socket_fd, uint64_t mount);

// Spawn `exe __mount-helper` and hand it the request and the caller. The daemon gets
// the returned fds; the helper's answer is one message on `socket`, written before it
// exits. Throws std::runtime_error.
struct Spawned {
    pid_t pid = -1;
    sys::Fd socket;
    sys::Fd pidfd;  // of the helper, readable when it exits
};
Spawned spawn(const Request& request, const Caller& caller, const std::string& exe);

// The helper's main: fd 3 the socket, fds 4.. the caller's (Caller::fds, in order).
// Ends with _exit: a process that joined a pid namespace for its children cannot run
// exit-time work such as LeakSanitizer's (its stop-the-world thread lands in that
// namespace and waits for ever), and a helper has nothing to clean up.
[[noreturn]] void run(int socket_fd, int first_caller_fd);

}  // namespace ecifs::seccomp::mount_helper
