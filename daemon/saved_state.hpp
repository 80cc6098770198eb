#pragma once
// What a daemon keeps on disk so that the next one serves its containers after a crash,
// a kill or an upgrade (docs/restart.md): under STATE/records, per container, its
// record (ID.json: who it is, how to re-identify its processes, the INIT its FUSE
// connection began with), its own values (ID.values.json: sysctls, boot_id,
// product_uuid), its mount's dynamic inodes (ID.nodes) and the mounts it made through
// the trapper (ID.mounts.json). Files are replaced whole
// (write, then rename), so a reader finds the old version or the new, never a mix.
#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "emulation/loadavg.hpp"

namespace ecifs::daemon {

// The mounts a container made through the trapper, per mount namespace inode
// (seccomp::OwnMounts::Snapshot).
using OwnMountTable = std::map<ino_t, std::map<uint64_t, uint64_t>>;

struct SavedContainer {
    std::string id;
    uid_t root_uid = 0;
    gid_t root_gid = 0;
    pid_t creator = 0;              // the runtime that prepared it; 0: an operator
    double creator_start = 0;       // its start (boot-relative seconds), to know it again
    std::vector<std::string> masked_paths, readonly_paths;  // the runtime's
    bool started = false;
    pid_t init_pid = 0;
    double init_start = 0;          // boot-relative seconds, /proc/PID/stat field 22
    // The init's /proc/PID/cgroup at the start: the container's cgroup, which a restart
    // cannot read from the init again once it moved below it (systemd's init.scope).
    // Empty in a record of a daemon before it: then the init's present cgroup is taken.
    std::string init_cgroup;
    std::string fuse_init;          // the kernel's INIT request, as it came
};

class SavedState {
public:
    static constexpr int version = 1;

    // Creates `dir` (0700). Throws std::filesystem::filesystem_error.
    explicit SavedState(std::filesystem::path dir);

    // Each throws std::runtime_error when the file cannot be written.
    void save(const SavedContainer& container) const;
    void save_values(const std::string& id, const std::map<std::string, std::string>& values) const;
    // Its files, its pending calls' included.
    void erase(const std::string& id) const;
    std::filesystem::path nodes_file(const std::string& id) const;
    // Trapped calls taken and not answered (seccomp/pending.hpp), of every container.
    std::filesystem::path pending_dir() const { return dir_ / "pending"; }

    // The container's load average (ID.load.json), after each fold; none if it has no
    // file or a bad one (logged).
    void save_load(const std::string& id, const emulation::LoadAverage::Saved& load) const;
    std::optional<emulation::LoadAverage::Saved> load_load(const std::string& id) const;

    // The mounts it made through the trapper (ID.mounts.json), after each change; none if
    // it has no file. Throws std::runtime_error on a corrupt one.
    void save_mounts(const std::string& id, const OwnMountTable& mounts) const;
    OwnMountTable load_mounts(const std::string& id) const;

    // A record per container found; a file that cannot be read or parsed is an error
    // naming it (the record is left for the operator).
    struct Loaded {
        std::vector<SavedContainer> containers;
        std::vector<std::string> errors;
    };
    Loaded load_all() const;
    // The temporary files of writes an earlier daemon did not finish (it was killed
    // between writing and renaming, sys::replace_file). Only with the state's lock held.
    void remove_unfinished_writes() const;
    // The container's values; none if it has no file. Throws std::runtime_error on a
    // corrupt one.
    std::map<std::string, std::string> load_values(const std::string& id) const;

private:
    std::filesystem::path record_file(const std::string& id) const;
    std::filesystem::path values_file(const std::string& id) const;
    std::filesystem::path load_file(const std::string& id) const;
    std::filesystem::path mounts_file(const std::string& id) const;

    std::filesystem::path dir_;
};

// Boot-relative start of `pid` in seconds (Host::process_start_seconds), or nothing if
// it is gone: with the pid it names one process for the life of the boot.
std::optional<double> process_start(pid_t pid);

}  // namespace ecifs::daemon
