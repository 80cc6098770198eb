#pragma once
// Editing an OCI bundle's config.json so that runc places the container's ecifs views
// and tells the daemon about the container's life.
//
// What ecifs adds, and how a later edit finds it again (a second `run` of the same
// bundle must not add twice):
//  - one mount per view that runc accepts as a config.json bind mount;
//  - hooks whose args[1] is "ecifs-hook" (createRuntime "start", which also places the
//    views runc refuses, and poststop "poststop");
//  - readonlyPaths entries equal to a view's destination are dropped;
//  - with a seccomp listener: linux.seccomp.listenerPath and the rules of the trapper's
//    table (seccomp/table.hpp), merged into the profile already there;
//  - the annotation io.ecifs.managed records the mounts added, the readonlyPaths
//    dropped and the seccomp profile as it was, so remove_ecifs() restores the config
//    as it was before.
#include <sys/types.h>

#include <filesystem>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace ecifs::shim {

struct OciError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

inline constexpr std::string_view managed_annotation = "io.ecifs.managed";
// args[1] of every hook ecifs adds: `ecifs-runc ecifs-hook MODE ...`.
inline constexpr std::string_view hook_word = "ecifs-hook";

// The host ids that the container's root (uid 0, gid 0) is. Without a user namespace
// they are 0/0. Throws OciError for a user namespace that does not map 0.
struct RootIds {
    uid_t uid = 0;
    gid_t gid = 0;
};
RootIds container_root_ids(const nlohmann::json& config);
// Whether config.json's `linux` object lists a namespace of this type ("user", "cgroup").
bool has_namespace(const nlohmann::json& linux, std::string_view type);

// One view from the daemon's prepare reply: a path inside the container's ecifs mount
// and where it goes in the container.
struct View {
    std::string source;
    std::string destination;
    bool operator==(const View&) const = default;
};
// The "views" of a prepare reply. Throws OciError if malformed (paths not absolute).
std::vector<View> views_from_reply(const nlohmann::json& reply);

// Whether runc 1.1 accepts a config.json bind mount at this destination. runc refuses
// every mount destination inside /proc except a fixed list (those LXCFS emulates);
// those views are placed by the createRuntime "start" hook instead.
bool runc_accepts_bind(std::string_view destination);

struct HookSetup {
    std::string self_exe;  // absolute path of ecifs-runc, run by runc as the hook
    std::string socket;    // the daemon's control socket, given as ECIFS_SOCKET
    std::string seccomp_listener;  // the daemon's seccomp listener; empty: no seccomp rules
    // Give a user-namespaced container its cgroup (cgroup_delegation.hpp). Off for a
    // runtime run by another user than root, which could not chown the cgroup: runc's
    // behaviour is kept there.
    bool delegate_cgroup = true;
};

// Make `config`'s seccomp profile hand the trapped syscalls to `listener_path`
// (SCMP_ACT_NOTIFY) and answer the new mount API with ENOSYS, keeping the profile's
// policy: a syscall the profile forbids stays forbidden and is not trapped; one it
// allows (by a rule or by its default action) leaves its rules and goes into ecifs's,
// so every syscall keeps one action, as libseccomp requires; an allow rule with
// argument conditions becomes a rule with the same conditions and ecifs's action.
// Without a profile, one is made: defaultAction SCMP_ACT_ALLOW, the native
// architectures. Throws OciError when the config hands notifications to another
// listener already. Returns the profile as it was (null if there was none).
nlohmann::json apply_seccomp(nlohmann::json& config, const std::string& listener_path);

// linux.maskedPaths and linux.readonlyPaths as config.json has them without ecifs's
// edits (a readonlyPath dropped for a view is back), for the daemon's prepare request: a
// proc or sysfs mounted inside the container gets them too. Only absolute paths,
// lexically normalised; anything else is left out.
struct RuntimeMasks {
    std::vector<std::string> masked, read_only;
};
RuntimeMasks runtime_masks(const nlohmann::json& config);

// Remove what an earlier apply_ecifs added, then add mounts and hooks for `views`.
void apply_ecifs(nlohmann::json& config, std::span<const View> views, const HookSetup& hooks);
// Remove everything apply_ecifs added; a config without ecifs entries is unchanged.
void remove_ecifs(nlohmann::json& config);

// The start hook's arguments after "start" when it places views: root.path as written
// in config.json, then source and destination of each view it places.
struct PlaceList {
    std::string root_path;
    std::vector<View> views;
};
std::vector<std::string> place_args(const PlaceList& list);
PlaceList parse_place_args(std::span<const std::string> args);  // throws OciError
// root.path resolved as runc resolves it: relative to the bundle directory.
std::filesystem::path resolve_rootfs(const std::string& root_path, const std::filesystem::path& bundle);

// Read and parse config.json. Throws OciError.
nlohmann::json read_config(const std::filesystem::path& file);
// Replace `file` atomically (temporary file in the same directory, then rename),
// keeping its permission bits and, where allowed, its owner. Throws OciError.
void write_config_atomically(const std::filesystem::path& file, const nlohmann::json& config);

}  // namespace ecifs::shim
