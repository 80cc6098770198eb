// The per-container store of emulated sysctl values.
#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "sysctl/store.hpp"

using namespace ecifs::sysctl;

TEST(SysctlStore, UnsetPathsHaveNoValue) {
    Store store;
    EXPECT_EQ(store.get("kernel/panic"), std::nullopt);
    EXPECT_TRUE(store.snapshot().empty());
}

TEST(SysctlStore, KeepsTheLastValueOfEachPath) {
    Store store;
    store.set("kernel/panic", "7\n");
    store.set("vm/swappiness", "10\n");
    store.set("kernel/panic", "9\n");
    EXPECT_EQ(store.get("kernel/panic"), "9\n");
    const std::map<std::string, std::string> expected = {{"kernel/panic", "9\n"}, {"vm/swappiness", "10\n"}};
    EXPECT_EQ(store.snapshot(), expected);
}

TEST(SysctlStore, StoresAreIndependent) {
    Store a, b;
    a.set("kernel/panic", "7\n");
    EXPECT_EQ(b.get("kernel/panic"), std::nullopt);
}

TEST(SysctlStore, IsSafeFromManyThreads) {
    Store store;
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t)
        threads.emplace_back([&store, t] {
            for (int i = 0; i < 1000; ++i) {
                store.set("path/" + std::to_string(t), std::to_string(i) + "\n");
                (void)store.get("path/" + std::to_string((t + 1) % 8));
                if (i % 100 == 0) (void)store.snapshot();
            }
        });
    for (auto& thread : threads) thread.join();
    const auto snapshot = store.snapshot();
    ASSERT_EQ(snapshot.size(), 8u);
    for (const auto& [path, value] : snapshot) EXPECT_EQ(value, "999\n") << path;
}
