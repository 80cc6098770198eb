// Trapped calls kept in memory the fd holder holds (seccomp/call_ring.hpp): what one
// daemon kept, the next finds by mapping the same memory.
#include "seccomp/call_ring.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <stdexcept>

#include <gtest/gtest.h>

#include "seccomp/pending.hpp"
#include "temp_dir.hpp"

namespace ecifs::seccomp {
namespace {

Notification call(uint64_t id) {
    return Notification{.id = id, .pid = 4300, .arch = 0xc000003e, .nr = 99, .args = {1, 2, 3, 4, 5, 6}};
}

TEST(CallRing, WhatOneDaemonKeptTheNextFinds) {
    const sys::Fd memory = CallRing::create();
    {
        CallRing first(memory.get());
        first.keep(call(7));
        first.keep(call(8));
        first.keep(call(7));  // once
        first.release(8);
    }  // the first daemon is gone; the holder still has the memory
    CallRing next(memory.get());
    const auto held = next.held();
    ASSERT_EQ(held.size(), 1u);
    EXPECT_EQ(held[0].id, 7u);
    EXPECT_EQ(held[0].pid, 4300);
    EXPECT_EQ(held[0].arch, 0xc000003eu);
    EXPECT_EQ(held[0].nr, 99);
    EXPECT_EQ(held[0].args[5], 6u);
}

TEST(CallRing, AFullRingKeepsNoMoreAndFreesASlotOnRelease) {
    const sys::Fd memory = CallRing::create();
    CallRing ring(memory.get());
    for (uint64_t id = 1; id <= CallRing::slots + 3; ++id) ring.keep(call(id));
    EXPECT_EQ(ring.held().size(), CallRing::slots);
    ring.release(1);
    ring.keep(call(1000));
    EXPECT_EQ(ring.held().size(), CallRing::slots);
}

TEST(CallRing, MemoryOfAnotherSizeIsRefused) {
    sys::Fd other(::memfd_create("other", MFD_CLOEXEC));
    ASSERT_TRUE(other);
    ASSERT_EQ(::ftruncate(other.get(), 4096), 0);
    EXPECT_THROW(CallRing ring(other.get()), std::invalid_argument);
}

TEST(PendingCalls, ARingAndFilesAreTakenOverTogetherOnce) {
    const auto dir = testing_support::unique_temp_dir("pending");
    const sys::Fd memory = CallRing::create();
    auto ring = std::make_shared<CallRing>(memory.get());
    const PendingCalls fd0(dir, "seccomp:web-1:0", ring);
    fd0.taken(call(31));                 // in the ring, no file
    EXPECT_TRUE(std::filesystem::is_empty(dir));
    ring->keep(call(32));
    ASSERT_TRUE(fd0.unmounting(call(32), 4026532001, 77));  // and a file saying more
    auto taken = fd0.take_over();
    ASSERT_EQ(taken.size(), 2u);
    std::sort(taken.begin(), taken.end(), [](auto& a, auto& b) { return a.notification.id < b.notification.id; });
    EXPECT_EQ(taken[0].notification.id, 31u);
    EXPECT_EQ(taken[0].unmounting, 0u);
    EXPECT_EQ(taken[1].notification.id, 32u);
    EXPECT_EQ(taken[1].unmounting, 77u);  // the file's word wins
    fd0.answered(31);
    fd0.answered(32);
    EXPECT_TRUE(ring->held().empty());
}

}  // namespace
}  // namespace ecifs::seccomp
