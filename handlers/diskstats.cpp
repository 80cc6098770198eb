// /proc/diskstats: the container's I/O per device, in the host's layout
// (block/genhd.c's diskstats_show).
//
// Every device of the host keeps its line: a device the container never used shows
// zeros, so tools see one stable device list and a line never appears mid-run. The
// cgroup counts completed requests and bytes per disk; merges, times, in-flight
// requests and flushes it does not count: they are 0, as are partitions' lines.
// cgroup v1 counts a disk's I/O in blkio.throttle.* only while blk-throttle is active on
// it (since Linux 6.10: once any throttle limit was set there); until then its lines
// stay 0 rather than show the host's.
#include <algorithm>
#include <array>
#include <cerrno>
#include <iterator>
#include <optional>
#include <stdexcept>

#include <fmt/format.h>

#include "emulation/container.hpp"
#include "handlers/families.hpp"
#include "handlers/format.hpp"
#include "handlers/resources.hpp"
#include "sys/text.hpp"

namespace ecifs::handlers {

namespace {

// The counters after "major minor name", in the kernel's order (17 since Linux 5.5).
std::array<uint64_t, 17> counters_of(const cgroup::IoStat& io) {
    constexpr uint64_t sector = 512;
    std::array<uint64_t, 17> c{};
    c[0] = io.rios;              // reads completed
    c[2] = io.rbytes / sector;   // sectors read
    c[4] = io.wios;              // writes completed
    c[6] = io.wbytes / sector;   // sectors written
    c[11] = io.dios;             // discards completed
    c[13] = io.dbytes / sector;  // sectors discarded
    return c;
}

}  // namespace

std::string render_diskstats(std::string_view host, const std::vector<cgroup::IoStat>& io) {
    std::string out;
    sys::for_each_line(host, [&](std::string_view line) {
        const auto words = sys::split_fields(line);
        const auto major = words.size() < 4 ? std::nullopt : sys::whole_number<unsigned>(words[0]);
        const auto minor = words.size() < 4 ? std::nullopt : sys::whole_number<unsigned>(words[1]);
        if (!major || !minor)
            throw std::runtime_error(fmt::format("unexpected line in the host's diskstats: '{}'", line));
        const auto it = std::find_if(io.begin(), io.end(), [&](const auto& d) { return d.major == *major && d.minor == *minor; });
        const auto counters = counters_of(it == io.end() ? cgroup::IoStat{} : *it);
        fmt::format_to(std::back_inserter(out), "{:>4} {:>7} {}", *major, *minor, words[2]);
        for (size_t i = 0; i < words.size() - 3; ++i) fmt::format_to(std::back_inserter(out), " {}", i < counters.size() ? counters[i] : 0);
        out += '\n';
    });
    return out;
}

int show_diskstats(const ContainerView& view, std::string& out) {
    const auto io = view.cgroup.io_stats();
    if (!io) throw std::runtime_error("the container's cgroup accounts no I/O");
    out = render_diskstats(view.host.read_proc("diskstats"), *io);
    return 0;
}

}  // namespace ecifs::handlers
