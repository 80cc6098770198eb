#pragma once
// What the mount helper (mount_helper.hpp) does once it is the caller: inside its
// namespaces, at its root and working directory, with its credentials, so that every
// path resolves and every permission is checked as for the caller.
#include <string>
#include <utility>
#include <vector>

#include "seccomp/mount_helper.hpp"
#include "sys/fd.hpp"

namespace ecifs::seccomp::mount_helper {

// What the helper opens in the host's namespaces before joining the caller's.
struct Opened {
    sys::Fd proc;  // the helper's own procfs (subset=pid, hidepid=ptraceable): its self/mountinfo and self/fd
    std::vector<std::pair<sys::Fd, std::string>> views;  // new_mount: detached clones of the daemon's views, and where each goes
    // new_mount of a procfs: the caller's pid namespace, given to the kernel as pidns=.
    // Invalid where the kernel lacks pidns= and the helper forked into that namespace.
    sys::Fd pidns;
    // The caller's own files that req.path and req.target name as /proc/self/fd/N (runc
    // and systemd mount on such paths): opened through `proc` before the helper became
    // the caller, whose procfs shows no /proc/self to a process outside its pid namespace.
    sys::Fd named_path, named_target;
};

// The call's reply. `may_act` is false for a caller an LSM label confines: what the
// helper would do in its name is refused (EPERM); what the kernel decides stays the kernel's.
// `socket` is the daemon's, for confirm_unmount.
Reply act(const Request& req, Opened& opened, bool may_act, int socket);

}  // namespace ecifs::seccomp::mount_helper
