// Host facts from the host's own procfs and sysfs.
#include "emulation/host.hpp"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cstdint>
#include <string_view>
#include <stdexcept>
#include <system_error>
#include <vector>

#include <fmt/format.h>

#include "sys/files.hpp"
#include "sys/text.hpp"

namespace ecifs::emulation {

using cgroup::CpuList;
using cgroup::parse_cpu_list;
using sys::read_file_if_exists;
using sys::read_file;

namespace {

std::string read_existing(const std::filesystem::path& path) {
    auto text = read_file_if_exists(path);
    if (!text) throw std::system_error(ENOENT, std::generic_category(), path.string());
    return std::move(*text);
}

// The number `text` starts with, after blanks ("12345.67 23456.78\n" → 12345.67).
double leading_number(std::string_view text, const std::string& what) {
    text = sys::trim(text);
    double value = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc{} || end == text.data()) throw std::runtime_error(fmt::format("cannot parse {}", what));
    return value;
}

// The files read_proc keeps open: single_open seq_files (see Host::read_proc).
constexpr std::array<std::string_view, 3> kept_proc_files = {"meminfo", "stat", "uptime"};

}  // namespace

std::string Host::read_proc(const std::string& relative) const {
    const bool single_record = std::find(kept_proc_files.begin(), kept_proc_files.end(), relative) != kept_proc_files.end();
    if (!single_record || !kept) return read_existing(proc_root / relative);
    const auto path = (proc_root / relative).string();
    std::string text;
    if (const int err = kept->read(path, text)) throw std::system_error(err, std::generic_category(), path);
    return text;
}

void Host::open_kept_files() const {
    for (const auto file : kept_proc_files) (void)read_proc(std::string(file));
}

double Host::uptime_seconds() const { return leading_number(read_proc("uptime"), (proc_root / "uptime").string()); }

CpuList Host::online_cpus() const {
    return parse_cpu_list(read_existing(sys_root / "devices/system/cpu/online"));
}

double Host::process_start_seconds(pid_t pid) const {
    const auto relative = std::to_string(pid) + "/stat";
    const auto text = read_proc(relative);
    // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so fields are
    // counted from the last ')'. Field 22, starttime, is the 20th after it.
    const auto paren = text.rfind(')');
    const auto fields = paren == std::string::npos ? std::vector<std::string_view>{}
                                                   : sys::split_fields(std::string_view(text).substr(paren + 1));
    const auto starttime = fields.size() > 19 ? fields[19] : std::string_view{};
    const auto what = (proc_root / relative).string() + " starttime";
    return leading_number(starttime, what) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

bool Host::has_capability(pid_t pid, int capability) const {
    std::string status;
    if (capability < 0 || capability >= 64 || read_file((proc_root / std::to_string(pid) / "status").string(), status) != 0)
        return false;
    const auto mask = sys::value_of(status, "CapEff", ':');
    if (!mask) return false;
    uint64_t effective = 0;
    const auto [end, ec] = std::from_chars(mask->data(), mask->data() + mask->size(), effective, 16);
    return ec == std::errc{} && end != mask->data() && (effective >> capability & 1) != 0;
}

const Host& real_host() {
    static const Host host;
    return host;
}

}  // namespace ecifs::emulation
