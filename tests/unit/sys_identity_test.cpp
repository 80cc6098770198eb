// Per-container identities: DMI product_uuid and kernel.random.boot_id are stable for a
// container and differ between containers; kernel.random.uuid differs on every read.
#include <gtest/gtest.h>

#include <regex>
#include <set>

#include "emulation/container.hpp"
#include "handlers/families.hpp"
#include "handlers/format.hpp"

namespace ecifs::handlers {
namespace {

const std::regex uuid_line("[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}\n");

std::string product_uuid(const emulation::Container& c) {
    std::string out;
    EXPECT_EQ(show_product_uuid(Context{c, 0}, out), 0);
    return out;
}

TEST(SysIdentity, ProductUuidIsStablePerContainerAndUniqueAcrossThem) {
    emulation::Container a("a", 0, 0), b("b", 0, 0);
    std::string first = product_uuid(a);
    EXPECT_TRUE(std::regex_match(first, uuid_line)) << first;
    EXPECT_EQ(product_uuid(a), first);
    EXPECT_NE(product_uuid(b), first);
}

TEST(SysIdentity, RandomUuidsAreVersion4AndDistinct) {
    std::set<std::string> seen;
    for (int i = 0; i < 100; ++i) {
        std::string u = random_uuid();
        EXPECT_TRUE(std::regex_match(u, uuid_line)) << u;
        seen.insert(u);
    }
    EXPECT_EQ(seen.size(), 100u);
}

TEST(SysIdentity, BootIdIsStablePerContainerAndUniqueAcrossThem) {
    emulation::Container a("a", 0, 0), b("b", 0, 0);
    std::string a1, a2, b1;
    ASSERT_EQ(proc_sys().read(Context{a, 0}, "kernel/random/boot_id", a1), 0);
    ASSERT_EQ(proc_sys().read(Context{a, 0}, "kernel/random/boot_id", a2), 0);
    ASSERT_EQ(proc_sys().read(Context{b, 0}, "kernel/random/boot_id", b1), 0);
    EXPECT_TRUE(std::regex_match(a1, uuid_line)) << a1;
    EXPECT_EQ(a1, a2);
    EXPECT_NE(a1, b1);
}

}  // namespace
}  // namespace ecifs::handlers
