#pragma once
// The container owns its cgroup: what ecifs-runc changes in config.json for it, and how
// the start hook learns whom to give the cgroup to.
//
// With a user namespace, the container gets a cgroup namespace (its cgroup is the root
// of its /sys/fs/cgroup and of /proc/self/cgroup) and its cgroup mounts read-write; the
// start hook then gives the cgroup's directory and delegation files to the container's
// root (cgroup/delegate.hpp). systemd needs both to boot: it makes init.scope and its
// slices below its own cgroup. The limits the runtime set stay root's.
//
// Without a user namespace nothing changes: the container's root would be the host's
// root, the owner of its cgroup's limits already, and a writable mount would hand them
// over.
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "shim/oci_config.hpp"

namespace ecifs::shim {

// Set on the start hook: UID:GID, the host ids to give the container's cgroups to.
inline constexpr std::string_view delegate_env = "ECIFS_DELEGATE_CGROUP";

// Make the edits above; returns what apply_ecifs records to undo them (null: none made,
// the container has no user namespace).
nlohmann::json delegate_cgroup(nlohmann::json& config);
// Undo them from that record.
void undo_cgroup_delegation(nlohmann::json& config, const nlohmann::json& record);

std::string delegate_env_entry(const RootIds& root);                // "ECIFS_DELEGATE_CGROUP=UID:GID"
std::optional<RootIds> parse_delegate_value(std::string_view text);  // "UID:GID"; nullopt if malformed

}  // namespace ecifs::shim
