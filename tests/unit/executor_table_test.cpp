// ns/executor_table.hpp: the bounded, least-recently-used table of a container's
// namespace executors, with fake executors that count how many are alive.
#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <memory>
#include <stdexcept>
#include <thread>

#include "ns/executor_table.hpp"

namespace {

std::atomic<int> live{0};

struct FakeExecutor {
    explicit FakeExecutor(int key) : key(key) { ++live; }
    ~FakeExecutor() { --live; }
    bool alive() const { return !dead; }
    const int key;
    std::atomic<bool> dead = false;
};

using Table = ecifs::ns::ExecutorTable<int, FakeExecutor>;

struct ExecutorTableTest : testing::Test {
    void SetUp() override { live = 0; }
    // A start that counts its calls.
    Table::Start start(int key) {
        return [this, key] {
            ++starts;
            return std::make_shared<FakeExecutor>(key);
        };
    }
    int starts = 0;
};

TEST_F(ExecutorTableTest, AFloodOfKeysKeepsAtMostTheCapAlive) {
    Table table(32);
    for (int key = 0; key < 3000; ++key) {
        table.get(key, start(key));
        ASSERT_LE(live.load(), 32);
    }
    EXPECT_EQ(starts, 3000);
    EXPECT_EQ(table.size(), 32u);
    table.clear();
    EXPECT_EQ(live.load(), 0);
}

TEST_F(ExecutorTableTest, ALiveKeyIsServedWithoutAStart) {
    Table table(4);
    auto first = table.get(1, start(1));
    EXPECT_EQ(table.get(1, start(1)), first);
    EXPECT_EQ(starts, 1);
}

TEST_F(ExecutorTableTest, TheLeastRecentlyUsedGoesFirst) {
    Table table(3);
    std::weak_ptr<FakeExecutor> one = table.get(1, start(1)), two = table.get(2, start(2));
    table.get(3, start(3));
    table.get(1, start(1));  // 2 is now the least recently used
    table.get(4, start(4));
    EXPECT_TRUE(two.expired());
    EXPECT_FALSE(one.expired());
    EXPECT_EQ(live.load(), 3);
    EXPECT_EQ(starts, 4);
}

TEST_F(ExecutorTableTest, AnEvictedExecutorInUseLivesUntilItsUserDropsIt) {
    Table table(1);
    auto in_flight = table.get(1, start(1));
    table.get(2, start(2));
    EXPECT_EQ(live.load(), 2);  // evicted, but a request still holds it
    EXPECT_EQ(in_flight->key, 1);
    in_flight.reset();
    EXPECT_EQ(live.load(), 1);
}

TEST_F(ExecutorTableTest, ADeadExecutorIsReplaced) {
    Table table(4);
    auto first = table.get(1, start(1));
    first->dead = true;
    auto second = table.get(1, start(1));
    EXPECT_NE(second, first);
    EXPECT_TRUE(second->alive());
    EXPECT_EQ(starts, 2);
}

TEST_F(ExecutorTableTest, AFailedStartReachesItsAskerAndIsRetried) {
    Table table(4);
    EXPECT_THROW(table.get(1, [] () -> std::shared_ptr<FakeExecutor> { throw std::runtime_error("no"); }),
                 std::runtime_error);
    EXPECT_EQ(table.size(), 0u);
    EXPECT_TRUE(table.get(1, start(1))->alive());
}

// A start that hangs stalls only its own key: another key is served meanwhile, and a
// second asker of the same key shares that one start.
TEST_F(ExecutorTableTest, AStartInProgressStallsOnlyItsOwnKey) {
    Table table(4);
    std::promise<void> release;
    std::shared_future<void> released = release.get_future().share();
    std::promise<void> entered;
    std::atomic<int> slow_starts{0};
    auto slow = [&] {
        ++slow_starts;
        entered.set_value();
        released.wait();
        return std::make_shared<FakeExecutor>(1);
    };
    auto first = std::async(std::launch::async, [&] { return table.get(1, slow); });
    entered.get_future().wait();
    EXPECT_EQ(table.get(2, start(2))->key, 2);  // not behind key 1's start
    auto second = std::async(std::launch::async, [&] { return table.get(1, slow); });
    release.set_value();
    EXPECT_EQ(first.get(), second.get());
    EXPECT_EQ(slow_starts.load(), 1);
}

TEST_F(ExecutorTableTest, IdleExecutorsAreDropped) {
    Table table(4);
    table.get(1, start(1));
    table.drop_idle(std::chrono::hours(1));
    EXPECT_EQ(live.load(), 1);
    table.drop_idle(std::chrono::nanoseconds(-1));
    EXPECT_EQ(live.load(), 0);
    EXPECT_EQ(table.size(), 0u);
}

}  // namespace
