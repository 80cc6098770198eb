#pragma once
// Internal to cgroup/: how the Cgroup class reads a file, and the readers of the cgroup
// file formats that have a source file of their own. Not for the other layers.
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "cgroup/cgroup.hpp"
#include "sys/files.hpp"

namespace ecifs::cgroup::detail {

// How a file is read: the plain way (read_plain) or through the cgroup's kept
// descriptors (Cgroup::own_reader). nullopt when the file does not exist.
using Reader = std::function<std::optional<std::string>(const std::filesystem::path&)>;

inline std::optional<std::string> read_plain(const std::filesystem::path& file) {
    return sys::read_file_if_exists(file);
}

// io_stat.cpp: the I/O per device of the cgroup in `cgroup_dir` (v2 io.stat; v1
// blkio.throttle.io_service_bytes and io_serviced, their _recursive forms first), each
// file read with `read`. nullopt when the files are missing.
std::optional<std::vector<IoStat>> read_io_stats(const CgroupDir& cgroup_dir, const Reader& read);

}  // namespace ecifs::cgroup::detail
