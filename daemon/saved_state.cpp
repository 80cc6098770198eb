#include "daemon/saved_state.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include <fmt/core.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "emulation/host.hpp"
#include "sys/fd.hpp"
#include "sys/files.hpp"

namespace ecifs::daemon {

namespace {

using nlohmann::json;

const char* const record_suffix = ".json";
const char* const values_suffix = ".values.json";
const char* const load_suffix = ".load.json";
const char* const mounts_suffix = ".mounts.json";

void replace_file(const std::filesystem::path& path, const std::string& text) {
    if (int err = sys::replace_file(path, text))
        throw std::runtime_error(fmt::format("cannot write {}: {}", path.string(), std::strerror(err)));
}

json to_json(const SavedContainer& c) {
    std::string init_hex;
    for (unsigned char byte : c.fuse_init) init_hex += fmt::format("{:02x}", byte);
    return {{"version", SavedState::version}, {"id", c.id}, {"root_uid", c.root_uid}, {"root_gid", c.root_gid},
            {"creator", c.creator}, {"creator_start", c.creator_start}, {"masked_paths", c.masked_paths},
            {"readonly_paths", c.readonly_paths}, {"started", c.started}, {"init_pid", c.init_pid},
            {"init_start", c.init_start}, {"init_cgroup", c.init_cgroup}, {"fuse_init", init_hex}};
}

std::string from_hex(const std::string& hex) {
    if (hex.size() % 2) throw std::invalid_argument("odd hex length");
    std::string out;
    for (size_t i = 0; i < hex.size(); i += 2) out += static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16));
    return out;
}

SavedContainer from_json(const json& j) {
    if (j.at("version").get<int>() != SavedState::version)
        throw std::invalid_argument(fmt::format("version {} (this daemon reads {})", j.at("version").dump(),
                                                SavedState::version));
    SavedContainer c;
    c.id = j.at("id").get<std::string>();
    c.root_uid = j.at("root_uid").get<uid_t>();
    c.root_gid = j.at("root_gid").get<gid_t>();
    c.creator = j.at("creator").get<pid_t>();
    c.creator_start = j.at("creator_start").get<double>();
    c.masked_paths = j.at("masked_paths").get<std::vector<std::string>>();
    c.readonly_paths = j.at("readonly_paths").get<std::vector<std::string>>();
    c.started = j.at("started").get<bool>();
    c.init_pid = j.at("init_pid").get<pid_t>();
    c.init_start = j.at("init_start").get<double>();
    c.init_cgroup = j.value("init_cgroup", std::string());
    c.fuse_init = from_hex(j.at("fuse_init").get<std::string>());
    return c;
}

json read_json(const std::filesystem::path& path) {
    std::string text;
    if (int err = sys::read_file(path.string(), text))
        throw std::runtime_error(fmt::format("{}: {}", path.string(), std::strerror(err)));
    try {
        return json::parse(text);
    } catch (const std::exception& e) {
        throw std::runtime_error(fmt::format("{}: {}", path.string(), e.what()));
    }
}

}  // namespace

SavedState::SavedState(std::filesystem::path dir) : dir_(std::move(dir)) {
    std::filesystem::create_directories(dir_ / "pending");
    std::filesystem::permissions(dir_, std::filesystem::perms::owner_all);
}

std::filesystem::path SavedState::record_file(const std::string& id) const { return dir_ / (id + record_suffix); }
std::filesystem::path SavedState::values_file(const std::string& id) const { return dir_ / (id + values_suffix); }
std::filesystem::path SavedState::load_file(const std::string& id) const { return dir_ / (id + load_suffix); }
std::filesystem::path SavedState::nodes_file(const std::string& id) const { return dir_ / (id + ".nodes"); }
std::filesystem::path SavedState::mounts_file(const std::string& id) const { return dir_ / (id + mounts_suffix); }

void SavedState::save(const SavedContainer& container) const {
    replace_file(record_file(container.id), to_json(container).dump() + "\n");
}

void SavedState::save_values(const std::string& id, const std::map<std::string, std::string>& values) const {
    replace_file(values_file(id), json{{"version", version}, {"values", values}}.dump() + "\n");
}

void SavedState::erase(const std::string& id) const {
    for (const auto& path : {record_file(id), values_file(id), load_file(id), nodes_file(id), mounts_file(id)})
        ::unlink(path.c_str());
    std::error_code ignored;
    const std::string prefix = "seccomp:" + id + ":";  // the fd holder's keys of its notify fds
    for (const auto& entry : std::filesystem::directory_iterator(pending_dir(), ignored))
        if (entry.path().filename().string().starts_with(prefix)) ::unlink(entry.path().c_str());
}

