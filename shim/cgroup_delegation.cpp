// The container owns its cgroup (cgroup_delegation.hpp).
#include "shim/cgroup_delegation.hpp"

#include <algorithm>

#include <fmt/core.h>

#include "sys/text.hpp"

namespace ecifs::shim {

using nlohmann::json;

namespace {

bool is_cgroup_namespace(const json& ns) {
    return ns.is_object() && ns.value("type", std::string()) == "cgroup" && !ns.contains("path");
}

bool is_cgroup_mount(const json& m) {
    return m.is_object() && m.value("type", std::string()) == "cgroup" && m.contains("options") &&
           m["options"].is_array();
}

}  // namespace

json delegate_cgroup(json& config) {
    const RootIds root = container_root_ids(config);
    if (root.uid == 0) return nullptr;
    json record = {{"cgroupns", false}, {"writable", json::array()}};
    json& linux = config["linux"];  // a user namespace: the object and its "namespaces" list exist
    if (!has_namespace(linux, "cgroup")) {
        linux["namespaces"].push_back({{"type", "cgroup"}});
        record["cgroupns"] = true;
    }
    // Recorded by index: ecifs's own mounts come after the config's, and go first on undo.
    if (config.contains("mounts") && config["mounts"].is_array())
        for (size_t i = 0; i < config["mounts"].size(); ++i) {
            json& m = config["mounts"][i];
            if (!is_cgroup_mount(m)) continue;
            json& options = m["options"];
            const auto ro = std::find(options.begin(), options.end(), "ro");
            if (ro == options.end()) continue;
            record["writable"].push_back({{"mount", i}, {"at", std::distance(options.begin(), ro)}});
            options.erase(ro);
        }
    return record;
}

void undo_cgroup_delegation(json& config, const json& record) {
    if (!record.is_object()) return;
    if (record.contains("cgroupns") && record["cgroupns"] == true && config.contains("linux") &&
        config["linux"].contains("namespaces") && config["linux"]["namespaces"].is_array()) {
        json& namespaces = config["linux"]["namespaces"];
        const auto it = std::find_if(namespaces.begin(), namespaces.end(), is_cgroup_namespace);
        if (it != namespaces.end()) namespaces.erase(it);
    }
    if (!record.contains("writable") || !config.contains("mounts") || !config["mounts"].is_array()) return;
    json& mounts = config["mounts"];
    for (const json& made : record["writable"]) {
        if (!made.is_object() || !made.contains("mount") || !made["mount"].is_number_unsigned()) continue;
        const auto index = made["mount"].get<size_t>();
        if (index >= mounts.size() || !is_cgroup_mount(mounts[index])) continue;
        json& options = mounts[index]["options"];
        const size_t recorded = made.contains("at") && made["at"].is_number_unsigned() ? made["at"].get<size_t>() : 0;
        const auto at = std::min(recorded, options.size());
        options.insert(options.begin() + static_cast<std::ptrdiff_t>(at), "ro");  // where it was
    }
}

std::string delegate_env_entry(const RootIds& root) { return fmt::format("{}={}:{}", delegate_env, root.uid, root.gid); }

std::optional<RootIds> parse_delegate_value(std::string_view text) {
    const auto colon = text.find(':');
    if (colon == std::string_view::npos) return std::nullopt;
    const auto uid = sys::whole_number<uid_t>(text.substr(0, colon));
    const auto gid = sys::whole_number<gid_t>(text.substr(colon + 1));
    if (!uid || !gid) return std::nullopt;
    return RootIds{*uid, *gid};
}

}  // namespace ecifs::shim
