#pragma once
// The control protocol between the daemon and its clients (ecifs-runc, its hooks,
// ecifsctl). One request per line, one reply per line, both JSON objects, over the
// Unix stream socket; only root peers are served.
//
//   {"op":"prepare","id":ID,"root_uid":U,"root_gid":G[,"creator_pid":P][,"mount_fd":true]
//    [,"masked_paths":[PATH,...],"readonly_paths":[PATH,...]]}
//        -> {"ok":true,"mount":DIR,"views":[{"source":PATH,"destination":PATH},...],
//            "seccomp_listener":PATH[,"mount_fd":true]}
//        views: the registry's views (handlers::view_mounts()) whose destination
//        exists on this host, each to be bind-mounted from its source.
//        masked_paths, readonly_paths: config.json's linux.maskedPaths and
//        readonlyPaths, which a proc or sysfs mounted inside the container gets too.
//        "mount_fd":true: the reply carries (SCM_RIGHTS) a detached copy of the
//        container's mount (open_tree(OPEN_TREE_CLONE)) and says "mount_fd":true.
//   {"op":"start","id":ID,"pid":PID}        -> {"ok":true}
//   {"op":"remove","id":ID}                 -> {"ok":true}
//   {"op":"list"}                           -> {"ok":true,"containers":[{...}]}
//   {"op":"inspect","id":ID}                -> {"ok":true,"container":{...}}
//   anything else                           -> {"ok":false,"error":MESSAGE}
#include <stdexcept>
#include <string>

#include <nlohmann/json.hpp>

#include "control/fd_passing.hpp"

namespace ecifs::control {

inline constexpr const char* default_socket_path = "/run/ecifs/ecifs.sock";
inline constexpr const char* socket_env = "ECIFS_SOCKET";
// A request line longer than this is refused and the connection closed.
inline constexpr std::size_t max_message_bytes = 64 * 1024;

// $ECIFS_SOCKET, or the default.
std::string socket_path_from_env();

struct ControlError : std::runtime_error {
    using std::runtime_error::runtime_error;
};
// Nothing answers on the socket (no daemon there), or it cannot be reached.
struct DaemonUnreachable : ControlError {
    using ControlError::ControlError;
};

// Send one request and wait for its reply. Throws ControlError with a message fit for
// a user ("ecifs daemon is not running (no socket at ...)", or the daemon's error).
nlohmann::json request(const std::string& socket_path, const nlohmann::json& req);

// The same, keeping the descriptor the reply carried, if any.
struct ReplyWithFd {
    nlohmann::json body;
    sys::Fd fd;
};
ReplyWithFd request_with_fd(const std::string& socket_path, const nlohmann::json& req);

}  // namespace ecifs::control
