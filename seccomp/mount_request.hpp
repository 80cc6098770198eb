#pragma once
// What a trapped mount(2) asks of the mount helper (seccomp/mount_helper.hpp), read from
// the notification and the caller's memory: a new proc or sysfs (the views go on it), a
// bind or move (of something of ours, maybe), an unmount, or nothing of ecifs's (the
// kernel runs it).
#include <cstdint>
#include <functional>
#include <string>

#include "seccomp/mount_helper.hpp"
#include "seccomp/notify.hpp"
#include "seccomp/trapper.hpp"

namespace ecifs::seccomp {

// Reads a string argument of the caller at `address`, at most `max` bytes. False: the
// call is answered already (EFAULT, ENAMETOOLONG, as the kernel would) or its caller is gone.
using ReadArgument = std::function<bool(uint64_t address, std::size_t max, std::string& out)>;

struct MountCall {
    enum { kernel, answered, helper } decision = kernel;
    mount_helper::Request request;  // for the helper
};

// mount(2)
MountCall mount_call(const Notification& n, const TrapTarget& target, const ReadArgument& read);
// umount2(2) with `flags`, umount(2) with none: always the helper's (it knows whose it is).
MountCall umount_call(const Notification& n, uint64_t flags, const ReadArgument& read);

}  // namespace ecifs::seccomp
