// /proc/vmstat on fixture trees (4 KiB pages): the host's counters with the memory
// cgroup's where it keeps them.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cerrno>

#include "emulation/container.hpp"
#include "read_view.hpp"
#include "handlers/families.hpp"
#include "handlers/resources.hpp"
#include "fixture_trees.hpp"

namespace fs = std::filesystem;
using namespace ecifs::cgroup;
using namespace ecifs::emulation;
using namespace ecifs::test_fixtures;
using namespace ecifs::handlers;

namespace {

Cgroup v1(const std::string& memory, const std::string& blkio = "") {
    CgroupPaths paths;
    paths.memory = v1_dir("memory", memory);
    if (!blkio.empty()) paths.blkio = v1_dir("blkio", blkio);
    return Cgroup(paths);
}

Cgroup v2(const std::string& memory, const std::string& io = "") {
    CgroupPaths paths;
    paths.memory = v2_dir(memory);
    if (!io.empty()) paths.blkio = v2_dir(io);
    return Cgroup(paths);
}

std::string show(const Cgroup& cgroup) {
    Container container("c1", 0, 0, fixture_host);
    container.set_init({42, 0, cgroup});
    std::string out;
    EXPECT_EQ(read_view("proc/vmstat", {container}, out), 0);
    return out;
}

class Vmstat : public ::testing::Test {
protected:
    void SetUp() override {
        if (sysconf(_SC_PAGESIZE) != 4096) GTEST_SKIP() << "the expected lines assume 4 KiB pages";
    }
};

}  // namespace

TEST_F(Vmstat, V2FromMemoryStatAndIoStat) {
    // docker-limited's memory.stat; docker-res's io.stat: 1 MiB + 4 KiB read, 4 MiB written.
    EXPECT_EQ(show(v2("/system.slice/docker-limited.scope", "/system.slice/docker-res.scope")),
              "nr_free_pages 3001234\n"
              "nr_zone_inactive_anon 17920\n"
              "nr_zone_active_anon 8704\n"
              "nr_zone_inactive_file 10240\n"
              "nr_zone_active_file 9216\n"
              "nr_zone_unevictable 2\n"
              "nr_zone_write_pending 257\n"
              "nr_mlock 900\n"
              "numa_hit 123456789\n"
              "nr_inactive_anon 17920\n"
              "nr_active_anon 8704\n"
              "nr_inactive_file 10240\n"
              "nr_active_file 9216\n"
              "nr_unevictable 2\n"
              "nr_slab_reclaimable 1280\n"
              "nr_slab_unreclaimable 512\n"
              "workingset_nodes 1234\n"
              "workingset_refault_anon 0\n"
              "workingset_refault_file 12\n"
              "workingset_activate_anon 0\n"
              "workingset_activate_file 3\n"
              "workingset_restore_anon 0\n"
              "workingset_restore_file 0\n"
              "workingset_nodereclaim 0\n"
              "nr_anon_pages 25600\n"
              "nr_mapped 4096\n"
              "nr_file_pages 20480\n"
              "nr_dirty 256\n"
              "nr_writeback 1\n"
              "nr_shmem 1024\n"
              "nr_shmem_hugepages 0\n"
              "nr_file_hugepages 0\n"
              "nr_anon_transparent_hugepages 0\n"
              "nr_kernel_stack 1024\n"
              "nr_page_table_pages 512\n"
              "nr_sec_page_table_pages 0\n"
              "nr_swapcached 0\n"
              "nr_dirty_threshold 600000\n"
              "pgpgin 1028\n"
              "pgpgout 4096\n"
              "pswpin 1234\n"
              "pswpout 5678\n"
              "pgalloc_normal 999999999\n"
              "pgfree 888888888\n"
              "pgactivate 2048\n"
              "pgfault 91234\n"
              "pgmajfault 17\n"
              "pgscan_kswapd 0\n"
              "pgscan_direct 0\n"
              "pgsteal_kswapd 0\n"
              "pgsteal_direct 0\n"
              "thp_fault_alloc 0\n"
              "nr_future_counter 42\n");
}

TEST_F(Vmstat, V1FromHierarchicalTotals) {
    const auto out = show(v1("/docker/limited", "/docker/res"));
    const auto has = [&](const std::string& line) { return out.find("\n" + line + "\n") != std::string::npos; };
    EXPECT_TRUE(has("nr_anon_pages 25600"));          // total_rss 100 MiB
    EXPECT_TRUE(has("nr_file_pages 23040"));          // total_cache 90 MiB
    EXPECT_TRUE(has("nr_inactive_file 11776"));       // total_inactive_file
    EXPECT_TRUE(has("nr_zone_write_pending 258"));    // total_dirty 1 MiB + total_writeback 8 KiB
    EXPECT_TRUE(has("pgfault 60664"));                // total_pgfault, not the cgroup's own 30332
    EXPECT_TRUE(has("pgmajfault 26"));
    EXPECT_TRUE(has("workingset_refault_file 730"));  // total_workingset_refault_file
    EXPECT_TRUE(has("pgpgin 1028"));                  // from blkio, not memory.stat's pgpgin
    EXPECT_TRUE(has("nr_slab_reclaimable 50000"));    // v1 has no slab figure: the host's
    EXPECT_TRUE(has("nr_kernel_stack 20000"));
    EXPECT_TRUE(has("pgscan_kswapd 4444"));
}

TEST_F(Vmstat, WithoutIoFiguresPgpginStaysTheHosts) {
    const auto out = show(v2("/system.slice/docker-limited.scope"));
    EXPECT_NE(out.find("\npgpgin 98765432\npgpgout 87654321\n"), std::string::npos);
}

TEST_F(Vmstat, HugePagesAndKernelStackUnits) {
    VmstatFigures f;
    f.memory_stat = {{"anon_thp", 6u << 20}, {"kernel_stack", 65536}, {"anon", 8192}};
    EXPECT_EQ(render_vmstat("nr_anon_transparent_hugepages 99\nnr_kernel_stack 99\nnr_anon_pages 99\nnr_mapped 99\n", f),
              "nr_anon_transparent_hugepages 3\nnr_kernel_stack 64\nnr_anon_pages 2\nnr_mapped 99\n");
}

TEST_F(Vmstat, FailsClosed) {
    Container container("c1", 0, 0, fixture_host);
    std::string out;
    EXPECT_EQ(read_view("proc/vmstat", {container}, out), EIO);
    container.set_init({42, 0, v2("/gone.scope")});
    EXPECT_EQ(read_view("proc/vmstat", {container}, out), EIO);
}