std::map<std::string, std::string> SavedState::load_values(const std::string& id) const {
    if (!std::filesystem::exists(values_file(id))) return {};
    const json j = read_json(values_file(id));
    try {
        if (j.at("version").get<int>() != version) throw std::invalid_argument("unknown version " + j.at("version").dump());
        return j.at("values").get<std::map<std::string, std::string>>();
    } catch (const std::exception& e) {
        throw std::runtime_error(fmt::format("{}: {}", values_file(id).string(), e.what()));
    }
}

void SavedState::save_load(const std::string& id, const emulation::LoadAverage::Saved& load) const {
    replace_file(load_file(id), json{{"version", version}, {"avenrun", load.avenrun}, {"next_fold_ns", load.next_fold_ns}}
                                        .dump() + "\n");
}

std::optional<emulation::LoadAverage::Saved> SavedState::load_load(const std::string& id) const {
    if (!std::filesystem::exists(load_file(id))) return std::nullopt;
    try {
        const json j = read_json(load_file(id));
        if (j.at("version").get<int>() != version) throw std::invalid_argument("unknown version " + j.at("version").dump());
        return emulation::LoadAverage::Saved{j.at("avenrun").get<std::array<uint64_t, 3>>(),
                                             j.at("next_fold_ns").get<int64_t>()};
    } catch (const std::exception& e) {
        spdlog::error("{}: {}; its load average starts again", load_file(id).string(), e.what());
        return std::nullopt;
    }
}

// {"version": 1, "namespaces": {"INODE": [[MOUNT_ID, DRESSES], ...], ...}}
void SavedState::save_mounts(const std::string& id, const OwnMountTable& mounts) const {
    json namespaces = json::object();
    for (const auto& [ino, table] : mounts) {
        json rows = json::array();
        for (const auto& [mount, of] : table) rows.push_back({mount, of});
        namespaces[std::to_string(ino)] = std::move(rows);
    }
    replace_file(mounts_file(id), json{{"version", version}, {"namespaces", namespaces}}.dump() + "\n");
}

OwnMountTable SavedState::load_mounts(const std::string& id) const {
    if (!std::filesystem::exists(mounts_file(id))) return {};
    const json j = read_json(mounts_file(id));
    try {
        if (j.at("version").get<int>() != version) throw std::invalid_argument("unknown version " + j.at("version").dump());
        OwnMountTable mounts;
        for (const auto& [ino, rows] : j.at("namespaces").items()) {
            auto& table = mounts[static_cast<ino_t>(std::stoull(ino))];
            for (const auto& row : rows) table[row.at(0).get<uint64_t>()] = row.at(1).get<uint64_t>();
        }
        return mounts;
    } catch (const std::exception& e) {
        throw std::runtime_error(fmt::format("{}: {}", mounts_file(id).string(), e.what()));
    }
}

SavedState::Loaded SavedState::load_all() const {
    Loaded loaded;
    for (const auto& entry : std::filesystem::directory_iterator(dir_)) {
        const std::string name = entry.path().filename().string();
        if (!name.ends_with(record_suffix) || name.ends_with(values_suffix) || name.ends_with(load_suffix) ||
            name.ends_with(mounts_suffix))
            continue;
        try {
            SavedContainer c;
            try {
                c = from_json(read_json(entry.path()));
            } catch (const nlohmann::json::exception& e) {
                throw std::runtime_error(fmt::format("{}: {}", entry.path().string(), e.what()));
            } catch (const std::invalid_argument& e) {
                throw std::runtime_error(fmt::format("{}: {}", entry.path().string(), e.what()));
            }
            if (c.id + record_suffix != name) throw std::runtime_error(entry.path().string() + ": names another container");
            loaded.containers.push_back(std::move(c));
        } catch (const std::exception& e) {
            loaded.errors.push_back(e.what());
        }
    }
    return loaded;
}

void SavedState::remove_unfinished_writes() const {
    for (const auto& dir : {dir_, pending_dir()}) {
        std::error_code ignored;
        for (const auto& entry : std::filesystem::directory_iterator(dir, ignored)) {
            const std::string name = entry.path().filename().string();
            if (name.starts_with(".") && name.ends_with(".tmp")) ::unlink(entry.path().c_str());
        }
    }
}

std::optional<double> process_start(pid_t pid) {
    if (pid <= 0) return std::nullopt;
    try {
        return emulation::real_host().process_start_seconds(pid);
    } catch (const std::exception&) {  // gone
        return std::nullopt;
    }
}

}  // namespace ecifs::daemon
