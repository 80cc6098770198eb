#include "sys/credentials.hpp"

#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <sys/fsuid.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <string>

#include "sys/fd.hpp"
#include "sys/text.hpp"

namespace ecifs::sys {

bool parse_credentials(std::string_view status, Credentials& out) {
    int found = 0;
    for_each_line(status, [&](std::string_view line_view) {
        const std::string line(line_view);  // sscanf reads a C string
        unsigned long long a, b, c, d;
        if (std::sscanf(line.c_str(), "Uid: %llu %llu %llu %llu", &a, &b, &c, &d) == 4) {
            out.uid[0] = static_cast<uid_t>(a), out.uid[1] = static_cast<uid_t>(b);
            out.uid[2] = static_cast<uid_t>(c), out.uid[3] = static_cast<uid_t>(d);
            ++found;
        } else if (std::sscanf(line.c_str(), "Gid: %llu %llu %llu %llu", &a, &b, &c, &d) == 4) {
            out.gid[0] = static_cast<gid_t>(a), out.gid[1] = static_cast<gid_t>(b);
            out.gid[2] = static_cast<gid_t>(c), out.gid[3] = static_cast<gid_t>(d);
            ++found;
        } else if (line_view.starts_with("Groups:")) {
            for (const auto field : split_fields(line_view.substr(7))) {
                const auto group = whole_number<gid_t>(field);
                if (!group) break;
                out.groups.push_back(*group);
            }
        } else if (std::sscanf(line.c_str(), "CapInh: %llx", &a) == 1) {
            out.inheritable = a, ++found;
        } else if (std::sscanf(line.c_str(), "CapPrm: %llx", &a) == 1) {
            out.permitted = a, ++found;
        } else if (std::sscanf(line.c_str(), "CapEff: %llx", &a) == 1) {
            out.effective = a, ++found;
        }
    });
    return found == 5;
}

int read_credentials(pid_t tid, Credentials& out) {
    const std::string path = "/proc/" + std::to_string(tid) + "/status";
    Fd status(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!status) return errno == ENOENT ? ESRCH : errno;
    std::string text(8192, '\0');
    ssize_t n = ::read(status.get(), text.data(), text.size());
    if (n < 0) return errno;
    return parse_credentials(std::string_view(text.data(), static_cast<std::size_t>(n)), out) ? 0 : EIO;
}

namespace {

int capget_all(__user_cap_data_struct (&data)[2]) {
    __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
    return ::syscall(SYS_capget, &header, data) == 0 ? 0 : errno;
}

// The effective set becomes `effective` (bounded by the permitted set, which stays).
int set_effective(uint64_t effective) {
    __user_cap_data_struct data[2] = {};
    if (int err = capget_all(data)) return err;
    for (int i = 0; i < 2; ++i) data[i].effective = static_cast<uint32_t>(effective >> (32 * i)) & data[i].permitted;
    __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
    return ::syscall(SYS_capset, &header, data) == 0 ? 0 : errno;
}

uint64_t permitted_set() {
    __user_cap_data_struct data[2] = {};
    if (capget_all(data)) return 0;
    return static_cast<uint64_t>(data[1].permitted) << 32 | data[0].permitted;
}

int set_all(const Credentials& caller) {
    __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct data[2] = {};
    for (int i = 0; i < 2; ++i) {
        data[i].effective = static_cast<uint32_t>(caller.effective >> (32 * i));
        data[i].permitted = static_cast<uint32_t>(caller.permitted >> (32 * i));
        data[i].inheritable = static_cast<uint32_t>(caller.inheritable >> (32 * i));
    }
    return ::syscall(SYS_capset, &header, data) == 0 ? 0 : errno;
}

// setfsuid(2) and setfsgid(2) return the previous id, never an error: ask again.
int set_fs_ids(const Credentials& caller) {
    ::setfsgid(caller.gid[3]);
    ::setfsuid(caller.uid[3]);
    const bool taken = static_cast<gid_t>(::setfsgid(static_cast<gid_t>(-1))) == caller.gid[3] &&
                       static_cast<uid_t>(::setfsuid(static_cast<uid_t>(-1))) == caller.uid[3];
    return taken ? 0 : EPERM;
}

}  // namespace

// Leaving uid 0 clears the effective set, and every set without PR_SET_KEEPCAPS; an
// fsuid leaving 0 clears the file capabilities of the effective set: they come back
// from the permitted set.
int take_ids(const Credentials& caller) {
    if (::prctl(PR_SET_KEEPCAPS, 1) != 0) return errno;
    if (::setgroups(caller.groups.size(), caller.groups.data()) != 0) return errno;
    if (::setresgid(caller.gid[0], caller.gid[1], caller.gid[2]) != 0) return errno;
    if (::setresuid(caller.uid[0], caller.uid[1], caller.uid[2]) != 0) return errno;
    ::prctl(PR_SET_KEEPCAPS, 0);
    // CAP_SETUID again, for a filesystem id other than the effective one.
    if (int err = set_effective(permitted_set())) return err;
    if (int err = set_fs_ids(caller)) return err;
    return set_effective(permitted_set());
}

int take_capabilities(const Credentials& caller) {
    return set_all(caller);
}

// The order matters: the ids first, while CAP_SETGID is still effective (and because the
// kernel clears the effective set when euid leaves 0); then the caller's capabilities.
ActingAs::ActingAs(const Credentials& caller) : own_euid_(::geteuid()), own_egid_(::getegid()) {
    if (::setresgid(-1, caller.gid[1], -1) != 0 || ::setresuid(-1, caller.uid[1], -1) != 0) {
        error_ = errno;
    } else {
        error_ = set_effective(caller.effective);
    }
    if (error_) set_effective(0);  // refused: act as nobody can
}

ActingAs::~ActingAs() {
    set_effective(permitted_set());
    ::setresuid(-1, own_euid_, -1);
    ::setresgid(-1, own_egid_, -1);
}

}  // namespace ecifs::sys
