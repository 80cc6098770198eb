// /proc/meminfo: the pure rendering over fixture cgroups, the formatting helpers and the
// generator end to end. Expected lines are written out by hand from the fixtures.
#include <gtest/gtest.h>

#include <cerrno>

#include "emulation/container.hpp"
#include "read_view.hpp"
#include "handlers/families.hpp"
#include "handlers/format.hpp"
#include "handlers/memory.hpp"
#include "fixture_trees.hpp"

namespace fs = std::filesystem;
using namespace ecifs::cgroup;
using namespace ecifs::emulation;
using namespace ecifs::test_fixtures;
using namespace ecifs::handlers;

namespace {

std::string host_meminfo() { return fixture_host.read_proc("meminfo"); }

Cgroup v1(const std::string& memory) {
    CgroupPaths paths;
    paths.memory = v1_dir("memory", memory);
    return Cgroup(paths);
}

Cgroup v2(const std::string& relative) {
    CgroupPaths paths;
    paths.memory = v2_dir(relative);
    return Cgroup(paths);
}

std::string render(const Cgroup& cgroup) { return render_meminfo(host_meminfo(), read_cgroup_memory(cgroup)); }

// The whole line of `text` whose key is `key`, with its newline.
std::string line(const std::string& text, std::string_view key) {
    const auto at = text.find(std::string(key) + ":");
    EXPECT_TRUE(at == 0 || (at != std::string::npos && text[at - 1] == '\n')) << key;
    if (at == std::string::npos) return {};
    return text.substr(at, text.find('\n', at) - at + 1);
}

// The lines the views leave as the host has them.
constexpr std::string_view host_tail =
    "KernelStack:        1636 kB\n"
    "PageTables:         3052 kB\n"
    "SecPageTables:         0 kB\n"
    "NFS_Unstable:          0 kB\n"
    "Bounce:                0 kB\n"
    "WritebackTmp:          0 kB\n"
    "CommitLimit:    12341808 kB\n"
    "Committed_AS:     468848 kB\n"
    "VmallocTotal:   34359738367 kB\n"
    "VmallocUsed:       14444 kB\n"
    "VmallocChunk:          0 kB\n"
    "Percpu:              712 kB\n"
    "AnonHugePages:         0 kB\n"
    "ShmemHugePages:        0 kB\n"
    "ShmemPmdMapped:        0 kB\n"
    "FileHugePages:      6144 kB\n"
    "FilePmdMapped:         0 kB\n"
    "Balloon:               0 kB\n"
    "HugePages_Total:       0\n"
    "HugePages_Free:        0\n"
    "HugePages_Rsvd:        0\n"
    "HugePages_Surp:        0\n"
    "Hugepagesize:       2048 kB\n"
    "Hugetlb:               0 kB\n"
    "DirectMap4k:       30720 kB\n"
    "DirectMap2M:    25135104 kB\n";

}  // namespace

// ---- helpers ---------------------------------------------------------------------

TEST(Format, PutKbPadsLikeShowValKb) {
    std::string out;
    put_kb(out, "MemTotal:", 24683620ull * 1024);
    put_kb(out, "Buffers:", 0);
    put_kb(out, "VmallocTotal:", 34359738367ull * 1024);
    put_kb(out, "Dirty:", 1023);  // whole kB, truncated
    EXPECT_EQ(out,
              "MemTotal:       24683620 kB\n"
              "Buffers:               0 kB\n"
              "VmallocTotal:   34359738367 kB\n"
              "Dirty:                 0 kB\n");
}

TEST(Format, RewriteKeepsUnknownLinesAndDoesNotAddMissingOnes) {
    const std::string host = "MemTotal:       1000 kB\nNewField:         7 kB\nHugePages_Total:       0\n";
    const KbField fields[] = {{"MemTotal", 2048}, {"NotOnThisKernel", 1024}};
    std::string out;
    rewrite_kb_fields(out, host, fields);
    EXPECT_EQ(out, "MemTotal:              2 kB\nNewField:         7 kB\nHugePages_Total:       0\n");
}

TEST(Format, KbFieldBytes) {
    EXPECT_EQ(kb_field_bytes(host_meminfo(), "MemTotal"), 24683620ull * 1024);
    EXPECT_EQ(kb_field_bytes(host_meminfo(), "SwapFree"), 1835004ull * 1024);
    EXPECT_EQ(kb_field_bytes(host_meminfo(), "Mem"), std::nullopt);
    EXPECT_EQ(kb_field_bytes(host_meminfo(), "HugePages_Total"), std::nullopt);  // no " kB"
}

