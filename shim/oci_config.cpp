#include "shim/oci_config.hpp"

#include <algorithm>
#include <cstdint>
#include <optional>

#include <fmt/core.h>

#include "seccomp/table.hpp"
#include "shim/cgroup_delegation.hpp"
#include "sysctl/table.hpp"

namespace ecifs::shim {

using nlohmann::json;

namespace {

constexpr const char* hook_path_env = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

// Destinations are compared as runc compares them: lexically cleaned
// (Go's filepath.Clean: no "//", ".", ".." or trailing "/").
std::string clean_path(std::string_view path) {
    std::string s = std::filesystem::path(path).lexically_normal().string();
    while (s.size() > 1 && s.back() == '/') s.pop_back();
    return s;
}

// ---- user namespace ----------------------------------------------------------------


// A mapping's id field as runc reads it (a uint32); nullopt when missing or not one (a
// float, a negative, a string: json's own conversion of those is undefined or throws).
std::optional<uint32_t> id_field(const json& mapping, const char* key) {
    if (!mapping.contains(key) || !mapping[key].is_number_integer()) return std::nullopt;
    const json& field = mapping[key];
    if (!field.is_number_unsigned() && field.get<int64_t>() < 0) return std::nullopt;
    const auto value = field.get<uint64_t>();
    if (value > UINT32_MAX) return std::nullopt;
    return static_cast<uint32_t>(value);
}

// The host id that container id 0 maps to in an OCI id mapping list.
uint32_t host_id_of_root(const json& linux, const char* key) {
    if (linux.contains(key) && linux[key].is_array()) {
        for (const json& m : linux[key]) {
            if (!m.is_object()) continue;
            const auto host_id = id_field(m, "hostID");
            if (id_field(m, "containerID") == 0u && id_field(m, "size").value_or(0) > 0 && host_id) return *host_id;
        }
    }
    throw OciError(fmt::format(
        "config.json has a user namespace but linux.{} maps nothing to the container's root (0)", key));
}

// ---- what ecifs adds ---------------------------------------------------------------

json bind_mount(const View& v) {
    // The daemon's FUSE mount is nosuid,nodev,noexec; in a user namespace those flags
    // are locked on the bind, so runc's remount must repeat them or fail with EPERM.
    return {{"destination", v.destination},
            {"type", "bind"},
            {"source", v.source},
            {"options", {"bind", "nosuid", "nodev", "noexec"}}};
}

json hook(const HookSetup& setup, std::string_view mode, const std::vector<std::string>& extra = {}) {
    json args = {setup.self_exe, hook_word, mode};
    for (const auto& a : extra) args.push_back(a);
    return {{"path", setup.self_exe},
            {"args", args},
            {"env", {fmt::format("ECIFS_SOCKET={}", setup.socket), hook_path_env}}};
}

bool is_ecifs_hook(const json& h) {
    if (!h.is_object() || !h.contains("args")) return false;
    const json& args = h["args"];
    return args.is_array() && args.size() >= 2 && args[1].is_string() && args[1] == hook_word;
}

json& array_at(json& object, const char* key) {
    if (!object.contains(key)) object[key] = json::array();
    if (!object[key].is_array()) throw OciError(fmt::format("config.json: '{}' is not an array", key));
    return object[key];
}

json& object_at(json& object, const char* key) {
    if (!object.contains(key)) object[key] = json::object();
    if (!object[key].is_object()) throw OciError(fmt::format("config.json: '{}' is not an object", key));
    return object[key];
}

void add_hook(json& config, const char* kind, json h) {
    array_at(object_at(config, "hooks"), kind).push_back(std::move(h));
}

std::string root_path_of(const json& config) {
    if (!config.contains("root") || !config["root"].is_object() || !config["root"].contains("path") ||
        !config["root"]["path"].is_string())
        throw OciError("config.json has no root.path");
    return config["root"]["path"].get<std::string>();
}

// Drop readonlyPaths entries equal to a view's destination: runc would remount the
// view read-only after placing it (and after the createContainer hooks), making an
// emulated file such as /proc/sys read-only where ecifs means it to be writable.
// Entries below or above a view (e.g. /proc/sys/kernel) and maskedPaths stay as they are.
// Not for a container without a user namespace: its root is the host's root, and what
// ecifs would do for it (a namespaced sysctl's write by an executor) would be done as
// the host's root; it keeps /proc/sys read-only, as runc gives it.
json drop_covered_readonly_paths(json& config, std::span<const View> views) {
    json dropped = json::array();
    if (!config.contains("linux") || !config["linux"].is_object()) return dropped;
    json& linux = config["linux"];
    if (!has_namespace(linux, "user")) return dropped;
    if (!linux.contains("readonlyPaths") || !linux["readonlyPaths"].is_array()) return dropped;
    json kept = json::array();
    for (const json& p : linux["readonlyPaths"]) {
        bool covered = p.is_string() && std::any_of(views.begin(), views.end(), [&](const View& v) {
                           return clean_path(v.destination) == clean_path(p.get<std::string>());
                       });
        (covered ? dropped : kept).push_back(p);
    }
    linux["readonlyPaths"] = std::move(kept);
    return dropped;
}

// runc makes a readonlyPaths entry read-only with a recursive bind whose top alone is
// remounted read-only, so a kernel file bound over a view below it (sysctl::kernel_files())
// would stay writable where runc's whole directory is read-only: it gets its own entry,
// after the directory's. Returns the entries added.
json add_read_only_kernel_files(json& config) {
    json added = json::array();
    if (!config.contains("linux") || !config["linux"].is_object()) return added;
    json& linux = config["linux"];
    if (!linux.contains("readonlyPaths") || !linux["readonlyPaths"].is_array()) return added;
    json& paths = linux["readonlyPaths"];
    for (std::string_view file : sysctl::kernel_files()) {
        const std::string path = "/" + std::string(file);
        const bool below_one = std::any_of(paths.begin(), paths.end(), [&](const json& p) {
            return p.is_string() && path.starts_with(clean_path(p.get<std::string>()) + "/");
        });
        if (below_one && std::find(paths.begin(), paths.end(), path) == paths.end()) added.push_back(path);
    }
    for (const json& p : added) paths.push_back(p);
    return added;
}

void remove_added_read_only_paths(json& config, const json& record) {
    if (!record.contains("addedReadonlyPaths")) return;
    json& paths = array_at(object_at(config, "linux"), "readonlyPaths");
    for (const json& p : record["addedReadonlyPaths"])
        if (auto it = std::find(paths.begin(), paths.end(), p); it != paths.end()) paths.erase(it);
}

// ---- finding it again --------------------------------------------------------------

json managed_record(const json& config) {
    if (!config.contains("annotations") || !config["annotations"].is_object()) return json::object();
    const json& annotations = config["annotations"];
    auto it = annotations.find(managed_annotation);
    if (it == annotations.end() || !it->is_string()) return json::object();
    json record = json::parse(it->get<std::string>(), nullptr, false);
    return record.is_object() ? record : json::object();
}

void remove_recorded_mounts(json& config, const json& record) {
    if (!record.contains("mounts") || !config.contains("mounts") || !config["mounts"].is_array()) return;
    json& mounts = config["mounts"];
    for (const json& added : record["mounts"]) {
        auto it = std::find_if(mounts.begin(), mounts.end(), [&](const json& m) {
            return m.is_object() && m.value("type", "") == "bind" &&
                   m.value("source", "") == added.value("source", "") &&
                   m.value("destination", "") == added.value("destination", "");
        });
        if (it != mounts.end()) mounts.erase(it);
    }
}

void restore_readonly_paths(json& config, const json& record) {
    if (!record.contains("readonlyPaths") || record["readonlyPaths"].empty()) return;
    json& paths = array_at(object_at(config, "linux"), "readonlyPaths");
    const json& dropped = record["readonlyPaths"];  // each back as often as it was dropped
    for (const json& p : dropped)
        if (std::count(paths.begin(), paths.end(), p) < std::count(dropped.begin(), dropped.end(), p)) paths.push_back(p);
}

void remove_ecifs_hooks(json& config) {
    if (!config.contains("hooks") || !config["hooks"].is_object()) return;
    json& hooks = config["hooks"];
    for (auto kind = hooks.begin(); kind != hooks.end();) {
        if (kind->is_array()) {
            json& list = *kind;
            list.erase(std::remove_if(list.begin(), list.end(), is_ecifs_hook), list.end());
        }
        kind = kind->is_array() && kind->empty() ? hooks.erase(kind) : std::next(kind);
    }
    if (hooks.empty()) config.erase("hooks");
}

void restore_seccomp(json& config, const json& record) {
    if (!record.contains("seccomp")) return;
    json& linux = object_at(config, "linux");
    if (record["seccomp"].is_null()) {
        linux.erase("seccomp");
        if (linux.empty()) config.erase("linux");
    } else {
        linux["seccomp"] = record["seccomp"];
    }
}

// ---- seccomp -----------------------------------------------------------------------

bool allows(const json& action) { return action == "SCMP_ACT_ALLOW" || action == "SCMP_ACT_LOG"; }

bool has_conditions(const json& rule) { return rule.contains("args") && rule["args"].is_array() && !rule["args"].empty(); }

// Whether a rule names the syscall (in "names", or the old single "name").
bool names_syscall(const json& rule, std::string_view name) {
    if (!rule.is_object()) return false;
    if (rule.contains("names") && rule["names"].is_array())
        for (const json& n : rule["names"])
            if (n.is_string() && n.get<std::string>() == name) return true;
    return rule.contains("name") && rule["name"].is_string() && rule["name"].get<std::string>() == name;
}

void drop_name(json& rule, std::string_view name) {
    if (rule.contains("names") && rule["names"].is_array()) {
        json& names = rule["names"];
        names.erase(std::remove_if(names.begin(), names.end(),
                                   [&](const json& n) { return n.is_string() && n.get<std::string>() == name; }),
                    names.end());
    }
    if (rule.contains("name") && rule["name"].is_string() && rule["name"].get<std::string>() == name) rule.erase("name");
}

bool names_nothing(const json& rule) {
    bool names = rule.contains("names") && rule["names"].is_array() && !rule["names"].empty();
    return !names && !rule.contains("name");
}

// Give `name` the action `ours` where the profile lets it run. Returns whether it joins
// ecifs's unconditional rule (the conditional ones are made here).
bool take_syscall(json& syscalls, bool default_allows, std::string_view name, const json& ours, json& conditional) {
    bool listed = false, denied = false, allowed = false;
    for (const json& rule : syscalls) {
        if (!names_syscall(rule, name)) continue;
        listed = true;
        const bool allow = allows(rule.value("action", json()));
        if (!has_conditions(rule)) (allow ? allowed : denied) = true;
    }
    if (denied) return false;  // the profile forbids it: it stays forbidden
    if (!allowed && !(default_allows && !listed)) {
        // Allowed only under conditions (or not at all): the allowing rules keep their
        // conditions and get our action.
        for (json& rule : syscalls) {
            if (!names_syscall(rule, name) || !has_conditions(rule) || !allows(rule.value("action", json()))) continue;
            json copy = rule;
            copy.erase("name");
            copy["names"] = json::array({std::string(name)});
            for (auto& [key, value] : ours.items()) copy[key] = value;
            conditional.push_back(std::move(copy));
            drop_name(rule, name);
        }
        return false;
    }
    for (json& rule : syscalls)
        if (names_syscall(rule, name) && !has_conditions(rule)) drop_name(rule, name);
    return true;
}

void remove_annotation(json& config) {
    if (!config.contains("annotations") || !config["annotations"].is_object()) return;
    config["annotations"].erase(std::string(managed_annotation));
    if (config["annotations"].empty()) config.erase("annotations");
}

}  // namespace

bool has_namespace(const json& linux, std::string_view type) {
    const json* namespaces = linux.is_object() && linux.contains("namespaces") ? &linux["namespaces"] : nullptr;
    if (!namespaces || !namespaces->is_array()) return false;
    return std::any_of(namespaces->begin(), namespaces->end(), [&](const json& ns) {
        return ns.is_object() && ns.value("type", std::string()) == type;
    });
}

RootIds container_root_ids(const json& config) {
    if (!config.contains("linux") || !config["linux"].is_object()) return {};
    const json& linux = config["linux"];
    if (!has_namespace(linux, "user")) return {};
    return {host_id_of_root(linux, "uidMappings"), host_id_of_root(linux, "gidMappings")};
}

std::vector<View> views_from_reply(const json& reply) {
    if (!reply.contains("views") || !reply["views"].is_array())
        throw OciError("the ecifs daemon's prepare reply has no list of views");
    std::vector<View> views;
    for (const json& v : reply["views"]) {
        if (!v.is_object()) throw OciError(fmt::format("the ecifs daemon sent a malformed view: {}", v.dump()));
        View view{v.value("source", ""), v.value("destination", "")};
        if (view.source.empty() || view.source[0] != '/' || view.destination.empty() ||
            view.destination[0] != '/')
            throw OciError(fmt::format("the ecifs daemon sent a malformed view: {}", v.dump()));
        views.push_back(std::move(view));
    }
    return views;
}

bool runc_accepts_bind(std::string_view destination) {
    // runc 1.1 libcontainer/rootfs_linux.go checkProcMount: a mount inside /proc is an
    // error unless it is exactly one of these. (Later runc versions add /proc/net/dev
    // and /proc/sys/kernel/ns_last_pid; the hook places those as well, so the shorter
    // list works with every version.)
    static constexpr std::string_view accepted[] = {
        "/proc/cpuinfo", "/proc/diskstats", "/proc/meminfo", "/proc/stat",
        "/proc/swaps",   "/proc/uptime",    "/proc/loadavg", "/proc/slabinfo",
    };
    std::string dest = clean_path(destination);
    if (dest != "/proc" && !dest.starts_with("/proc/")) return true;
    return std::find(std::begin(accepted), std::end(accepted), dest) != std::end(accepted);
}

void remove_ecifs(json& config) {
    json record = managed_record(config);
    remove_recorded_mounts(config, record);
    remove_added_read_only_paths(config, record);
    restore_readonly_paths(config, record);
    restore_seccomp(config, record);
    if (record.contains("cgroup")) undo_cgroup_delegation(config, record["cgroup"]);
    remove_ecifs_hooks(config);
    remove_annotation(config);
}

namespace {

std::vector<std::string> absolute_paths(const json& linux, const char* key) {
    std::vector<std::string> out;
    if (!linux.contains(key) || !linux[key].is_array()) return out;
    for (const json& p : linux[key])
        if (p.is_string() && p.get<std::string>().starts_with("/"))
            out.push_back(std::filesystem::path(p.get<std::string>()).lexically_normal().string());
    return out;
}

}  // namespace

RuntimeMasks runtime_masks(const json& config) {
    json original = config;
    remove_ecifs(original);
    RuntimeMasks out;
    if (!original.contains("linux") || !original["linux"].is_object()) return out;
    out.masked = absolute_paths(original["linux"], "maskedPaths");
    out.read_only = absolute_paths(original["linux"], "readonlyPaths");
    return out;
}

void apply_ecifs(json& config, std::span<const View> views, const HookSetup& setup) {
    if (!config.is_object()) throw OciError("config.json is not a JSON object");
    remove_ecifs(config);
    json record = {{"mounts", json::array()}};
    PlaceList to_place{root_path_of(config), {}};
    json& mounts = array_at(config, "mounts");
    for (const View& v : views) {
        if (runc_accepts_bind(v.destination)) {
            mounts.push_back(bind_mount(v));
            record["mounts"].push_back({{"source", v.source}, {"destination", v.destination}});
        } else {
            to_place.views.push_back(v);
        }
    }
    record["readonlyPaths"] = drop_covered_readonly_paths(config, views);
    if (json added = add_read_only_kernel_files(config); !added.empty()) record["addedReadonlyPaths"] = added;
    // createRuntime: runc runs it in its own namespaces once the container's init exists
    // and its config mounts are made, before pivot_root, with the OCI state (id, pid) on
    // stdin. It tells the daemon, then places the views under /proc that runc refuses,
    // from inside the init's user and mount namespaces. Not a createContainer hook: runc
    // init would fork that in the container's pid namespace, where it takes a pid.
    json start = hook(setup, "start", to_place.views.empty() ? std::vector<std::string>{} : place_args(to_place));
    if (json cgroup = setup.delegate_cgroup ? delegate_cgroup(config) : json(); !cgroup.is_null()) {
        record["cgroup"] = std::move(cgroup);
        start["env"].push_back(delegate_env_entry(container_root_ids(config)));
    }
    add_hook(config, "createRuntime", std::move(start));
    add_hook(config, "poststop", hook(setup, "poststop"));
    if (!setup.seccomp_listener.empty()) record["seccomp"] = apply_seccomp(config, setup.seccomp_listener);
    object_at(config, "annotations")[std::string(managed_annotation)] = record.dump();
}

json apply_seccomp(json& config, const std::string& listener_path) {
    namespace table = seccomp;
    json& linux = object_at(config, "linux");
    const json original = linux.contains("seccomp") ? linux["seccomp"] : json(nullptr);
    if (!original.is_null() && !original.is_object()) throw OciError("config.json: 'linux.seccomp' is not an object");
    json seccomp = original;
    if (seccomp.is_null()) {
        json arches = json::array();
        for (std::string_view a : table::profile_architectures()) arches.push_back(std::string(a));
        seccomp = {{"defaultAction", "SCMP_ACT_ALLOW"}, {"architectures", arches}, {"syscalls", json::array()}};
    }
    if (seccomp.contains("listenerPath") && seccomp["listenerPath"].is_string() &&
        !seccomp["listenerPath"].get<std::string>().empty() && seccomp["listenerPath"] != listener_path)
        throw OciError(fmt::format("config.json hands seccomp notifications to {} already; ecifs needs its own listener",
                                   seccomp["listenerPath"].get<std::string>()));
    json& syscalls = array_at(seccomp, "syscalls");
    std::vector<bool> named_something;
    for (const json& rule : syscalls) named_something.push_back(!names_nothing(rule));
    const bool default_allows = allows(seccomp.value("defaultAction", json()));

    const json notify = {{"action", "SCMP_ACT_NOTIFY"}};
    const json enosys = {{"action", "SCMP_ACT_ERRNO"}, {"errnoRet", table::enosys_errno}};
    json trapped = json::array(), refused = json::array(), conditional = json::array();
    for (const auto& s : table::trapped_syscalls())
        if (take_syscall(syscalls, default_allows, s.name, notify, conditional)) trapped.push_back(std::string(s.name));
    bool notifies = !trapped.empty() || !conditional.empty();
    for (std::string_view name : table::enosys_syscalls())
        if (take_syscall(syscalls, default_allows, name, enosys, conditional)) refused.push_back(std::string(name));
    // Rules whose every name went to ecifs's rules are gone.
    for (std::size_t i = syscalls.size(); i-- > 0;)
        if (named_something[i] && names_nothing(syscalls[i])) syscalls.erase(i);
    for (json& rule : conditional) syscalls.push_back(std::move(rule));
    if (!trapped.empty()) syscalls.push_back({{"names", trapped}, {"action", "SCMP_ACT_NOTIFY"}});
    if (!refused.empty())
        syscalls.push_back({{"names", refused}, {"action", "SCMP_ACT_ERRNO"}, {"errnoRet", table::enosys_errno}});
    // runc refuses a listener without a notify rule.
    if (notifies) seccomp["listenerPath"] = listener_path;
    linux["seccomp"] = std::move(seccomp);
    return original;
}

std::vector<std::string> place_args(const PlaceList& list) {
    std::vector<std::string> args{list.root_path};
    for (const View& v : list.views) {
        args.push_back(v.source);
        args.push_back(v.destination);
    }
    return args;
}

PlaceList parse_place_args(std::span<const std::string> args) {
    if (args.empty() || args.size() % 2 != 1)
        throw OciError("usage: ecifs-hook place ROOT_PATH SOURCE DESTINATION [SOURCE DESTINATION]...");
    PlaceList list{args[0], {}};
    for (size_t i = 1; i < args.size(); i += 2) {
        if (args[i].empty() || args[i][0] != '/' || args[i + 1].empty() || args[i + 1][0] != '/')
            throw OciError(fmt::format("place: paths must be absolute: '{}' '{}'", args[i], args[i + 1]));
        list.views.push_back({args[i], args[i + 1]});
    }
    return list;
}

std::filesystem::path resolve_rootfs(const std::string& root_path, const std::filesystem::path& bundle) {
    std::filesystem::path root(root_path);
    return (root.is_absolute() ? root : bundle / root).lexically_normal();
}

}  // namespace ecifs::shim
