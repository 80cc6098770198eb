#pragma once
// A caller's credentials, for helpers that act on its behalf in its user namespace: the
// kernel then decides with exactly the caller's rights, not the helper's (a helper that
// joined a user namespace as its root holds every capability there).
#include <sys/types.h>

#include <cstdint>
#include <string_view>
#include <vector>

namespace ecifs::sys {

// As /proc/TID/status shows them to a reader in the caller's user namespace (opened
// after joining it, so the ids are mapped into that namespace; unmapped ids show as the
// overflow id, 65534).
struct Credentials {
    uid_t uid[4] = {};  // real, effective, saved, filesystem
    gid_t gid[4] = {};
    std::vector<gid_t> groups;
    uint64_t inheritable = 0, permitted = 0, effective = 0;
    bool operator==(const Credentials&) const = default;
};

// Parse a /proc/TID/status text. False if a field is missing.
bool parse_credentials(std::string_view status, Credentials& out);

// Read thread `tid`'s (a host pid: the reader must see the host's /proc). Returns 0 or
// a positive errno (ESRCH when the thread is gone).
int read_credentials(pid_t tid, Credentials& out);

// A helper becomes a caller in two steps around setns(2) into the caller's user
// namespace, which needs CAP_SYS_ADMIN over that namespace and then gives every
// capability in it and none outside (the kernel's userns_install):
//  - take_ids, before joining: the caller's uids, gids (real, effective, saved,
//    filesystem) and groups, as the host's user namespace sees them (its /proc/TID/status
//    read by the daemon), keeping the capabilities the joins still need;
//  - take_capabilities, after joining: exactly the caller's capability sets.
// Joining a user namespace changes no id, so every id is the caller's from the first
// step on. 0 or the errno of the step that failed.
int take_ids(const Credentials& caller);
int take_capabilities(const Credentials& caller);

// For as long as it lives, the process acts with `caller`'s effective uid, gid and
// capabilities (as far as its own permitted set holds them), then takes its own back.
// For single-threaded helpers: glibc changes the ids of every thread, capset only the
// calling one's.
// Only the effective ids change: the real and saved ones stay, so does the permitted
// set, and the way back needs no privilege.
class ActingAs {
public:
    explicit ActingAs(const Credentials& caller);
    ~ActingAs();
    ActingAs(const ActingAs&) = delete;
    ActingAs& operator=(const ActingAs&) = delete;

    // 0, or the errno of the step that failed (the thread then acts as nobody can:
    // callers must refuse the operation).
    int error() const { return error_; }

private:
    uid_t own_euid_;
    gid_t own_egid_;
    int error_ = 0;
};

}  // namespace ecifs::sys
