// A cgroup's I/O per device: v2 io.stat and v1 blkio.throttle.* parsed into IoStat.
#include <string_view>
#include <utility>

#include "cgroup/readers.hpp"
#include "sys/text.hpp"

namespace ecifs::cgroup::detail {

using sys::for_each_line;
using sys::split_fields;
using sys::split_on;
using sys::whole_number;

namespace fs = std::filesystem;

namespace {

// "8:0" as major and minor; nullopt for anything else (v1's closing "Total" line).
std::optional<std::pair<unsigned, unsigned>> device_of(std::string_view field) {
    const auto parts = split_on(field, ':');
    if (parts.size() != 2) return std::nullopt;
    const auto major = whole_number<unsigned>(parts[0]);
    const auto minor = whole_number<unsigned>(parts[1]);
    if (!major || !minor) return std::nullopt;
    return std::pair{*major, *minor};
}

IoStat& device_entry(std::vector<IoStat>& stats, std::pair<unsigned, unsigned> device) {
    for (auto& s : stats)
        if (s.major == device.first && s.minor == device.second) return s;
    return stats.emplace_back(IoStat{.major = device.first, .minor = device.second});
}

// v2 io.stat: "8:0 rbytes=1 wbytes=2 rios=3 wios=4 dbytes=5 dios=6 [more keys]".
void parse_io_stat(std::string_view text, std::vector<IoStat>& stats) {
    static constexpr std::pair<std::string_view, uint64_t IoStat::*> keys[] = {
        {"rbytes", &IoStat::rbytes}, {"wbytes", &IoStat::wbytes}, {"dbytes", &IoStat::dbytes},
        {"rios", &IoStat::rios},     {"wios", &IoStat::wios},     {"dios", &IoStat::dios},
    };
    for_each_line(text, [&](std::string_view line) {
        const auto fields = split_fields(line);
        const auto device = fields.empty() ? std::nullopt : device_of(fields[0]);
        if (!device) return;
        auto& entry = device_entry(stats, *device);
        for (const auto field : fields) {  // key=value; the value is what follows the first '='
            const auto eq = field.find('=');
            if (eq == std::string_view::npos) continue;
            for (const auto& [key, member] : keys)
                if (field.substr(0, eq) == key) entry.*member = whole_number<uint64_t>(field.substr(eq + 1)).value_or(0);
        }
    });
}

// v1 blkio.throttle.*: "8:0 Read 4096" lines (Write, Discard, Sync, Async, Total too).
void parse_blkio(std::string_view text, std::vector<IoStat>& stats, uint64_t IoStat::*read,
                 uint64_t IoStat::*write, uint64_t IoStat::*discard) {
    for_each_line(text, [&](std::string_view line) {
        const auto fields = split_fields(line);
        const auto device = fields.size() == 3 ? device_of(fields[0]) : std::nullopt;
        if (!device) return;
        const auto member = fields[1] == "Read" ? read : fields[1] == "Write" ? write : fields[1] == "Discard" ? discard : nullptr;
        if (member) device_entry(stats, *device).*member = whole_number<uint64_t>(fields[2]).value_or(0);
    });
}

// A v1 blkio file, its hierarchical form first.
std::optional<std::string> read_blkio(const fs::path& dir, const std::string& name, const Reader& read) {
    if (auto text = read(dir / (name + "_recursive"))) return text;
    return read(dir / name);
}

}  // namespace

std::optional<std::vector<IoStat>> read_io_stats(const CgroupDir& cgroup_dir, const Reader& read) {
    const auto dir = cgroup_dir.dir();
    std::vector<IoStat> stats;
    if (cgroup_dir.version == CgroupVersion::v2) {
        const auto text = read(dir / "io.stat");
        if (!text) return std::nullopt;
        parse_io_stat(*text, stats);
        return stats;
    }
    const auto bytes = read_blkio(dir, "blkio.throttle.io_service_bytes", read);
    const auto ios = read_blkio(dir, "blkio.throttle.io_serviced", read);
    if (!bytes || !ios) return std::nullopt;
    parse_blkio(*bytes, stats, &IoStat::rbytes, &IoStat::wbytes, &IoStat::dbytes);
    parse_blkio(*ios, stats, &IoStat::rios, &IoStat::wios, &IoStat::dios);
    return stats;
}

}  // namespace ecifs::cgroup::detail
