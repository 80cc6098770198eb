// The container's memory figures are computed once (handlers/memory.hpp): /proc/meminfo,
// /proc/swaps and sysinfo(2) must show the same numbers for the same container.
#include <gtest/gtest.h>

#include <sstream>
#include <string>

#include "emulation/container.hpp"
#include "fixture_trees.hpp"
#include "handlers/format.hpp"
#include "handlers/memory.hpp"
#include "read_view.hpp"
#include "seccomp/sysinfo.hpp"

using namespace ecifs::cgroup;
using namespace ecifs::emulation;
using namespace ecifs::handlers;
using namespace ecifs::test_fixtures;

namespace {

// Size and Used (kB) of the one area a container's /proc/swaps lists.
std::pair<uint64_t, uint64_t> swap_area(const std::string& swaps) {
    std::istringstream lines(swaps);
    std::string header, name, type;
    uint64_t size = 0, used = 0;
    std::getline(lines, header);
    lines >> name >> type >> size >> used;
    return {size, used};
}

void expect_views_agree(const Cgroup& cgroup) {
    Container container("c1", 0, 0, fixture_host);
    container.set_init({42, 0, cgroup});
    std::string meminfo, swaps;
    ASSERT_EQ(read_view("proc/meminfo", {container}, meminfo), 0);
    ASSERT_EQ(read_view("proc/swaps", {container}, swaps), 0);
    const auto sysinfo = ecifs::seccomp::container_sysinfo(container);
    const auto kb = [&](std::string_view key) { return kb_field_bytes(meminfo, key).value_or(~0ull); };

    EXPECT_EQ(sysinfo.totalram, kb("MemTotal"));
    EXPECT_EQ(sysinfo.freeram, kb("MemFree"));
    EXPECT_EQ(sysinfo.sharedram, kb("Shmem"));
    EXPECT_EQ(sysinfo.bufferram, kb("Buffers"));
    EXPECT_EQ(sysinfo.totalswap, kb("SwapTotal"));
    EXPECT_EQ(sysinfo.freeswap, kb("SwapFree"));
    const auto [size, used] = swap_area(swaps);
    EXPECT_EQ(size * 1024, kb("SwapTotal"));
    EXPECT_EQ(used * 1024, kb("SwapTotal") - kb("SwapFree"));
}

}  // namespace

TEST(MemoryFigures, MeminfoSwapsAndSysinfoAgree) {
    CgroupPaths v2;
    v2.memory = v2_dir("/system.slice/docker-limited.scope");
    expect_views_agree(Cgroup(v2));
    CgroupPaths v1;
    v1.memory = v1_dir("memory", "/docker/limited");
    expect_views_agree(Cgroup(v1));
}