TEST(Format, SaturatingSub) {
    EXPECT_EQ(saturating_sub(5, 3), 2u);
    EXPECT_EQ(saturating_sub(3, 5), 0u);
}

// ---- render_meminfo --------------------------------------------------------------

TEST(Meminfo, V2LimitedWholeFile) {
    // limit 512 MiB, usage 200 MiB, swap 256 MiB max / 10 MiB used.
    const std::string expected = std::string(
        "MemTotal:         524288 kB\n"
        "MemFree:          319488 kB\n"
        "MemAvailable:     397312 kB\n"
        "Buffers:               0 kB\n"
        "Cached:            81920 kB\n"
        "SwapCached:            0 kB\n"
        "Active:            71680 kB\n"
        "Inactive:         112640 kB\n"
        "Active(anon):      34816 kB\n"
        "Inactive(anon):    71680 kB\n"
        "Active(file):      36864 kB\n"
        "Inactive(file):    40960 kB\n"
        "Unevictable:           8 kB\n"
        "Mlocked:           10788 kB\n"
        "SwapTotal:        262144 kB\n"
        "SwapFree:         251904 kB\n"
        "Zswap:                 0 kB\n"
        "Zswapped:              0 kB\n"
        "Dirty:              1024 kB\n"
        "Writeback:             4 kB\n"
        "AnonPages:        102400 kB\n"
        "Mapped:            16384 kB\n"
        "Shmem:              4096 kB\n"
        "KReclaimable:       5120 kB\n"
        "Slab:               7168 kB\n"
        "SReclaimable:       5120 kB\n"
        "SUnreclaim:         2048 kB\n") + std::string(host_tail);
    EXPECT_EQ(render(v2("/system.slice/docker-limited.scope")), expected);
}

TEST(Meminfo, V1LimitedWholeFileUsesHierarchicalTotals) {
    // limit 512 MiB, usage 200 MiB, memsw 1 GiB / 210 MiB used.
    const std::string expected = std::string(
        "MemTotal:         524288 kB\n"
        "MemFree:          319488 kB\n"
        "MemAvailable:     407552 kB\n"
        "Buffers:               0 kB\n"
        "Cached:            92160 kB\n"
        "SwapCached:            0 kB\n"
        "Active:            75776 kB\n"
        "Inactive:         118784 kB\n"
        "Active(anon):      34816 kB\n"
        "Inactive(anon):    71680 kB\n"
        "Active(file):      40960 kB\n"
        "Inactive(file):    47104 kB\n"
        "Unevictable:           8 kB\n"
        "Mlocked:           10788 kB\n"
        "SwapTotal:        524288 kB\n"
        "SwapFree:         514048 kB\n"
        "Zswap:                 0 kB\n"
        "Zswapped:              0 kB\n"
        "Dirty:              1024 kB\n"
        "Writeback:             8 kB\n"
        "AnonPages:        102400 kB\n"
        "Mapped:            16384 kB\n"
        "Shmem:              4096 kB\n"
        "KReclaimable:          0 kB\n"
        "Slab:                  0 kB\n"
        "SReclaimable:          0 kB\n"
        "SUnreclaim:            0 kB\n") + std::string(host_tail);
    EXPECT_EQ(render(v1("/docker/limited")), expected);
}

TEST(Meminfo, NoLimitShowsTheHostTotalLessTheCgroupUsage) {
    for (const auto& out : {render(v1("/docker/nolimit")), render(v2("/system.slice/docker-nolimit.scope"))}) {
        EXPECT_EQ(line(out, "MemTotal"), "MemTotal:       24683620 kB\n");
        EXPECT_EQ(line(out, "MemFree"), "MemFree:        24581220 kB\n");  // - 100 MiB
        EXPECT_EQ(line(out, "MemAvailable"), "MemAvailable:   24622180 kB\n");  // + 40 MiB of file LRU
        EXPECT_EQ(line(out, "SwapTotal"), "SwapTotal:       2097148 kB\n");
        EXPECT_EQ(line(out, "SwapFree"), "SwapFree:        2097148 kB\n");  // the cgroup uses none
    }
}

