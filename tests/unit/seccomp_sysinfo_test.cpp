#include "seccomp/sysinfo.hpp"

#include <sys/sysinfo.h>

#include <gtest/gtest.h>

#include <cstring>
#include <stdexcept>

namespace {

using namespace ecifs::seccomp;

// A container's memory figures (256 MiB limit, some page cache).
const ecifs::handlers::MemoryFigures meminfo{.total = 262144u * 1024,
                                             .free = 250000u * 1024,
                                             .available = 255000u * 1024,
                                             .cached = 5000u * 1024,
                                             .swap_total = 131072u * 1024,
                                             .swap_free = 131000u * 1024,
                                             .shmem = 128u * 1024};

template <typename T>
T at(const std::vector<std::byte>& bytes, std::size_t offset) {
    T value;
    std::memcpy(&value, bytes.data() + offset, sizeof value);
    return value;
}

TEST(SeccompSysinfo, FiguresFromTheContainersMemory) {
    SysinfoFigures f = sysinfo_figures(meminfo, 12.34, {65536, 32768, 0}, 7);
    EXPECT_EQ(f.totalram, 268435456u);
    EXPECT_EQ(f.freeram, 250000u * 1024);
    EXPECT_EQ(f.sharedram, 128u * 1024);
    EXPECT_EQ(f.bufferram, 0u);
    EXPECT_EQ(f.totalswap, 131072u * 1024);
    EXPECT_EQ(f.freeswap, 131000u * 1024);
    EXPECT_EQ(f.uptime, 13);  // rounded up, as the kernel does
    EXPECT_EQ(f.loads[0], 65536u);
    EXPECT_EQ(f.procs, 7u);
    EXPECT_EQ(sysinfo_figures(meminfo, -3, {}, 0).uptime, 0);  // never negative
    EXPECT_EQ(sysinfo_figures(meminfo, 5.0, {}, 0).uptime, 5);
}

TEST(SeccompSysinfo, NativeStructIsTheKernels) {
    SysinfoFigures f = sysinfo_figures(meminfo, 100, {1, 2, 3}, 70000);
    const auto bytes = encode_native(f);
    ASSERT_EQ(bytes.size(), sizeof(struct sysinfo));
    struct sysinfo s;
    std::memcpy(&s, bytes.data(), sizeof s);
    EXPECT_EQ(s.uptime, 100);
    EXPECT_EQ(s.loads[2], 3u);
    EXPECT_EQ(s.totalram * s.mem_unit, 268435456u);
    EXPECT_EQ(s.mem_unit, 1u);
    EXPECT_EQ(s.freeswap, 131000u * 1024);
    EXPECT_EQ(s.procs, 65535u);  // a u16, saturated
    EXPECT_EQ(s.totalhigh, 0u);
    EXPECT_EQ(s.freehigh, 0u);
}

TEST(SeccompSysinfo, CompatStructFor32BitCallers) {
    SysinfoFigures f = sysinfo_figures(meminfo, 100, {1, 2, 3}, 9);
    auto bytes = encode_compat(f);
    ASSERT_EQ(bytes.size(), 64u);
    EXPECT_EQ(at<int32_t>(bytes, 0), 100);
    EXPECT_EQ(at<uint32_t>(bytes, 12), 3u);
    EXPECT_EQ(at<uint32_t>(bytes, 16), 268435456u);  // totalram
    EXPECT_EQ(at<uint32_t>(bytes, 36), 131000u * 1024);  // freeswap
    EXPECT_EQ(at<uint16_t>(bytes, 40), 9u);
    EXPECT_EQ(at<uint32_t>(bytes, 52), 1u);  // mem_unit

    // 64 GiB does not fit 32 bits: mem_unit becomes the page size (compat_sys_sysinfo).
    f.totalram = 64ull << 30;
    f.freeram = 1ull << 30;
    bytes = encode_compat(f);
    EXPECT_EQ(at<uint32_t>(bytes, 52), 4096u);
    EXPECT_EQ(static_cast<uint64_t>(at<uint32_t>(bytes, 16)) * 4096, 64ull << 30);
    EXPECT_EQ(static_cast<uint64_t>(at<uint32_t>(bytes, 20)) * 4096, 1ull << 30);
}

TEST(SeccompSysinfo, ANotStartedContainerHasNoFigures) {
    ecifs::emulation::Container container("c1", 0, 0);
    EXPECT_THROW(container_sysinfo(container), std::runtime_error);
}

}  // namespace