TEST(Meminfo, LimitAboveTheHostKeepsTheHostTotal) {
    for (const auto& out : {render(v1("/docker/big")), render(v2("/system.slice/docker-big.scope"))}) {
        EXPECT_EQ(line(out, "MemTotal"), "MemTotal:       24683620 kB\n");
        EXPECT_EQ(line(out, "MemFree"), "MemFree:        24376420 kB\n");  // - 300 MiB
    }
    // v1: memsw 65 GiB - memory 64 GiB = 1 GiB of swap, below the host's 2 GiB.
    EXPECT_EQ(line(render(v1("/docker/big")), "SwapTotal"), "SwapTotal:       1048576 kB\n");
}

TEST(Meminfo, AncestorTighterThanTheLeaf) {
    for (const auto& out : {render(v1("/tight/child")), render(v2("/tight.slice/child.scope"))}) {
        EXPECT_EQ(line(out, "MemTotal"), "MemTotal:         262144 kB\n");
        EXPECT_EQ(line(out, "MemFree"), "MemFree:          159744 kB\n");
    }
}

TEST(Meminfo, SwapNotAccountedShowsTheHostsFreeSwap) {
    const auto out = render(v1("/tight/child"));  // no memory.memsw.* files
    EXPECT_EQ(line(out, "SwapTotal"), "SwapTotal:       2097148 kB\n");
    EXPECT_EQ(line(out, "SwapFree"), "SwapFree:        1835004 kB\n");
}

TEST(Meminfo, UsageAboveTheLimitSaturates) {
    for (const auto& out : {render(v1("/docker/over")), render(v2("/system.slice/docker-over.scope"))}) {
        EXPECT_EQ(line(out, "MemTotal"), "MemTotal:         262144 kB\n");
        EXPECT_EQ(line(out, "MemFree"), "MemFree:               0 kB\n");
        EXPECT_EQ(line(out, "MemAvailable"), "MemAvailable:     102400 kB\n");
        EXPECT_EQ(line(out, "Cached"), "Cached:           102400 kB\n");
        EXPECT_EQ(line(out, "SwapTotal"), "SwapTotal:             0 kB\n");
        EXPECT_EQ(line(out, "SwapFree"), "SwapFree:              0 kB\n");
    }
}

TEST(Meminfo, AvailableNeverExceedsTotal) {
    CgroupMemory m;
    m.limit = 100 * 1024;
    m.usage = 10 * 1024;
    m.stat.active_file = 80 * 1024;
    m.stat.inactive_file = 80 * 1024;
    m.stat.file = 160 * 1024;
    const auto out = render_meminfo(host_meminfo(), m);
    EXPECT_EQ(line(out, "MemAvailable"), "MemAvailable:        100 kB\n");
    EXPECT_EQ(line(out, "Cached"), "Cached:               10 kB\n");  // at most what is in use
}

TEST(Meminfo, MissingCgroupFilesFailInsteadOfShowingTheHost) {
    EXPECT_THROW(read_cgroup_memory(v1("/gone")), std::runtime_error);
    EXPECT_THROW(read_cgroup_memory(Cgroup{}), std::runtime_error);
    EXPECT_THROW(render_meminfo("Buffers: 0 kB\n", CgroupMemory{}), std::runtime_error);  // no MemTotal
}

// ---- the generator ---------------------------------------------------------------

TEST(ShowMeminfo, EioBeforeTheContainerStarts) {
    Container container("c1", 0, 0, fixture_host);
    std::string out;
    EXPECT_EQ(read_view("proc/meminfo", {container}, out), EIO);
}

TEST(ShowMeminfo, EioWhenTheCgroupIsGone) {
    Container container("c1", 0, 0, fixture_host);
    container.set_init({42, 0, v2("/gone.scope")});
    std::string out;
    EXPECT_EQ(read_view("proc/meminfo", {container}, out), EIO);
}

TEST(ShowMeminfo, RendersTheContainersView) {
    Container container("c1", 0, 0, fixture_host);
    container.set_init({42, 0, v2("/system.slice/docker-limited.scope")});
    std::string out;
    ASSERT_EQ(read_view("proc/meminfo", {container}, out), 0);
    EXPECT_EQ(out, render(v2("/system.slice/docker-limited.scope")));
    EXPECT_EQ(line(out, "MemTotal"), "MemTotal:         524288 kB\n");
}

TEST(HostReadProc, ReadsProcfsFilesToTheEnd) {
    const auto meminfo = real_host().read_proc("meminfo");  // st_size is 0 on procfs
    EXPECT_EQ(meminfo.rfind("MemTotal:", 0), 0u);
    EXPECT_EQ(meminfo.back(), '\n');
    EXPECT_GT(meminfo.size(), 1000u);
    EXPECT_THROW(fixture_host.read_proc("no-such-file"), std::system_error);
}
